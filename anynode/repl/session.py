"""The interactive prompt.

On a terminal: prompt_toolkit with completion from the registry, history in
``<home>/history`` (without the lines that hold secrets), a bottom toolbar
naming the node and its running services, and background output (services,
scripts) printed above the prompt without breaking the line being typed. Ctrl-C drops the line being
typed, and cancels a command that runs (``anynode/repl/running.py``): the node and its services stay up.
Ctrl-D or ``exit node`` leaves (the caller then stops the services). Results taller than the terminal go
through the pager, long tables are capped (``anynode/repl/paging.py``).

When stdin is not a terminal, lines are read plainly, with no prompt and no
redraw noise, so ``anynode < script.al`` behaves like a script.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import IO, Any

from anynode.grammar.dispatch import Source
from anynode.protocols import NodeView


def prompt_text(node: NodeView) -> str:
    """The prompt: ``AN <node name> > ``."""
    return f"AN {node.name} > "


def toolbar_text(node: NodeView, extra: str = "") -> str:
    """The bottom toolbar: node name, ``extra`` (the live ingest count), running services, home."""
    running = node.user_services()
    services = ", ".join(running) if running else "no services running"
    return f" {node.name}{extra} | {services} | Ctrl-D exits | {node.home}"


def _execute(node: NodeView, line: str, out: IO[str], err: IO[str], person: bool = False,
             busy_now: list[Any] | None = None) -> int:
    """Run one line so that Ctrl-C cancels it; 0, the failure's exit status (the code a REST client would
    see), or 130 when it was cancelled.

    ``person``: the output is a person at a terminal (row cap, pager, busy line);
    ``busy_now`` holds the busy line while the command runs, for output that
    comes meanwhile to erase it first.
    """
    from anynode.repl.paging import Busy, present, show, terminal_size
    from anynode.repl.running import run_interruptible

    busy = Busy(line) if person else None
    if busy is not None and busy_now is not None:
        busy_now[:] = [busy]
    try:
        outcome = run_interruptible(node, line, Source.REPL, tick=busy.tick if busy else None)
    finally:
        if busy_now is not None:
            busy_now.clear()
        if busy is not None:
            busy.clear()
    if outcome.cancelled is not None:
        err.write(outcome.note(line) + "\n")
        err.flush()
        return 130
    if outcome.error is not None:
        from anynode.errors import exit_status
        from anynode.output.render import write_error

        write_error(outcome.error, err, line, node.debug, node.fmt)
        err.flush()
        return exit_status(outcome.error)
    assert outcome.result is not None
    if not person:
        from anynode.output.render import render

        render(outcome.result, out, node.fmt)
        out.flush()
        return 0
    text = present(outcome.result, node.fmt, color=True, width=terminal_size().columns,
                   max_rows=int(node.settings["prompt_max_rows"]))
    show(text, out, str(node.settings["pager"]))
    return 0


def run_plain(node: NodeView, stdin: IO[str], out: IO[str], err: IO[str]) -> int:
    """Run commands from a pipe or file as a script (labels, ``on error``, ``<...>`` blocks), each line
    as soon as it arrives; a failing line without ``on error`` is reported and the next one runs.
    Returns 0, or the exit status of the first line that failed."""
    from anynode.errors import exit_status
    from anynode.output.render import render, write_error
    from anynode.script import run_loaded, stream_script

    first: list[int] = []

    def emit(result: Any) -> None:
        render(result, out, node.fmt)
        out.flush()

    def failed(exc: BaseException) -> None:
        write_error(exc, err, None, node.debug, node.fmt)
        first.append(exit_status(exc))

    try:
        run_loaded(node, stream_script(stdin, "<stdin>", node.exit_event.is_set), emit, on_failure=failed)
    except Exception as exc:  # the script stopped itself (an 'on error' handler failed, a block never closed)
        failed(exc)
    return first[0] if first else 0


def _key_bindings() -> Any:
    """Tab completes at once: one candidate is inserted, several insert their
    common start and open the menu (prompt_toolkit's default completes in the
    background, so a fast typist's Enter can beat it)."""
    import os

    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.key_binding import KeyBindings

    kb = KeyBindings()

    @kb.add("tab")
    def _complete(event: Any) -> None:
        buf = event.current_buffer
        if buf.complete_state:
            buf.complete_next()
            return
        found = list(buf.completer.get_completions(buf.document, CompleteEvent(completion_requested=True)))
        if len(found) == 1:
            buf.apply_completion(found[0])
            return
        common = os.path.commonprefix([c.text for c in found])
        typed = -found[0].start_position if found else 0
        if len(common) > typed:
            buf.delete_before_cursor(typed)
            buf.insert_text(common)
        elif found:
            buf.start_completion(select_first=False)

    return kb


def history(node: NodeView) -> Any:
    """The prompt's history in ``<home>/history`` (owner-only, 0600): a line holding a secret is recalled
    in this session only.

    Such a line (an assignment to a secret name, ``set network key ...``, a
    known secret value) is never written to the file; writing it masked
    would let a recalled line set ``****`` as the password. A value that
    becomes secret later (``x = s3cret`` then ``set network key !x``) is
    masked in the lines already written (:meth:`mask_written`, after each command).
    """
    import os

    from prompt_toolkit.history import FileHistory

    path = node.home / "history"
    os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)

    class _History(FileHistory):
        known: tuple[str, ...] = ()

        def store_string(self, string: str) -> None:
            if node.redact(string) == string:
                super().store_string(string)

        def mask_written(self) -> None:
            """Mask, in the file, secret values the node learnt since the lines were written."""
            from anynode.fileio import atomic_write

            known = node.secrets.values()
            if known == self.known:
                return
            self.known = known
            text = path.read_text(encoding="utf-8", errors="replace")
            masked = node.secrets.mask(text)
            if masked != text:
                atomic_write(path, masked.encode(), keep_backup=False)

    return _History(str(path))


def build_session(node: NodeView, toolbar_extra: Callable[[], str] | None = None, **kwargs: Any) -> Any:
    """A PromptSession for ``node`` (tests pass input/output through kwargs).

    ``toolbar_extra()`` is added to the toolbar (the live ingest rate); the
    toolbar is redrawn every second.
    """
    from prompt_toolkit import PromptSession

    from anynode.repl.completer import NodeCompleter

    return PromptSession(
        history=history(node),
        completer=NodeCompleter(node),
        complete_while_typing=False,
        key_bindings=_key_bindings(),
        bottom_toolbar=lambda: toolbar_text(node, toolbar_extra() if toolbar_extra else ""),
        refresh_interval=1.0 if toolbar_extra else 0,
        **kwargs,
    )


def read_block(first: str, more: Callable[[], str]) -> str:
    """A typed line, or the whole ``<`` ... ``>`` block it opens (lines read with ``more``, joined by spaces)."""
    text = first.strip()
    if not text.startswith("<"):
        return first
    parts = [text[1:]]
    while not parts[-1].rstrip().endswith(">"):
        parts.append(more().strip())
    parts[-1] = parts[-1].rstrip()[:-1]
    return " ".join(p.strip() for p in parts if p.strip())


def run_interactive(node: NodeView, session: Any = None, out: IO[str] | None = None,
                    err: IO[str] | None = None) -> int:
    """The prompt loop; returns 0 when the user leaves.

    Output goes above the prompt (``out``/``err`` replace it in tests).
    """
    from prompt_toolkit.patch_stdout import patch_stdout

    from anynode.output.render import render
    from anynode.repl.ingest_watch import FailedFiles, IngestRate
    from anynode.repl.running import set_emit

    session = session or build_session(node, IngestRate(node).text)

    def leave() -> None:  # SIGTERM or `exit node` from a peer: end the prompt from any thread
        app = session.app
        if app.is_running and app.loop is not None:
            app.loop.call_soon_threadsafe(lambda: app.exit(exception=EOFError()) if app.is_running else None)

    node.on_exit(leave)
    with patch_stdout(raw=True):
        out = out or sys.stdout
        err = err or sys.stderr
        busy_now: list[Any] = []

        def emit(result: Any) -> None:  # a script's lines, as they run: below the busy line, not after it
            for busy in list(busy_now):  # and no busy line after it: the output says it runs
                busy.enabled = False
                busy.clear()
            render(result, out, node.fmt, color=True)

        set_emit(node, emit)

        def say(text: str) -> None:
            err.write(text + "\n")
            err.flush()

        failed_files = FailedFiles(say)
        node.log.addHandler(failed_files)
        try:
            while not node.exit_event.is_set():
                try:
                    line = read_block(session.prompt(lambda: prompt_text(node)), lambda: session.prompt("... "))
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    break
                if not line.strip():
                    continue
                try:
                    _execute(node, line.strip(), out, err, person=True, busy_now=busy_now)
                except KeyboardInterrupt:  # Ctrl-C while the result was being drawn: drop the rest of it
                    err.write("\n(output interrupted)\n")
                getattr(session.history, "mask_written", lambda: None)()
        finally:
            node.log.removeHandler(failed_files)
    return 0


def run_repl(node: NodeView) -> int:
    """Open the prompt on a terminal, or read commands plainly from a pipe."""
    if not sys.stdin.isatty():
        return run_plain(node, sys.stdin, sys.stdout, sys.stderr)
    return run_interactive(node)
