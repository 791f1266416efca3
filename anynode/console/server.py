"""The ``Console`` service: the node's control socket (see ``anynode/console/wire.py`` for the messages).

It listens on ``<home>/run/console.sock`` (directory 0700, socket 0600)
and refuses any peer whose uid is not the node's (``SO_PEERCRED``), before
reading a byte from it. Each accepted connection gets a thread
``anynode:console-client``; each line it sends runs on a command thread
(``anynode/repl/running.py``) as a local command (``Source.CLI`` for
``-e`` and pipes, ``Source.REPL`` for an attached prompt), so a console
client has exactly the commands and permissions of the node's own prompt,
and ``{"op": "cancel"}`` (Ctrl-C in the client) or the client going away
cancels it. Results the command emits on its way (a script's lines) go to
that client.
"""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import threading
from collections.abc import Callable
from typing import Any

from anynode import __version__
from anynode.cancel import Cancel
from anynode.console.wire import Channel, peer_uid, reachable, socket_path
from anynode.errors import AnyNodeError
from anynode.grammar.dispatch import Session, Source
from anynode.protocols import NodeView
from anynode.repl.ingest_watch import FailedFiles, IngestRate
from anynode.repl.running import CommandThread, Outcome, route_emit
from anynode.results import Result
from anynode.services.base import Service

_SOURCES = {"cli": Source.CLI, "repl": Source.REPL}  # a console client is local: never REMOTE or REST
_CLIENT_GRACE = 2.0
_PIECE = 1 << 20  # characters of output per message


class ConsoleService(Service):
    """Serves the node's console socket until stopped."""

    name = "Console"

    def __init__(self, node: NodeView) -> None:
        self.node = node
        self.path = socket_path(node.home)
        self._clients: dict[threading.Thread, Channel] = {}
        self._lock = threading.Lock()
        self.served = 0
        self.refused = 0

    def details(self) -> str:
        return f"{self.path} (owner only)"

    def info(self) -> dict[str, Any]:
        return {"socket": str(self.path), "served": self.served, "refused": self.refused,
                "clients": len(self._clients)}

    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        route_emit(self.node)
        listener = self._listen()
        try:
            ready()
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                conn.settimeout(None)
                thread = threading.Thread(target=self._serve, args=(conn,), name="anynode:console-client",
                                          daemon=True)
                with self._lock:
                    self._clients[thread] = Channel(conn)
                thread.start()
        finally:
            listener.close()
            self._unlink()
            with self._lock:
                clients = dict(self._clients)
            for channel in clients.values():
                channel.close()
            for thread in clients:
                thread.join(_CLIENT_GRACE)

    def _listen(self) -> socket.socket:
        run_dir = self.path.parent
        run_dir.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(run_dir)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            raise AnyNodeError(f"{run_dir} is not a directory of this user", hint="remove it and start the node again")
        os.chmod(run_dir, 0o700)
        self._unlink()  # we hold the home: a socket left there is a dead node's
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with reachable(self.path) as name:
                listener.bind(name)
            os.chmod(self.path, 0o600)
            listener.listen(16)
            listener.settimeout(0.2)
        except BaseException:
            listener.close()
            raise
        return listener

    def _unlink(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    # ------------------------------------------------------------- one client
    def _serve(self, conn: socket.socket) -> None:
        me = threading.current_thread()
        channel = self._clients[me]
        try:
            uid = peer_uid(conn)
            if uid != os.geteuid():
                self.refused += 1
                self.node.log.warning("console: refused a connection from uid %d (only uid %d may use it)",
                                      uid, os.geteuid())
                channel.send({"refused": f"this node's console belongs to uid {os.geteuid()}; you are uid {uid}"})
                _drain(conn)
                return
            self._converse(channel)
        except OSError:
            pass  # the client went away
        finally:
            channel.close()
            with self._lock:
                self._clients.pop(me, None)

    def _converse(self, channel: Channel) -> None:
        frame = Session()
        job: CommandThread | None = None
        send_lock = threading.Lock()

        def send(message: dict[str, Any]) -> None:
            with send_lock:
                try:
                    channel.send(message)
                except OSError:
                    pass  # the client left; its command was cancelled

        watch: FailedFiles | None = None
        rate = IngestRate(self.node)
        try:
            while True:
                message = channel.receive()
                running = job is not None and not job.done.is_set()
                if message is None:
                    if job is not None and running:
                        job.stop("the console client went away")
                    return
                if message.get("op") == "watch" and watch is None:  # an attached prompt: failed files as notes
                    watch = FailedFiles(lambda text: send({"note": text}))
                    self.node.log.addHandler(watch)
                    continue
                job = self._answer(message, job, running, frame, send, rate)
        finally:
            if watch is not None:
                self.node.log.removeHandler(watch)

    def _answer(self, message: dict[str, Any], job: CommandThread | None, running: bool, frame: Session,
                send: Callable[[dict[str, Any]], None], rate: IngestRate) -> CommandThread | None:
        """Answer one request; the command thread of this connection (a new one for a run)."""
        op = message.get("op")
        if op == "hello":
            send(dict(self._hello(), ingest=rate.text()))
        elif op == "redact":
            send({"line": self.node.redact(str(message.get("line", "")))})
        elif op == "cancel":
            if job is not None and running:
                job.cancel.cancel("Ctrl-C")
        elif op in ("run", "script") and not running:
            job = self._start(message, frame, send)
        elif op in ("run", "script"):
            send({"err": "error: a command is still running on this connection", "done": 2})
        else:
            send({"err": f"error: unknown console request {op!r}", "done": 2})
        return job

    def _hello(self) -> dict[str, Any]:
        node = self.node
        return {"name": node.name, "home": str(node.home), "pid": os.getpid(), "version": __version__,
                "services": node.user_services(), "pager": str(node.settings["pager"]),
                "max_rows": int(node.settings["prompt_max_rows"])}

    def _start(self, message: dict[str, Any], frame: Session, send: Callable[[dict[str, Any]], None]) -> CommandThread:
        from anynode.errors import exit_status
        from anynode.output.render import error_object, error_text
        from anynode.repl.paging import present

        script = str(message.get("text", "")) if message.get("op") == "script" else None
        line = "<stdin>" if script is not None else str(message.get("line", "")).strip()
        source = _SOURCES.get(str(message.get("source")), Source.CLI)
        fmt = "json" if message.get("fmt") == "json" else "table"
        color = bool(message.get("color"))
        width = int(message["width"]) if isinstance(message.get("width"), int) else None
        max_rows = int(message["max_rows"]) if isinstance(message.get("max_rows"), int) else 0

        def text(result: Result) -> str:
            return present(result, fmt, color=color, width=width, max_rows=max_rows)

        def send_out(out: str) -> None:  # in pieces: a message stays far below the reader's limit
            for start in range(0, len(out), _PIECE):
                end = start + _PIECE
                send({"out": out[start:end], "more": end < len(out)})

        def sink(result: Result) -> None:
            send_out(text(result))

        def error(exc: BaseException) -> None:
            if fmt == "json":  # the same object a REST client gets
                send({"err": json.dumps(error_object(exc), ensure_ascii=False)})
            else:
                send({"err": error_text(exc, None if script is not None else line, self.node.debug, color=color)})

        failed: list[int] = []  # a script's lines that failed and that it did not handle: their exit status

        def failure(exc: BaseException) -> None:
            error(exc)
            failed.append(exit_status(exc))

        def done(outcome: Outcome) -> None:
            self.served += 1
            code = failed[0] if failed else 0
            if outcome.cancelled is not None:
                send({"err": outcome.note(line)})
                code = 130
            elif outcome.error is not None:
                error(outcome.error)
                code = code or exit_status(outcome.error)
            elif outcome.result is not None:
                send_out(text(outcome.result))
            send({"done": code, "cancelled": outcome.cancelled, "exiting": self.node.exit_event.is_set()})

        work = None if script is None else _script_work(self.node, script, sink, failure)
        return CommandThread(self.node, line, source, frame, fmt=fmt, sink=sink, on_done=done, work=work).start()


def _script_work(node: NodeView, text: str, emit: Callable[[Result], None],
                 failure: Callable[[BaseException], None]) -> Callable[[Cancel], Result]:
    """A piped script run as the node's own pipe runs it (``repl/session.run_plain``): labels, ``goto``,
    ``on error`` and blocks; a failing line it does not handle is reported and the next one runs."""
    from anynode.script import run_loaded, stream_script

    def work(cancel: Cancel) -> Result:
        script = stream_script(io.StringIO(text), "<stdin>", node.exit_event.is_set)
        def failed(exc: BaseException) -> None:
            if not cancel.cancelled:  # a line that Ctrl-C stopped: the cancel note says it
                failure(exc)

        return run_loaded(node, script, emit, on_failure=failed, cancel=cancel)

    return work


def _drain(conn: socket.socket) -> None:
    """Read and drop what a refused peer still sends (at most 1 s), so it reads the refusal instead of a reset."""
    conn.shutdown(socket.SHUT_WR)
    conn.settimeout(1.0)
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass
