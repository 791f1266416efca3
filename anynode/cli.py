"""The ``anynode`` command: REPL, one-shot commands, scripts, and the script checker.

    anynode                          open the prompt
    anynode -e "get status" [-e ...] run commands and exit (-i: then open the prompt)
    anynode process FILE             run a node script; keep running while services run
    anynode check FILE...            parse scripts without running them
    anynode status | stop            the node running on the home: is it up; stop it

When a node process (``anynode process``, a prompt on a terminal) holds the
home, ``anynode -e``, ``anynode`` and ``anynode < file`` attach to it through
its console socket (``anynode/console/``) instead of failing: the running node
runs the lines. Ctrl-C cancels the command that runs, never the node.

Exit status: 0 on success; a failed command exits with its AnyLog code, the
"code" a REST client gets for it (errors.exit_status); 130 when Ctrl-C
cancelled a command; 73/74 for a node home that cannot be made or used, 75
when it is in use by a node that serves no console, 78 for settings that do
not validate, 70 for internal errors; 1 when a service was still busy at the
shutdown deadline; ``status`` and ``stop`` exit 3 when no node runs on the
home. docs/commands.md has the table.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from anynode import __version__

CANT_CREATE = 73  # sysexits EX_CANTCREAT: the home cannot be made or written
IO_ERROR = 74  # sysexits EX_IOERR: reading or writing the home failed otherwise


def _home_unusable(home: str | None, exc: OSError) -> Exception:
    """The one-line error for a node home that cannot be made or used, with its sysexits code (73 or 74)."""
    import errno

    from anynode.errors import AnyNodeError

    where = exc.filename or home or "the node home"
    err = AnyNodeError(f"cannot use the node home {where}: {exc.strerror or exc}",
                       hint="choose a writable directory with --home DIR or $ANYNODE_HOME")
    cant = exc.errno in (errno.ENOENT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST)
    err.exit_code = CANT_CREATE if cant else IO_ERROR
    return err


def _open_node(home: str | None, fmt: str, debug: bool, lock: bool = True) -> Any:
    import anynode.assembly  # noqa: F401  (declares every command)
    from anynode.collector import tune_for_node
    from anynode.node import Node

    tune_for_node()  # this process is the node: ingest's short-lived rows need fewer collections
    try:
        node = Node(home, lock=lock)
    except OSError as exc:  # the home, not a bug: one line and a sysexits code
        raise _home_unusable(home, exc) from exc
    node.fmt = fmt
    node.debug = debug
    return node


LOCK_WAIT = 5.0
"""Seconds ``anynode process`` waits for a home another process holds before it gives up (exit 75)."""


def _open_node_waiting(home: str | None, fmt: str, debug: bool) -> Any:
    """Open the node, waiting up to LOCK_WAIT for the home's lock.

    A one-shot ``anynode -e ...`` sent while the node is still starting (a
    supervisor's health check, a deployment script's poll) holds the home
    for the moment it runs; the node starting after it must not die of that.
    """
    from anynode.errors import NodeLocked

    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            return _open_node(home, fmt, debug)
        except NodeLocked:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def _fail(exc: BaseException, line: str | None, debug: bool, fmt: str = "table") -> int:
    """Print an error for the user (JSON with ``--format json``); return its exit status (errors.exit_status)."""
    from anynode.errors import exit_status
    from anynode.output.render import write_error

    write_error(exc, sys.stderr, line, debug, fmt)
    return exit_status(exc)


def run_line(node: Any, line: str) -> int:
    """Run one command line from the shell, print its result; 0 or an exit code (130: Ctrl-C cancelled it)."""
    from anynode.grammar.dispatch import Source
    from anynode.output.render import render
    from anynode.repl.paging import Busy
    from anynode.repl.running import run_interruptible

    busy = Busy(line)
    outcome = run_interruptible(node, line, Source.CLI, tick=busy.tick)
    busy.clear()
    if outcome.cancelled is not None:
        click.echo(outcome.note(line), err=True)
        return 130
    if outcome.error is not None:
        return _fail(outcome.error, line, node.debug, node.fmt)
    assert outcome.result is not None
    render(outcome.result, sys.stdout, node.fmt)
    return 0


def _start_console(node: Any) -> None:
    """Serve the node's console socket (a failure is logged: the node runs without it)."""
    from anynode.console.server import ConsoleService
    from anynode.errors import AnyNodeError

    try:
        node.services.start(ConsoleService(node), float(node.settings["start_timeout"]))
    except (AnyNodeError, OSError) as exc:
        node.log.warning("console: not served (%s); 'anynode -e' cannot attach to this node", exc)


def _attach(home: str | None, fmt: str, debug: bool, commands: tuple[str, ...], interactive: bool,
            locked: Any) -> int:
    """Run the commands, the prompt or the piped lines on the node that holds the home; an exit code."""
    from anynode.console import client
    from anynode.errors import AnyNodeError
    from anynode.node import resolve_home

    path = resolve_home(home)
    try:
        attached = client.connect(path)
    except client.NoConsole as exc:
        locked.hint = f"it serves no console ({exc.message}); stop it, or use another --home"
        return _fail(locked, None, debug, fmt)
    except AnyNodeError as exc:
        return _fail(exc, None, debug, fmt)
    try:
        code = client.run_lines(attached, list(commands), fmt) if commands else 0
        if (interactive or not commands) and not attached.exiting and (interactive or not code):
            if sys.stdin.isatty():
                from anynode.repl.attached import run_prompt

                code = run_prompt(attached, path, fmt) or code
            else:
                code = client.run_pipe(attached, sys.stdin, fmt) or code
    finally:
        attached.close()
    return code


def _install_signals(node: Any, interrupt: bool) -> Any:
    """SIGTERM (and SIGINT when ``interrupt``) and ``exit node`` stop the services then end the node; SIGHUP reloads."""
    from anynode import lifecycle

    hup = lifecycle.reload_on_hup(node.logs, lambda: node.settings, node.apply_settings, node.log)
    lc = lifecycle.install(node.services, on_exit=lambda code: node.request_exit(), on_hup=hup,
                           logger=node.log, timeout=float(node.settings["shutdown_timeout"]), interrupt=interrupt)
    node.on_exit(lambda: lc.request_exit("exit node"))
    return lc


def _end(node: Any, lifecycle: Any, code: int, reason: str) -> tuple[int, list[str]]:
    """End the node the one way; (exit code, services stopped).

    Whatever ended it (``exit node``, a signal, the end of the script, the
    prompt or the commands), the lifecycle's shutdown stops the services
    within ``shutdown_timeout``; one still busy at the deadline is logged and
    makes the exit code 1, unless an error already chose one.
    """
    lifecycle.request_exit(reason)  # a no-op when a signal or `exit node` began the shutdown
    stop_code = lifecycle.wait() or 0
    lifecycle.close()
    stopped = lifecycle.stopped + node.close()
    return code or stop_code, stopped


def _emit_to_stdout(node: Any) -> None:
    from anynode.output.render import render

    node.emit = lambda result: render(result, sys.stdout, node.fmt)


class _Group(click.Group):
    """The command group, with each subcommand's summary shown whole in ``--help`` (click cuts it to fit)."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, cmd.get_short_help_str(limit=1000)) for name in self.list_commands(ctx)
                if (cmd := self.get_command(ctx, name)) is not None and not cmd.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


_EPILOG = """\b
Inside the node: 'help' lists every command, 'help <command>' explains one,
'help index' groups them by topic (docs/commands.md has them all).
\b
Exit status: 0 on success; a failed command exits with the AnyLog code a
REST client gets in "code" (1 unknown command, 2 bad syntax, 3 failed,
5 no such database, 16 SQL error, 141 not permitted, ...); 73/74 the node
home cannot be made or used, 75 the home is in use by another node, 78
settings that do not validate, 70 an internal error (a bug: please report
it); 1 also when a service was still busy at the shutdown deadline.
"""


@click.group(cls=_Group, invoke_without_command=True, epilog=_EPILOG,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-e", "--execute", "commands", multiple=True, metavar="COMMAND",
              help="Run a command (repeatable) and exit.")
@click.option("-i", "--interactive", is_flag=True, help="Open the prompt after the -e commands.")
@click.option("--home", type=click.Path(file_okay=False), default=None,
              help="Node home directory (default $ANYNODE_HOME or ~/.anynode).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              help="Output format; json prints what a REST client gets.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, "-V", "--version", prog_name="anynode")
@click.pass_context
def cli(ctx: click.Context, commands: tuple[str, ...], interactive: bool, home: str | None,
        fmt: str, debug: bool) -> None:
    """anynode: an edge data node you drive with AnyLog-style commands."""
    ctx.obj = {"home": home, "fmt": fmt, "debug": debug}
    if ctx.invoked_subcommand:
        return
    from anynode.errors import NodeLocked

    try:
        node = _open_node(home, fmt, debug)
    except NodeLocked as locked:
        ctx.exit(_attach(home, fmt, debug, commands, interactive, locked))
    except Exception as exc:
        ctx.exit(_fail(exc, None, debug, fmt))
    code = 0
    reason = "the commands ended"
    lifecycle = _install_signals(node, interrupt=False)  # Ctrl-C stays the prompt's and the commands'
    prompt = (interactive or not commands) and sys.stdin.isatty()
    try:
        _emit_to_stdout(node)
        if prompt:
            _start_console(node)
        for line in commands:
            code = run_line(node, line)
            if code or node.exit_event.is_set():
                break
        # -i opens the prompt even after a failed command: the person is there to fix it.
        if (interactive or not commands) and (interactive or not code) and not node.exit_event.is_set():
            from anynode.repl.session import run_repl

            node.start_housekeeping()
            reason = "the prompt ended"
            code = run_repl(node) or code
    finally:
        code, _ = _end(node, lifecycle, code, reason)
    ctx.exit(code)


@cli.command("process")
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_context
def process_cmd(ctx: click.Context, file: str) -> None:
    """Run a node script, then keep the node up while services run (until SIGTERM or `exit node`).

    A home held by another process is waited for up to 5 s (a one-shot
    `anynode -e` sent as the node starts), then it is an error (exit 75).
    """
    opts = ctx.obj
    try:
        node = _open_node_waiting(opts["home"], opts["fmt"], opts["debug"])
    except Exception as exc:
        ctx.exit(_fail(exc, None, opts["debug"], opts["fmt"]))
    code = 0
    lifecycle = _install_signals(node, interrupt=True)
    try:
        _emit_to_stdout(node)
        _start_console(node)
        node.start_housekeeping()
        try:
            from anynode.script import run_script

            run_script(node, file)
        except Exception as exc:  # rendered at this edge
            code = _fail(exc, None, node.debug, node.fmt)
        if not code and node.user_services() and not node.exit_event.is_set():
            while not node.exit_event.wait(0.5):
                pass
    finally:
        code, stopped = _end(node, lifecycle, code, "the script ended")
    if stopped:
        click.echo(f"stopped: {', '.join(stopped)}", err=True)
    ctx.exit(code)


@cli.command("status")
@click.pass_context
def status_cmd(ctx: click.Context) -> None:
    """Say whether a node runs on the home: its pid, name and services (exit 3 when none runs)."""
    from anynode.console import client
    from anynode.node import resolve_home

    ctx.exit(client.status(resolve_home(ctx.obj["home"]), sys.stdout))


@cli.command("stop")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Seconds to wait for the node to release its home.")
@click.pass_context
def stop_cmd(ctx: click.Context, timeout: float) -> None:
    """Stop the node running on the home (as 'exit node' does) and wait until it is gone (exit 3 when none runs)."""
    from anynode.console import client
    from anynode.errors import AnyNodeError
    from anynode.node import resolve_home

    try:
        ctx.exit(client.stop(resolve_home(ctx.obj["home"]), timeout, sys.stdout))
    except AnyNodeError as exc:
        ctx.exit(_fail(exc, None, ctx.obj["debug"]))


@cli.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.pass_context
def check_cmd(ctx: click.Context, files: tuple[str, ...]) -> None:
    """Parse node scripts against the command table without running them; print FILE:LINE: reason."""
    from anynode.script import check_script

    try:
        node = _open_node(ctx.obj["home"], "table", ctx.obj["debug"], lock=False)
    except Exception as exc:
        ctx.exit(_fail(exc, None, ctx.obj["debug"]))
    problems: list[str] = []
    try:
        for path in files:
            problems += check_script(node, path)
    finally:
        node.close()
    for line in problems:
        click.echo(line)
    if problems:
        click.echo(f"{len(problems)} problem(s) in {len(files)} file(s)", err=True)
    ctx.exit(1 if problems else 0)


def main() -> None:
    """Console entry point."""
    cli(prog_name="anynode")
