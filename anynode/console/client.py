"""Attaching to the node that holds a home: ``-e`` lines, the prompt, a pipe, ``status`` and ``stop``.

Each line goes to the node's console socket; what the node prints for it
comes back and is written here (stdout for results, stderr for errors and
notes). Ctrl-C sends a cancel: the node cancels the command, says so, and
stays up; a second Ctrl-C stops waiting for it. Ctrl-D at an attached
prompt detaches and leaves the node running; ``exit node`` stops it.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import IO, Any

from anynode.console.wire import MAX_MESSAGE, WAITING, Channel, reachable, socket_path
from anynode.errors import AnyNodeError, NodeLocked, NotPermitted

MAX_SCRIPT = MAX_MESSAGE // 2
"""Bytes of piped script sent in one message (JSON escaping may double them; the node reads up to MAX_MESSAGE)."""
NOT_RUNNING = 3
"""Exit status of ``anynode status`` / ``anynode stop`` when no node runs on the home (pg_ctl's habit)."""


class NoConsole(AnyNodeError):
    """A node holds the home but its console cannot be reached."""

    exit_code = 75


class PipeTooLarge(AnyNodeError):
    """A piped script too large to send to the node in one console message."""

    exit_code = 2


def connect(home: Path) -> Attached:
    """Attach to the console of the node holding ``home``.

    Raises:
        NoConsole: no socket answers (a node of an older anynode, or one still starting).
        NotPermitted: the socket belongs to another user, or the node refused this one.
    """
    path = socket_path(home)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with reachable(path) as name:
            sock.connect(name)
    except PermissionError:
        sock.close()
        raise NotPermitted(f"the console of the node on {home} belongs to another user",
                           hint="run anynode as the user that runs the node (sudo -u <user> anynode ...)") from None
    except OSError as exc:
        sock.close()
        raise NoConsole(f"a node holds {home} but its console at {path} does not answer ({exc.strerror})",
                        hint="wait until it has started, or stop it and start it again") from None
    channel = Channel(sock)
    try:
        channel.send({"op": "hello"})
    except OSError:
        pass  # a refusal may be waiting to be read
    hello = channel.receive(timeout=5.0)
    if hello is None or hello is WAITING or "refused" in hello:
        channel.close()
        reason = (hello or {}).get("refused") if hello is not WAITING else None
        if reason:
            raise NotPermitted(f"the node refused the console connection: {reason}",
                               hint="run anynode as the user that runs the node")
        raise NoConsole(f"the node on {home} did not answer on its console", hint="check it with: anynode status")
    return Attached(channel, hello)


class Attached:
    """A connection to a running node's console."""

    def __init__(self, channel: Channel, hello: dict[str, Any]) -> None:
        self.channel = channel
        self.hello = hello
        self.exiting = False

    @property
    def name(self) -> str:
        """The node's name."""
        return str(self.hello.get("name", "anynode"))

    def run(self, line: str, out: IO[str], err: IO[str], *, fmt: str = "table", source: str = "cli",
            max_rows: int = 0, busy: Any = None) -> int:
        """Run ``line`` on the node, writing what it prints; its exit status (130 when cancelled)."""
        color = _isatty(out)
        width = os.get_terminal_size(out.fileno()).columns if color else None
        self.channel.send({"op": "run", "line": line, "source": source, "fmt": fmt, "color": color,
                           "width": width, "max_rows": max_rows})
        return self._follow(line, line.strip().lower().startswith("exit node"), out, err, busy)

    def run_script(self, text: str, out: IO[str], err: IO[str], *, fmt: str = "table") -> int:
        """Run ``text`` on the node as one script (labels, ``goto``, ``on error`` work as in a local pipe),
        writing what its lines print as they run; the exit status of its first failed line (130 when cancelled).

        Raises:
            PipeTooLarge: the text does not fit in one console message.
        """
        if len(text.encode("utf-8")) > MAX_SCRIPT:
            raise PipeTooLarge(f"the piped script is larger than {MAX_SCRIPT >> 20} MiB",
                               hint="save it to a file and run: anynode -e \"process <file>\"")
        color = _isatty(out)
        width = os.get_terminal_size(out.fileno()).columns if color else None
        self.channel.send({"op": "script", "text": text, "source": "cli", "fmt": fmt, "color": color,
                           "width": width, "max_rows": 0})
        ends_node = any(raw.strip().lower().startswith("exit node") for raw in text.splitlines())
        return self._follow("the piped script", ends_node, out, err, None)

    def _follow(self, line: str, ends_node: bool, out: IO[str], err: IO[str], busy: Any) -> int:
        """Write what the node sends for the request just sent until it is done; Ctrl-C cancels it."""
        started = time.monotonic()
        cancelled = False
        while True:
            try:
                message = self.channel.receive(timeout=0.1)
            except KeyboardInterrupt:
                if cancelled:  # a second Ctrl-C: stop waiting for the node
                    err.write(f"stopped waiting for: {line} (the node goes on cancelling it)\n")
                    return 130
                cancelled = True
                self.channel.send({"op": "cancel"})
                continue
            if message is WAITING:
                if busy is not None:
                    busy.tick(time.monotonic() - started)
                continue
            if busy is not None:
                busy.clear()
            if message is None:
                if ends_node:
                    self.exiting = True
                    return 0
                err.write("error: the node closed its console (is it stopping?)\n")
                return 75
            self._write(message, out, err)
            if "done" in message and "note" not in message:
                self.exiting = bool(message.get("exiting"))
                return int(message["done"])

    def _write(self, message: dict[str, Any], out: IO[str], err: IO[str]) -> None:
        if "out" in message:
            self._pending += str(message["out"])
            if not message.get("more"):
                text, self._pending = self._pending, ""
                _show(text, out, str(self.hello.get("pager", "")) if self._prompt else "")
        for key in ("note", "err"):
            if key in message:
                err.write(str(message[key]).rstrip("\n") + "\n")
                err.flush()

    _prompt = False
    _pending = ""

    def _reply(self) -> dict[str, Any] | None:
        """The answer to a request, saying the notes that come first (failed files) on stderr."""
        while True:
            message = self.channel.receive(timeout=5.0)
            if message is None or message is WAITING:
                return None
            if "note" not in message:
                return message
            sys.stderr.write(str(message["note"]) + "\n")
            sys.stderr.flush()

    def watch(self) -> None:
        """Ask the node to tell this prompt about files that fail to ingest, as they fail."""
        self.channel.send({"op": "watch"})

    def refresh(self) -> None:
        """Ask the node again for its name, services and ingest count (the toolbar); say pending notes."""
        self.channel.send({"op": "hello"})
        hello = self._reply()
        if hello is not None:
            self.hello = hello

    def redact(self, line: str) -> str:
        """``line`` as the node would write it down (secrets masked)."""
        self.channel.send({"op": "redact", "line": line})
        answer = self._reply()
        return "****" if answer is None else str(answer.get("line", "****"))

    def close(self) -> None:
        """Detach (the node keeps running)."""
        self.channel.close()


def _show(text: str, out: IO[str], pager: str) -> None:
    from anynode.repl.paging import show

    show(text, out, pager)


def _isatty(out: IO[str]) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


# ---------------------------------------------------------------- the CLI's uses
def run_lines(attached: Attached, lines: list[str], fmt: str) -> int:
    """``anynode -e ...`` on a running node: each line in turn, stopping at the first failure."""
    from anynode.repl.paging import Busy

    code = 0
    for line in lines:
        code = attached.run(line, sys.stdout, sys.stderr, fmt=fmt, busy=Busy(line))
        if code or attached.exiting:
            break
    return code


def run_pipe(attached: Attached, stdin: IO[str], fmt: str) -> int:
    """``anynode < file`` on a running node: the whole input, run there as one script, as a local pipe runs
    (labels, ``goto``, ``on error``); the exit status of the first line that failed; Ctrl-C cancels it."""
    text = stdin.read()
    if not text.strip():
        return 0
    try:
        return attached.run_script(text, sys.stdout, sys.stderr, fmt=fmt)
    except PipeTooLarge as exc:
        sys.stderr.write(f"error: {exc.one_line()}\n")
        return exc.exit_code


def status(home: Path, out: IO[str]) -> int:
    """``anynode status``: whether a node runs on ``home``, its pid, name and services, written to ``out``."""
    from anynode.lock import holder

    pid = holder(home)
    if pid is None:
        out.write(f"no node is running on {home}\n")
        return NOT_RUNNING
    try:
        attached = connect(home)
    except AnyNodeError as exc:
        out.write(f"node process {pid} holds {home}; {exc.one_line()}\n")
        return 1
    hello = attached.hello
    attached.close()
    services = ", ".join(hello.get("services") or []) or "no services running"
    out.write(f"node {hello.get('name')} is running on {home}: pid {hello.get('pid')}, anynode "
              f"{hello.get('version')}, {services}; console {socket_path(home)}\n")
    return 0


def stop(home: Path, timeout: float, out: IO[str]) -> int:
    """``anynode stop``: ask the node on ``home`` to exit (``exit node``; SIGTERM when it has no console)
    and wait until it released the home; what happens is written to ``out``."""
    from anynode.lock import holder

    pid = holder(home)
    if pid is None:
        out.write(f"no node is running on {home}\n")
        return NOT_RUNNING
    try:
        attached = connect(home)
    except NoConsole:
        if not pid:
            raise
        os.kill(pid, signal.SIGTERM)
    else:
        name = attached.name
        attached.run("exit node", out, sys.stderr)
        attached.close()
        pid = int(attached.hello.get("pid") or pid)
        out.write(f"stopping node {name} (pid {pid}) ...\n")
        out.flush()
    deadline = time.monotonic() + timeout
    while holder(home) is not None:
        if time.monotonic() > deadline:
            raise NodeLocked(f"the node (pid {pid}) still holds {home} after {timeout:g} s",
                             hint=f"it may still be stopping a service; kill -TERM {pid} forces it")
        time.sleep(0.1)
    out.write(f"node stopped (pid {pid})\n")
    return 0
