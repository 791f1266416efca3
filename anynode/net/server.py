"""FrameServer: the threaded server behind ``run tcp server``.

One thread per connection reads that connection's frames with blocking
socket calls, runs the blocking ``handler`` inline and writes the reply back
on the same connection with the same request id, so frames on one connection
are handled in order (file chunks rely on it). ``threads`` (AnyLog's option)
bounds how many frames are being handled at once across all connections;
``max_connections`` bounds the connection threads: a peer beyond it gets an
error frame and is closed. A bad frame (garbage, oversized, malformed,
unsigned, too slow) gets an error reply when possible and closes its
connection; the server keeps serving. ``serve()`` accepts in the calling
thread, so a Service runs it on its managed thread.

Why threads: scripts/bench_tcp.py on a 2-core machine (2026-11-30, best of 3)
measured a small command round trip at 0.89 of raw sockets sequentially and
0.49 with 8 callers for a toy thread-per-connection server, against 0.35 and
0.30 for the asyncio server on uvloop this module used to hold (0.28 and 0.21
on asyncio's own loop): the event loop paid a thread hop per frame to reach
the blocking handler. In one run the same day, this server did 3.4x the
round trips of the uvloop one sequentially and 2.1x with 8 callers (0.58 and
0.58 of raw, against 0.17 and 0.27). The price is a thread per connection:
about 20 KiB of RSS per idle keep-alive peer (300 of them: 26 -> 32 MiB),
bounded by ``max_connections``.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from anynode.errors import AnyNodeError, ServiceError
from anynode.net.errors import AuthError, ConnectionLost, ProtocolError
from anynode.net.handling import BoundedHandler, Handler, error_header
from anynode.net.protocol import DEFAULT_MAX_FRAME, FrameCodec, Signer

__all__ = ["FrameServer", "Handler", "error_header"]

log = logging.getLogger("anynode.net.server")

_STOP_POLL = 0.1  # seconds between checks of the stop event by the accepting thread
_JOIN_LIMIT = 2.0  # seconds serve() waits at stop for connection threads (a handler may be busy)
_LINGER = 0.25  # seconds spent draining a dropped peer's bytes, so it reads our error, not a reset
_RECV = 4096  # bytes asked by the recv that waits for a frame: a command arrives whole, an idle
#               connection holds a small buffer (bigger frames are read on in 64 KiB steps)
_REFUSAL_LOG_EVERY = 10.0  # seconds between warnings about refused connections
_CONN_COUNTERS = ("frames_in", "frames_out", "bytes_in", "bytes_out", "errors", "protocol_errors",
                  "auth_errors", "timeouts", "handler_errors", "idle_closed")
_SERVER_COUNTERS = ("connections", "refused_connections", "tls_errors")


class _Connection:
    """One accepted peer: its socket, its thread and its own counters (no lock on the hot path)."""

    __slots__ = ("sock", "peer", "thread", "counts")

    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock = sock
        self.peer = peer
        self.thread: threading.Thread | None = None
        self.counts = dict.fromkeys(_CONN_COUNTERS, 0)


class FrameServer:
    """A TCP server of anynode frames: a thread per connection, a bounded number of handlers at once.

    Args:
        handler: ``handler(header, payload) -> (reply_header, reply_payload)``;
            blocking; may raise AnyNodeError to answer with that error. It is
            not called for ``reply`` frames; ``event`` frames get no reply.
            ``header["_peer"]`` is set by the server to the socket's
            "host:port" (whatever the peer sent under that key is replaced).
        host, port: where to listen (port 0 picks a free port, see ``port``).
        threads: how many frames may be in the handler at once, over all connections.
        ssl_context: serve TLS with this server context (handshake within ``read_timeout``).
        auth: authenticator that every frame must satisfy (None: off).
        max_frame_size: largest frame accepted or sent.
        idle_timeout: close a connection with no frame for this many seconds;
            also bounds sending one reply to a peer that does not read.
        read_timeout: a frame, once begun, must arrive within this many seconds.
        max_connections: connections open at once; more are refused.
        housekeeping: called every ``housekeeping_interval`` s by the accepting
            thread (e.g. TransferReceiver.sweep).
        logger: where refused peers and handler failures are logged.
    """

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0, *,
                 threads: int = 4, ssl_context: ssl.SSLContext | None = None,
                 auth: Signer | None = None, max_frame_size: int = DEFAULT_MAX_FRAME,
                 idle_timeout: float = 60.0, read_timeout: float = 20.0,
                 max_connections: int = 1024, backlog: int = 128,
                 housekeeping: Callable[[], None] | None = None,
                 housekeeping_interval: float = 5.0,
                 logger: logging.Logger | None = None) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        self._stopping = threading.Event()
        self._calls = BoundedHandler(handler, threads, self._stopping, logger or log)
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
        self.log = logger or log
        self._bound: tuple[str, int] | None = None
        self._lock = threading.Lock()  # guards _conns, _totals and the refusal log state
        self._conns: dict[int, _Connection] = {}
        self._totals = dict.fromkeys(_CONN_COUNTERS + _SERVER_COUNTERS, 0)
        self._unlogged = 0  # warnings about refused connections held back by _warn_limited
        self._logged_at = float("-inf")

    # -- public ---------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound; valid once ready() has been called."""
        if self._bound is None:
            raise ServiceError("the TCP server is not listening yet", "wait for it to be ready")
        return self._bound

    @property
    def handler(self) -> Handler:
        """The handler frames go to (may be replaced while serving)."""
        return self._calls.handler

    @handler.setter
    def handler(self, handler: Handler) -> None:
        self._calls.handler = handler

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        return self.address[1]

    def stats(self) -> dict[str, int]:
        """Counters: connections (total, active, refused), frames and bytes in/out, errors by cause."""
        with self._lock:
            out = dict(self._totals)
            for conn in self._conns.values():
                for key, value in conn.counts.items():
                    out[key] += value
            out["active_connections"] = len(self._conns)
        return out

    def shutdown(self) -> None:
        """Ask a running serve() to return now (thread-safe; stop works too)."""
        self._stopping.set()

    def serve(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        """Listen, call ``ready()``, serve until ``stop`` is set, then clean up.

        Returns within about 0.1 s of ``stop`` (plus any handler still
        running, waited for at most 2 s) and leaves no thread behind.
        Raises ServiceError if it cannot listen.
        """
        lsock = self._listen()
        self._stopping.clear()
        try:
            lsock.settimeout(_STOP_POLL)
            ready()
            chores_due = time.monotonic() + self.housekeeping_interval
            while not stop.is_set() and not self._stopping.is_set():
                try:
                    sock, addr = lsock.accept()
                except TimeoutError:
                    pass
                except OSError as exc:  # e.g. out of file descriptors: keep serving who is connected
                    self._warn_limited("TCP server cannot accept a connection: %s", exc.strerror or exc)
                    stop.wait(_STOP_POLL)
                else:
                    self._admit(sock, addr)
                if self.housekeeping is not None and time.monotonic() >= chores_due:
                    self._run_housekeeping()
                    chores_due = time.monotonic() + self.housekeeping_interval
        finally:
            self._stopping.set()
            lsock.close()
            self._close_connections()

    # -- accepting ------------------------------------------------------------

    def _listen(self) -> socket.socket:
        """Bind the listening socket here, so a busy port fails before ready() (SO_REUSEADDR is set)."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            sock = socket.create_server((self.host, self._port), family=family, backlog=self.backlog)
        except OSError as exc:
            raise ServiceError(f"TCP server cannot listen on {self.host}:{self._port}: {exc.strerror or exc}",
                               "choose another port, or stop the process that uses it") from None
        host, port = sock.getsockname()[:2]
        self._bound = (host, port)
        return sock

    def _admit(self, sock: socket.socket, addr: Any) -> None:
        """Start a thread for a new peer, or refuse it when ``max_connections`` are open."""
        peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr)
        conn = _Connection(sock, peer)
        with self._lock:
            self._totals["connections"] += 1
            admitted = len(self._conns) < self.max_connections
            if admitted:
                self._conns[id(conn)] = conn
        if not admitted:
            self._refuse(sock, peer, f"too many connections (limit {self.max_connections})")
            return
        thread = threading.Thread(target=self._run_connection, args=(conn,), daemon=True,
                                  name=f"anynode:tcp-conn:{peer}")
        conn.thread = thread
        try:
            thread.start()
        except RuntimeError as exc:  # the process cannot start another thread
            with self._lock:
                del self._conns[id(conn)]
            self._refuse(sock, peer, f"no thread for the connection ({exc})")

    def _refuse(self, sock: socket.socket, peer: str, reason: str) -> None:
        """Tell the peer why (plain TCP only: TLS would need a handshake) and close; log it."""
        with self._lock:
            self._totals["refused_connections"] += 1
        self._warn_limited("refused a TCP connection from %s: %s", peer, reason)
        try:
            if self.ssl_context is None:
                head, body = self.codec.encode(error_header(ProtocolError(reason, "retry later"), 0))
                sock.setblocking(False)  # a fresh socket's send buffer takes a small frame at once
                sock.send(head + body)
                sock.shutdown(socket.SHUT_WR)
        except (OSError, ProtocolError):
            pass
        finally:
            sock.close()

    def _warn_limited(self, message: str, *args: Any) -> None:
        """Log a warning about refused connections at most every 10 s, so a flood cannot flood the log."""
        now = time.monotonic()
        with self._lock:
            self._unlogged += 1
            due = now - self._logged_at >= _REFUSAL_LOG_EVERY
            if due:
                count, self._unlogged, self._logged_at = self._unlogged, 0, now
        if due:
            more = f" ({count - 1} more since the last message)" if count > 1 else ""
            self.log.warning(message + more, *args)

    def _run_housekeeping(self) -> None:
        assert self.housekeeping is not None
        try:
            self.housekeeping()
        except Exception:  # one failed chore must not stop the server
            self.log.exception("TCP server housekeeping failed")

    def _close_connections(self) -> None:
        """At stop: shut every connection's socket (which wakes its thread) and join the threads, bounded."""
        with self._lock:
            conns = list(self._conns.values())
            for conn in conns:
                try:
                    socket.socket.shutdown(conn.sock, socket.SHUT_RDWR)  # the plain call, also on a TLS socket
                except OSError:
                    pass
        deadline = time.monotonic() + _JOIN_LIMIT
        for conn in conns:
            if conn.thread is not None:
                conn.thread.join(max(0.0, deadline - time.monotonic()))
        busy = [conn.peer for conn in conns if conn.thread is not None and conn.thread.is_alive()]
        if busy:
            self.log.warning("TCP server stopped with %d connection(s) still in a handler: %s",
                             len(busy), ", ".join(busy))

    # -- one connection, in its own thread ---------------------------------------

    def _run_connection(self, conn: _Connection) -> None:
        try:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is None or self._handshake(conn):
                self._serve_connection(conn)
        except OSError:  # reset, broken pipe, shut down at stop, TLS failure mid-stream
            pass
        except Exception:  # a bug in one connection must not reach the server
            conn.counts["errors"] += 1
            self.log.exception("TCP connection from %s failed unexpectedly", conn.peer)
        finally:
            with self._lock:  # closed under the lock, so _close_connections never shuts a closed socket
                self._conns.pop(id(conn), None)
                for key, value in conn.counts.items():
                    self._totals[key] += value
                try:
                    conn.sock.close()
                except OSError:
                    pass

    def _handshake(self, conn: _Connection) -> bool:
        """Wrap the socket in TLS and shake hands within the read timeout; False (logged) on failure."""
        assert self.ssl_context is not None
        wrapped = self.ssl_context.wrap_socket(conn.sock, server_side=True, do_handshake_on_connect=False)
        with self._lock:  # the plain socket is detached now: stop must shut the TLS one
            conn.sock = wrapped
        try:
            wrapped.settimeout(self.read_timeout)
            wrapped.do_handshake()
        except (OSError, ValueError) as exc:
            if not self._stopping.is_set():
                with self._lock:
                    self._totals["tls_errors"] += 1
                self.log.warning("TLS handshake with %s failed: %s", conn.peer, exc)
            return False
        return True

    def _serve_connection(self, conn: _Connection) -> None:
        """Read frames and answer them in order until the peer leaves, errs or idles, or the server stops."""
        sock, codec, st = conn.sock, self.codec, conn.counts
        buf = bytearray()  # bytes received past the last frame
        while not self._stopping.is_set():
            if not buf:  # between frames: the idle timeout applies
                if sock.gettimeout() != self.idle_timeout:
                    sock.settimeout(self.idle_timeout)
                try:
                    chunk = sock.recv(_RECV)
                except TimeoutError:
                    st["idle_closed"] += 1
                    return
                if not chunk:
                    return
                buf += chunk
            try:
                frame = codec.read(sock, time.monotonic() + self.read_timeout, buf)
            except TimeoutError:
                st["errors"] += 1
                st["timeouts"] += 1
                self._send_error(conn, ProtocolError(
                    f"frame not complete within the read timeout of {self.read_timeout:g} s",
                    "the peer is too slow or stalled"), 0)
                return
            except ConnectionLost:
                st["errors"] += 1
                return
            except ProtocolError as exc:
                st["errors"] += 1
                st["auth_errors" if isinstance(exc, AuthError) else "protocol_errors"] += 1
                self.log.warning("refused a frame from %s: %s", conn.peer, exc.one_line())
                self._send_error(conn, exc, getattr(exc, "request_id", None) or 0)
                return
            if frame is None:
                return
            st["frames_in"] += 1
            st["bytes_in"] += frame.size
            if frame.kind == "reply":
                st["errors"] += 1
                st["protocol_errors"] += 1
                refusal = ProtocolError("a reply frame was sent to a server", "send command, file or event frames")
                self._send(conn, error_header(refusal, frame.id), b"", frame.id)
                continue
            frame.header["_peer"] = conn.peer
            answer = self._calls(frame)
            if answer is None:  # stopping while waiting for a handler slot
                return
            header, payload, failed = answer
            if failed:
                st["errors"] += 1
                st["handler_errors"] += 1
            if frame.kind != "event":
                self._send(conn, header, payload, frame.id)

    def _send(self, conn: _Connection, header: dict[str, Any], payload: bytes, request_id: int) -> None:
        """Send one reply; one that cannot be framed (too big, not JSON) becomes an error reply.

        Counted before sending, so a peer that has read the reply sees it in stats().
        The idle timeout bounds the send to a peer that does not read.
        """
        codec, st = self.codec, conn.counts
        try:
            head, body = codec.encode(header, payload)
        except ProtocolError as exc:
            st["errors"] += 1
            head, body = codec.encode(error_header(ProtocolError(
                f"the reply could not be sent: {exc.message}", exc.hint), request_id))
        st["frames_out"] += 1
        st["bytes_out"] += len(head) + len(body)
        if conn.sock.gettimeout() != self.idle_timeout:
            conn.sock.settimeout(self.idle_timeout)
        codec.send(conn.sock, head, body)

    def _send_error(self, conn: _Connection, err: AnyNodeError, request_id: int) -> None:
        """Best effort before closing: tell the peer why, then read what it still sends for a moment,
        so closing with unread bytes does not reset the connection before the peer reads the error."""
        sock = conn.sock
        try:
            head, body = self.codec.encode(error_header(err, request_id))
            conn.counts["frames_out"] += 1
            conn.counts["bytes_out"] += len(head) + len(body)
            sock.settimeout(min(self.read_timeout, 2.0))
            self.codec.send(sock, head, body)
            sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + _LINGER
            while (left := deadline - time.monotonic()) > 0 and not self._stopping.is_set():
                sock.settimeout(left)
                if not sock.recv(65536):
                    break
        except (OSError, ProtocolError, ValueError):
            pass
