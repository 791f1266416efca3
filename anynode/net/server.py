"""FrameServer: the threaded server behind ``run tcp server``.

One thread per connection reads that connection's frames with blocking
socket calls, runs the blocking ``handler`` inline and writes the reply back
on the same connection with the same request id, so frames on one connection
are handled in order (file chunks rely on it). ``threads`` (AnyLog's option)
bounds how many frames are being handled at once across all connections;
``max_connections`` bounds the connections past their first verified frame,
``max_pending`` and ``first_frame_timeout`` those before it (see
anynode.net.admission): a peer beyond a cap gets an error frame and is
closed. A bad frame (garbage, oversized, malformed, unsigned, too slow) gets
an error reply when possible and closes its connection; the server keeps
serving. ``serve()`` accepts in the calling
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
bounded by ``max_connections`` + ``max_pending``.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from anynode.errors import ServiceError
from anynode.net.admission import CONN_COUNTERS, Connection, Pools, Throttled
from anynode.net.errors import AuthError, ConnectionLost, ProtocolError
from anynode.net.handling import BoundedHandler, Handler, Stream, error_header
from anynode.net.protocol import DEFAULT_MAX_FRAME, FrameCodec, Signer
from anynode.net.replies import ReplyWriter

__all__ = ["FrameServer", "Handler", "error_header"]

log = logging.getLogger("anynode.net.server")

_STOP_POLL = 0.1  # seconds between checks of the stop event by the accepting thread
_JOIN_LIMIT = 2.0  # seconds serve() waits at stop for connection threads (a handler may be busy)
_RECV = 4096  # bytes asked by the recv that waits for a frame: a command arrives whole, an idle
#               connection holds a small buffer (bigger frames are read on in 64 KiB steps)
_REFUSAL_LOG_EVERY = 10.0  # seconds between warnings about refused, dropped or late strangers
_SERVER_COUNTERS = ("connections", "refused_connections", "evicted_connections", "tls_errors")


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
        ssl_context: serve TLS with this server context (handshake within both timeouts below).
        auth: authenticator that every frame must satisfy (None: off).
        max_frame_size: largest frame accepted or sent.
        idle_timeout: close a connection with no frame for this many seconds;
            also bounds sending one reply to a peer that does not read.
        read_timeout: a frame, once begun, must arrive within this many seconds.
        max_connections: connections open at once that have sent a verified
            frame; more are refused.
        max_pending: connections open at once that have not yet; when full,
            the oldest of them is dropped to make room for a new one.
        first_frame_timeout: a new connection must complete its TLS handshake
            and send its first verified frame within this many seconds.
        housekeeping: called every ``housekeeping_interval`` s by the accepting
            thread (e.g. TransferReceiver.sweep).
        logger: where refused peers and handler failures are logged.
    """

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0, *,
                 threads: int = 4, ssl_context: ssl.SSLContext | None = None,
                 auth: Signer | None = None, max_frame_size: int = DEFAULT_MAX_FRAME,
                 idle_timeout: float = 60.0, read_timeout: float = 20.0,
                 max_connections: int = 1024, max_pending: int = 128,
                 first_frame_timeout: float = 5.0, backlog: int = 128,
                 housekeeping: Callable[[], None] | None = None,
                 housekeeping_interval: float = 5.0,
                 logger: logging.Logger | None = None) -> None:
        if first_frame_timeout <= 0:
            raise ValueError(f"first_frame_timeout must be positive, not {first_frame_timeout}")
        self._pools = Pools(max_connections, max_pending)
        self._stopping = threading.Event()
        self._calls = BoundedHandler(handler, threads, self._stopping, logger or log)
        self.host = host
        self._port = port
        self.threads = threads
        self.ssl_context = ssl_context
        self.codec = FrameCodec(max_frame_size, auth)
        self.idle_timeout = idle_timeout
        self.read_timeout = read_timeout
        self.max_connections, self.max_pending = max_connections, max_pending
        self.first_frame_timeout = first_frame_timeout
        self.backlog = backlog
        self.housekeeping = housekeeping
        self.housekeeping_interval = housekeeping_interval
        self.log = logger or log
        self._bound: tuple[str, int] | None = None
        self._lock = threading.Lock()  # guards _pools and _totals
        self._totals = dict.fromkeys(CONN_COUNTERS + _SERVER_COUNTERS, 0)
        self._warn_limited = Throttled(self.log, _REFUSAL_LOG_EVERY)
        self._replies = ReplyWriter(self.codec, idle_timeout, read_timeout, self.log, self._stopping)

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
        """Counters: connections (total, active, pending, refused, evicted), frames and bytes, errors by cause."""
        with self._lock:
            out = dict(self._totals)
            for conn in self._pools.conns.values():
                for key, value in conn.counts.items():
                    out[key] += value
            out["active_connections"] = self._pools.main
            out["pending_connections"] = len(self._pools.pending)
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
        """Start a thread for a new peer in the pending pool, or refuse it when the main pool is full.

        When the pending pool is full, its oldest connection is shut for
        reading, which wakes its thread to tell that peer why and close.
        """
        peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr)
        conn = Connection(sock, peer)
        with self._lock:
            self._totals["connections"] += 1
            refusal = self._pools.full()
            dropped = None if refusal else self._pools.admit(conn)
            if dropped is not None:
                self._totals["evicted_connections"] += 1
                try:
                    socket.socket.shutdown(dropped.sock, socket.SHUT_RD)  # the plain call, also on a TLS socket
                except OSError:
                    pass
        if refusal:
            self._refuse(sock, peer, refusal)
            return
        if dropped is not None:
            self._warn_limited("dropped a TCP connection from %s that sent no frame yet: more than %d "
                               "connections were waiting for their first frame", dropped.peer, self.max_pending)
        thread = threading.Thread(target=self._run_connection, args=(conn,), daemon=True,
                                  name=f"anynode:tcp-conn:{peer}")
        conn.thread = thread
        try:
            thread.start()
        except RuntimeError as exc:  # the process cannot start another thread
            with self._lock:
                self._pools.release(conn)
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

    def _run_housekeeping(self) -> None:
        assert self.housekeeping is not None
        try:
            self.housekeeping()
        except Exception:  # one failed chore must not stop the server
            self.log.exception("TCP server housekeeping failed")

    def _close_connections(self) -> None:
        """At stop: shut every connection's socket (which wakes its thread) and join the threads, bounded."""
        with self._lock:
            conns = list(self._pools.conns.values())
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

    def _run_connection(self, conn: Connection) -> None:
        try:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is None or self._handshake(conn):
                self._serve_connection(conn)
            if conn.evicted and not self._stopping.is_set():
                self._replies.error(conn, ProtocolError(
                    f"connection dropped before its first frame: more than {self.max_pending} connections "
                    "were waiting for theirs", "send the first frame as soon as the connection is open"), 0)
        except OSError:  # reset, broken pipe, shut down at stop, TLS failure mid-stream
            pass
        except Exception:  # a bug in one connection must not reach the server
            conn.counts["errors"] += 1
            self.log.exception("TCP connection from %s failed unexpectedly", conn.peer)
        finally:
            with self._lock:  # closed under the lock, so _close_connections never shuts a closed socket
                self._pools.release(conn)
                for key, value in conn.counts.items():
                    self._totals[key] += value
                try:
                    conn.sock.close()
                except OSError:
                    pass

    def _handshake(self, conn: Connection) -> bool:
        """Wrap the socket in TLS and shake hands within the read and first-frame timeouts; False on failure."""
        assert self.ssl_context is not None
        wrapped = self.ssl_context.wrap_socket(conn.sock, server_side=True, do_handshake_on_connect=False)
        with self._lock:  # the plain socket is detached now: stop must shut the TLS one
            conn.sock = wrapped
        try:
            wrapped.settimeout(min(self.read_timeout, self._first_frame_left(conn)))
            wrapped.do_handshake()
        except (OSError, ValueError) as exc:
            if not self._stopping.is_set() and not conn.evicted:
                with self._lock:
                    self._totals["tls_errors"] += 1
                self.log.warning("TLS handshake with %s failed: %s", conn.peer, exc)
            return False
        return True

    def _serve_connection(self, conn: Connection) -> None:
        """Read frames and answer them in order until the peer leaves, errs or idles, or the server stops."""
        sock, codec, st = conn.sock, self.codec, conn.counts
        buf = bytearray()  # bytes received past the last frame
        while not self._stopping.is_set():
            if not buf:  # between frames: the idle timeout applies, and the first-frame one before a first frame
                wait = self.idle_timeout if conn.verified else min(self.idle_timeout, self._first_frame_left(conn))
                if sock.gettimeout() != wait:
                    sock.settimeout(wait)
                try:
                    chunk = sock.recv(_RECV)
                except TimeoutError:
                    if conn.verified or wait == self.idle_timeout:
                        st["idle_closed"] += 1
                    else:
                        self._first_frame_late(conn)
                    return
                if not chunk:
                    return
                buf += chunk
            deadline = time.monotonic() + self.read_timeout
            first_deadline = conn.since + self.first_frame_timeout
            try:
                frame = codec.read(sock, deadline if conn.verified else min(deadline, first_deadline), buf)
            except TimeoutError:
                if not conn.verified and first_deadline < deadline:
                    self._first_frame_late(conn)
                    return
                st["errors"] += 1
                st["timeouts"] += 1
                self._replies.error(conn, ProtocolError(
                    f"frame not complete within the read timeout of {self.read_timeout:g} s",
                    "the peer is too slow or stalled"), 0)
                return
            except ConnectionLost:
                st["errors"] += 1
                return
            except ProtocolError as exc:
                st["errors"] += 1
                st["auth_errors" if isinstance(exc, AuthError) else "protocol_errors"] += 1
                if conn.verified:
                    self.log.warning("refused a frame from %s: %s", conn.peer, exc.one_line())
                else:  # a stranger may send many: rate-limited
                    self._warn_limited("refused a frame from %s: %s", conn.peer, exc.one_line())
                self._replies.error(conn, exc, getattr(exc, "request_id", None) or 0)
                return
            if frame is None:
                return
            if not conn.verified:
                with self._lock:
                    refusal = self._pools.promote(conn)
                if refusal is not None:
                    if not conn.evicted:  # an evicted connection is told why by _run_connection
                        self._replies.error(conn, ProtocolError(refusal, "retry later"), frame.id)
                    return
            st["frames_in"] += 1
            st["bytes_in"] += frame.size
            if frame.kind == "reply":
                st["errors"] += 1
                st["protocol_errors"] += 1
                wrong = ProtocolError("a reply frame was sent to a server", "send command, file or event frames")
                self._replies.send(conn, error_header(wrong, frame.id), b"", frame.id)
                continue
            frame.header["_peer"] = conn.peer
            answer = self._calls(frame)
            if answer is None:  # stopping while waiting for a handler slot
                return
            header, payload, failed = answer
            if failed:
                st["errors"] += 1
                st["handler_errors"] += 1
            if isinstance(header, Stream):
                self._replies.stream(conn, header, frame.id)
            elif frame.kind != "event":
                self._replies.send(conn, header, payload, frame.id)

    def _first_frame_left(self, conn: Connection) -> float:
        """Seconds left for a pending connection to send its first frame (a small positive floor)."""
        return max(conn.since + self.first_frame_timeout - time.monotonic(), 0.001)

    def _first_frame_late(self, conn: Connection) -> None:
        """Close a pending connection that sent no complete frame in time, saying why (logged, rate-limited)."""
        conn.counts["errors"] += 1
        conn.counts["first_frame_timeouts"] += 1
        self._warn_limited("closed a TCP connection from %s: no complete frame within the first-frame "
                           "timeout of %g s", conn.peer, self.first_frame_timeout)
        self._replies.error(conn, ProtocolError(
            f"no complete frame within the first-frame timeout of {self.first_frame_timeout:g} s",
            "send the first frame as soon as the connection is open"), 0)
