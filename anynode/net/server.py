"""FrameServer: the asyncio server behind ``run tcp server``.

The event loop (uvloop when importable) only moves bytes: it reads frames,
hands each to the blocking ``handler`` on a bounded worker pool and writes
the reply back on the same connection with the same request id. Frames on
one connection are handled in order (file chunks rely on it); different
connections run in parallel up to ``threads``. A bad frame (garbage,
oversized, malformed, unsigned, too slow) gets an error reply when possible
and closes its connection; the server itself keeps serving. ``serve()`` runs
in the calling thread, so a Service runs it on its managed thread.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from anynode.errors import AnyNodeError, ServiceError
from anynode.net.errors import AuthError, ConnectionLost, ProtocolError
from anynode.net.protocol import (
    DEFAULT_MAX_FRAME,
    Frame,
    FrameCodec,
    IdleTimeout,
    Signer,
)

log = logging.getLogger("anynode.net.server")

Handler = Callable[[dict[str, Any], bytes], "tuple[dict[str, Any], bytes]"]
_STOP_POLL = 0.1  # seconds between checks of the stop event


def new_event_loop(use_uvloop: bool = True) -> asyncio.AbstractEventLoop:
    """A uvloop loop when uvloop is installed (measured faster), else asyncio's."""
    if not use_uvloop:
        return asyncio.new_event_loop()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def error_header(err: AnyNodeError, request_id: int) -> dict[str, Any]:
    """The reply header that carries ``err`` back to the requester."""
    return {"kind": "reply", "id": request_id, "ok": False, "error": err.to_wire()}


class FrameServer:
    """A TCP server of anynode frames with a blocking handler on a worker pool.

    Args:
        handler: ``handler(header, payload) -> (reply_header, reply_payload)``;
            blocking; may raise AnyNodeError to answer with that error. It is
            not called for ``reply`` frames; ``event`` frames get no reply.
            ``header["_peer"]`` is set by the server to the socket's
            "host:port" (whatever the peer sent under that key is replaced).
        host, port: where to listen (port 0 picks a free port, see ``port``).
        threads: size of the handler worker pool.
        ssl_context: serve TLS with this server context.
        auth: authenticator that every frame must satisfy (None: off).
        max_frame_size: largest frame accepted or sent.
        idle_timeout: close a connection with no frame for this many seconds.
        read_timeout: a frame, once begun, must arrive within this many seconds.
        housekeeping: called every ``housekeeping_interval`` s on the pool
            (e.g. TransferReceiver.sweep).
        use_uvloop: run on uvloop when installed (False: asyncio's own loop).
        logger: where refused peers and handler failures are logged.
    """

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0, *,
                 threads: int = 4, ssl_context: ssl.SSLContext | None = None,
                 auth: Signer | None = None, max_frame_size: int = DEFAULT_MAX_FRAME,
                 idle_timeout: float = 60.0, read_timeout: float = 20.0,
                 max_connections: int = 1024, backlog: int = 128,
                 housekeeping: Callable[[], None] | None = None,
                 housekeeping_interval: float = 5.0, use_uvloop: bool = True,
                 logger: logging.Logger | None = None) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        self.handler = handler
        self.host = host
        self._port = port
        self.threads = threads
        self.ssl_context = ssl_context
        self.codec = FrameCodec(max_frame_size, auth)
        self.idle_timeout = idle_timeout
        self.read_timeout = read_timeout
        self.max_connections = max_connections
        self.backlog = backlog
        self.housekeeping = housekeeping
        self.housekeeping_interval = housekeeping_interval
        self.use_uvloop = use_uvloop
        self.log = logger or log
        self._bound: tuple[str, int] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._executor: ThreadPoolExecutor | None = None
        self._stats = dict.fromkeys(
            ("connections", "active_connections", "frames_in", "frames_out", "bytes_in",
             "bytes_out", "errors", "protocol_errors", "auth_errors", "timeouts",
             "handler_errors", "idle_closed", "refused_connections"), 0)

    # -- public ---------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound; valid once ready() has been called."""
        if self._bound is None:
            raise ServiceError("the TCP server is not listening yet", "wait for it to be ready")
        return self._bound

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        return self.address[1]

    def stats(self) -> dict[str, int]:
        """Counters: connections, frames and bytes in/out, errors by cause."""
        return dict(self._stats)

    def shutdown(self) -> None:
        """Ask a running serve() to return now (thread-safe; stop works too)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # loop closed in between
                pass

    def serve(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        """Listen, call ``ready()``, serve until ``stop`` is set, then clean up.

        Returns within about 0.1 s of ``stop`` (plus any handler still running)
        and leaves no thread behind. Raises ServiceError if it cannot listen.
        """
        lsock = self._listen()
        loop = new_event_loop(self.use_uvloop)
        self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="anynode:tcp-worker")
        try:
            loop.run_until_complete(self._main(lsock, stop, ready))
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                lsock.close()
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._loop = self._wake = None

    # -- internals ----------------------------------------------------------

    def _listen(self) -> socket.socket:
        """Bind the listening socket here, so a busy port fails before ready()."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            sock = socket.create_server((self.host, self._port), family=family, backlog=self.backlog)
        except OSError as exc:
            raise ServiceError(f"TCP server cannot listen on {self.host}:{self._port}: {exc.strerror or exc}",
                               "choose another port, or stop the process that uses it") from None
        host, port = sock.getsockname()[:2]
        self._bound = (host, port)
        return sock

    async def _main(self, lsock: socket.socket, stop: threading.Event, ready: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        self._loop, self._wake = loop, asyncio.Event()
        server = await asyncio.start_server(
            self._on_connection, sock=lsock, ssl=self.ssl_context,
            ssl_handshake_timeout=self.read_timeout if self.ssl_context else None,
            limit=256 * 1024)
        ready()
        chores: asyncio.Future[None] | None = None
        since = 0.0
        try:
            while not stop.is_set() and not self._wake.is_set():
                try:
                    async with asyncio.timeout(_STOP_POLL):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                since += _STOP_POLL
                if self.housekeeping and since >= self.housekeeping_interval and (chores is None or chores.done()):
                    since = 0.0
                    chores = loop.run_in_executor(self._executor, self._run_housekeeping)
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.wait_closed()
            if chores is not None:
                await asyncio.gather(chores, return_exceptions=True)

    def _run_housekeeping(self) -> None:
        assert self.housekeeping is not None
        try:
            self.housekeeping()
        except Exception:  # one failed chore must not stop the server
            self.log.exception("TCP server housekeeping failed")

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        st = self._stats
        st["connections"] += 1
        st["active_connections"] += 1
        try:
            if st["active_connections"] > self.max_connections:
                st["refused_connections"] += 1
                await self._send_error(writer, ProtocolError(
                    f"too many connections (limit {self.max_connections})", "retry later"), 0)
                return
            await self._serve_connection(reader, writer)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        except Exception:  # a bug in one connection must not reach the loop
            st["errors"] += 1
            self.log.exception("TCP connection failed unexpectedly")
        finally:
            st["active_connections"] -= 1
            self._tasks.discard(task)
            writer.close()
            try:
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
            except (Exception, asyncio.CancelledError):
                pass

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read frames and answer them in order until the peer leaves or errs."""
        st = self._stats
        codec = self.codec
        loop = asyncio.get_running_loop()
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
        while True:
            try:
                frame = await codec.read_async(reader, self.idle_timeout, self.read_timeout)
            except IdleTimeout:
                st["idle_closed"] += 1
                return
            except TimeoutError:
                st["errors"] += 1
                st["timeouts"] += 1
                await self._send_error(writer, ProtocolError(
                    f"frame not complete within the read timeout of {self.read_timeout:g} s",
                    "the peer is too slow or stalled"), 0)
                return
            except ConnectionLost:
                st["errors"] += 1
                return
            except ProtocolError as exc:
                st["errors"] += 1
                st["auth_errors" if isinstance(exc, AuthError) else "protocol_errors"] += 1
                self.log.warning("refused a frame from %s: %s", peer, exc.one_line())
                await self._send_error(writer, exc, getattr(exc, "request_id", None) or 0)
                return
            if frame is None:
                return
            st["frames_in"] += 1
            st["bytes_in"] += frame.size
            if frame.kind == "reply":
                st["errors"] += 1
                st["protocol_errors"] += 1
                await self._send_error(writer, ProtocolError(
                    "a reply frame was sent to a server", "send command, file or event frames"), frame.id)
                continue
            frame.header["_peer"] = peer
            header, payload, failed = await loop.run_in_executor(self._executor, self._call, frame)
            if failed:
                st["errors"] += 1
                st["handler_errors"] += 1
            if frame.kind == "event":
                continue
            try:
                sent = await codec.write_async(writer, header, payload)
            except ProtocolError as exc:  # the reply itself is too big or not JSON
                st["errors"] += 1
                sent = await codec.write_async(writer, error_header(ProtocolError(
                    f"the reply could not be sent: {exc.message}", exc.hint), frame.id))
            st["frames_out"] += 1
            st["bytes_out"] += sent

    def _call(self, frame: Frame) -> tuple[dict[str, Any], bytes, bool]:
        """Run the handler on a worker thread; turn any failure into an error reply."""
        try:
            result = self.handler(frame.header, frame.payload)
            header, payload = result
            if not isinstance(header, dict) or not isinstance(payload, (bytes, bytearray, memoryview)):
                raise TypeError(f"handler returned {type(header).__name__}, {type(payload).__name__}")
        except AnyNodeError as exc:
            return error_header(exc, frame.id), b"", True
        except Exception as exc:  # a handler bug must not kill the connection or the server
            self.log.exception("TCP handler failed on a %s frame", frame.kind)
            err = AnyNodeError(f"internal error on the peer: {type(exc).__name__}: {exc}")
            return error_header(err, frame.id), b"", True
        out = dict(header)
        out["kind"] = "reply"
        out["id"] = frame.id
        out.setdefault("ok", True)
        return out, bytes(payload), False

    async def _send_error(self, writer: asyncio.StreamWriter, err: AnyNodeError, request_id: int) -> None:
        """Best effort: tell the peer why its connection is being closed."""
        try:
            async with asyncio.timeout(min(self.read_timeout, 2.0)):
                sent = await self.codec.write_async(writer, error_header(err, request_id))
            self._stats["frames_out"] += 1
            self._stats["bytes_out"] += sent
        except (Exception, asyncio.CancelledError):
            pass
