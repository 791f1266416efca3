"""``system <cmd>``: run a shell command on the node's machine (the owner's prompt and scripts only).

The words are given to ``/bin/sh -c`` as they were typed, except that each
variable (``!name``, ``$NAME``) becomes one shell word holding its value
(quoted with :func:`shlex.quote`): a value with spaces, quotes, ``;`` or
``$(...)`` is an argument, never more shell. A command held in a variable
runs only when asked for: ``system sh -c !cmd``.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shlex
import signal
import subprocess
import time

from anynode.errors import AnyNodeError, CommandSyntaxError, QueryCancelled
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.tokens import GROUP, STRING, WORD, Token
from anynode.grammar.types import SECONDS
from anynode.grammar.variables import CASTS
from anynode.results import Message, Result

DEFAULT_TIMEOUT = 5.0  # seconds, as AnyLog's system
MAX_OUTPUT = 16 * 1024 * 1024  # bytes of stdout kept; a command that writes more is stopped
_REF = re.compile(r"(?:!!|!|\$)[A-Za-z_][A-Za-z0-9_]*(?:\[[^\[\]]*\])*")
_WHOLE = re.compile(_REF.pattern + r"(?:\.(?:" + "|".join(CASTS) + r"))?")


def _value(ctx: Context, text: str) -> str:
    tok = ctx.expand([Token(text, WORD, 0, len(text))])[0]
    if tok.missing:
        names = ", ".join(f"'{m}'" for m in tok.missing)
        raise CommandSyntaxError(f"system: variable {names} is not defined (an empty word could change the command)",
                                 hint="set it first (name = value)")
    return tok.text if text.startswith("!!") else shlex.quote(tok.text)


def _word(ctx: Context, tok: Token) -> str:
    """One typed word as shell text: literal parts as typed, each variable one quoted shell word."""
    if tok.kind == STRING:
        return '"' + tok.text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if tok.kind not in (WORD, GROUP) or ("!" not in tok.text and "$" not in tok.text):
        return tok.text
    if _WHOLE.fullmatch(tok.text):
        return _value(ctx, tok.text)
    return _REF.sub(lambda m: _value(ctx, m.group()), tok.text)


def shell_text(ctx: Context, typed: list[Token]) -> str:
    """The shell command of the typed words (spacing kept), variables quoted as single words."""
    out: list[str] = []
    end: int | None = None
    for tok in typed:
        if end is not None:
            out.append(" " * (tok.start - end) if tok.start >= end else " ")
        out.append(_word(ctx, tok))
        end = tok.end
    return "".join(out)


def _split_timeout(typed: list[Token]) -> tuple[float, list[Token]]:
    if len(typed) >= 3 and typed[0].is_word("timeout") and typed[1].is_op("="):
        try:
            return SECONDS.convert(typed[2].text), typed[3:]
        except AnyNodeError:
            raise CommandSyntaxError(f"system: timeout '{typed[2].text}' is not a number of seconds",
                                     hint="write: system timeout = 30 <command>", offset=typed[2].start) from None
    return DEFAULT_TIMEOUT, typed


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the shell and everything it started
    except (ProcessLookupError, PermissionError):
        pass


def run_shell(ctx: Context, line: str, timeout: float) -> tuple[int, bytes, bytes]:
    """Run ``line`` with ``/bin/sh -c``; (exit code, stdout, stderr).

    Raises:
        AnyNodeError: it ran past ``timeout`` or wrote more than MAX_OUTPUT (it is killed).
        QueryCancelled: Ctrl-C, or the node stopping (it is killed).
    """
    proc = subprocess.Popen(["/bin/sh", "-c", line], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, close_fds=True)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = bytearray(), bytearray()
    deadline = time.monotonic() + timeout
    with contextlib.ExitStack() as stack:
        stack.callback(_reap, proc, deadline)  # last: whatever happened, no process is left behind
        stack.callback(proc.stderr.close)
        stack.callback(proc.stdout.close)
        if ctx.cancel is not None:
            stack.enter_context(ctx.cancel.hook(lambda: _stop(proc)))
        sel = stack.enter_context(selectors.DefaultSelector())
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        problem = _drain(ctx, sel, line, timeout, deadline)
        if problem is None and (len(out) > MAX_OUTPUT or len(err) > MAX_OUTPUT):
            problem = AnyNodeError(f"system: '{line}' wrote more than {MAX_OUTPUT // 1024 // 1024} MB and was "
                                   "stopped", hint="send the output to a file: ... > file")
        if problem is not None:
            _stop(proc)
            raise problem
    if proc.returncode < 0 and ((ctx.cancel is not None and ctx.cancel.cancelled) or ctx.node.exit_event.is_set()):
        why = ctx.cancel.reason if ctx.cancel is not None and ctx.cancel.reason else "the node is stopping"
        raise QueryCancelled(f"system: '{line}' cancelled ({why})")  # killed by the hook before a check saw it
    if proc.returncode == -signal.SIGKILL and time.monotonic() >= deadline:
        raise AnyNodeError(f"system: '{line}' ran past its timeout of {timeout:g} s and was stopped",
                           hint="give it more time: system timeout = 60 <command>")
    return proc.returncode, bytes(out), bytes(err)


def _reap(proc: subprocess.Popen[bytes], deadline: float) -> None:
    """Wait for the shell until the deadline, then kill its group and wait again."""
    try:
        proc.wait(timeout=max(deadline - time.monotonic(), 0.0))
    except subprocess.TimeoutExpired:
        _stop(proc)
        proc.wait()


def _drain(ctx: Context, sel: selectors.BaseSelector, line: str, timeout: float,
           deadline: float) -> AnyNodeError | None:
    """Read both pipes until they close; the reason to stop the command early, if there is one."""
    cancel = ctx.cancel
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            return AnyNodeError(f"system: '{line}' ran past its timeout of {timeout:g} s and was stopped",
                                hint="give it more time: system timeout = 60 <command>")
        if (cancel is not None and cancel.cancelled) or ctx.node.exit_event.is_set():
            why = cancel.reason if cancel is not None and cancel.reason else "the node is stopping"
            return QueryCancelled(f"system: '{line}' cancelled ({why})")
        for key, _ in sel.select(min(left, 0.1)):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            key.data.extend(chunk)
            if len(key.data) > MAX_OUTPUT:
                return None
    return None


@command("system", raw=True, syntax="[timeout = <seconds>] <shell command>", keywords=("script",),
         examples=["system ls -l !tmp_dir", "files = system ls !watch_dir | wc -l", "system timeout = 30 df -h",
                   'config_version = system grep -m1 "^version" !local_scripts/setup.cfg | cut -d= -f2'])
def system(ctx: Context, tokens: list[Token]) -> Result:
    """Run a shell command on the node's machine; its output is the answer (local prompt and scripts only).

    The words go to /bin/sh as typed (pipes, redirections and quotes work);
    each !name or $NAME becomes one shell word holding its value, so a
    value cannot add commands (to run a command held in a variable, write
    system sh -c !cmd); an undefined variable is an error. The command
    gets no input, and is stopped after 5 seconds (timeout = N gives
    more), on Ctrl-C, or when it writes more than 16 MB. A non-zero exit
    is an error with the exit code and the first line of its stderr.
    Peers and REST clients may never run it.
    """
    typed = ctx.raw_rest if len(ctx.raw_rest) == len(tokens) else tokens
    timeout, typed = _split_timeout(typed)
    if not typed:
        raise CommandSyntaxError("'system' needs a command", hint="write: system ls -l")
    line = shell_text(ctx, typed)
    code, out, err = run_shell(ctx, line, timeout)
    if code != 0:
        first = next((s for s in err.decode("utf-8", "replace").splitlines() if s.strip()), "")
        reason = f"exited with {code}" if code > 0 else f"was killed by signal {-code}"
        raise AnyNodeError(f"system: '{line}' {reason}" + (f": {first.strip()}" if first else ""),
                           hint="check the command at a shell")
    return Message(out.decode("utf-8", "replace").rstrip("\n"))
