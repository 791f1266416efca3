"""NetClient: requests to peers over pooled connections, and fan-out.

A connection to a peer is kept in a small idle pool after its reply and reused
by the next request to the same host:port, so ``run client`` and query
fan-outs pay the TCP handshake once. Broken or stale sockets are discarded
(a request on a reused socket that the peer had closed is retried once on a
fresh one). Every call is bounded: connect, send and read share one deadline.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from anynode.cancel import Cancel
from anynode.errors import AnyNodeError, RemoteTimeout, ValidationError
from anynode.net.conn import Conn, Stale, refusal, secs, stop_if_cancelled, translate
from anynode.net.dest import Dest, PeerReply, dest_key, parse_dest
from anynode.net.errors import (
    ConnectionLost,
    PeerError,
    ProtocolError,
    RemoteError,
    Unreachable,
)
from anynode.net.protocol import DEFAULT_MAX_FRAME, FrameCodec, Signer

__all__ = ["Dest", "NetClient", "Observer", "PeerReply", "dest_key", "parse_dest"]

_TRUST_IDLE = 1.0  # a socket idle less than this is used without a liveness probe

Observer = Callable[[str, bool], object]
"""Told each request's outcome: the peer's ``host:port`` and whether it was reached (it answered, even an error)."""

class NetClient:
    """Sends frames to peers over pooled connections; owns the fan-out pool.

    Args:
        auth: authenticator for signing requests and verifying replies.
        ssl_context: a client TLS context (None: plain TCP).
        connect_timeout: seconds to establish a connection.
        timeout: default seconds for a whole request (connect + send + reply).
        idle_timeout: a pooled connection unused this long is not reused;
            keep it below the servers' idle timeout.
        max_idle_per_peer: idle connections kept per host:port.
        workers: fan-out threads (created on demand, named anynode:client).
    """

    def __init__(self, *, auth: Signer | None = None, ssl_context: ssl.SSLContext | None = None,
                 connect_timeout: float = 6.0, timeout: float = 20.0, idle_timeout: float = 30.0,
                 max_idle_per_peer: int = 4, max_frame_size: int = DEFAULT_MAX_FRAME,
                 workers: int = 32) -> None:
        self.codec = FrameCodec(max_frame_size, auth)
        self.ssl_context = ssl_context
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.idle_timeout = idle_timeout
        self.max_idle_per_peer = max_idle_per_peer
        self._idle: dict[str, deque[Conn]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="anynode:client")
        self._stats = dict.fromkeys(("connects", "reuses", "requests", "errors", "discarded"), 0)
        self._observers: tuple[Observer, ...] = ()

    def observe(self, observer: Observer) -> None:
        """Tell ``observer`` the outcome of every request from now on (the metadata's operator liveness)."""
        with self._lock:
            if observer not in self._observers:
                self._observers += (observer,)

    def _tell(self, key: str, reached: bool) -> None:
        for observer in self._observers:
            try:
                observer(key, reached)
            except Exception:  # noqa: BLE001 - an observer never breaks a request
                continue

    # -- public ---------------------------------------------------------------

    def request(self, dest: Dest, header: dict[str, Any], payload: bytes = b"",
                timeout: float | None = None) -> tuple[dict[str, Any], bytes]:
        """Send one frame to ``dest`` and return its reply (header, payload).

        ``header["kind"]`` defaults to ``command``; the id is set here.
        Raises Unreachable, RemoteTimeout, ConnectionLost, ProtocolError,
        AuthError, or PeerError when the peer answered with an error.
        """
        limit = self.timeout if timeout is None else timeout
        return self._request(dest, header, payload, time.monotonic() + limit, limit)

    def _request(self, dest: Dest, header: dict[str, Any], payload: bytes, deadline: float,
                 limit: float, cancel: Cancel | None = None) -> tuple[dict[str, Any], bytes]:
        """request() against an absolute deadline; ``limit`` is the timeout errors quote.

        ``cancel`` (Ctrl-C) cuts the connection while it waits for the reply: QueryCancelled.
        """
        host, port = parse_dest(dest)
        key = dest_key(host, port)
        self._count("requests")
        try:
            for attempt in (1, 2):
                stop_if_cancelled(cancel, key)
                conn = self._checkout(key, host, port, deadline, limit)
                try:
                    if cancel is None:
                        reply = self._exchange(conn, header, payload, deadline, limit)
                    else:
                        reply = self._exchange_cancellable(conn, header, payload, deadline, limit, cancel)
                    self._tell(key, True)
                    return reply
                except Stale:
                    self._count("discarded")
                    conn.close()
                    if attempt == 2 or not conn.reused:
                        raise ConnectionLost(f"{key} closed the connection before replying",
                                             "the peer may be stopping; check it with get status") from None
            raise AssertionError("unreachable")  # pragma: no cover
        except AnyNodeError as exc:
            self._count("errors")
            self._tell(key, isinstance(exc, (PeerError, ProtocolError)))  # it answered, if with an error
            raise

    def stream(self, dest: Dest, header: dict[str, Any], payload: bytes = b"",
               timeout: float | None = None) -> Iterator[tuple[dict[str, Any], bytes]]:
        """Send one frame and yield the parts of its reply (a Stream on the peer) as they arrive.

        ``timeout`` bounds the whole reply. A caller that stops reading early
        closes the connection (the peer's remaining parts are not wanted).
        Raises what :meth:`request` raises, when the parts begin or between them.
        """
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        host, port = parse_dest(dest)
        key = dest_key(host, port)
        self._count("requests")
        for attempt in (1, 2):
            try:
                conn = self._checkout(key, host, port, deadline, limit)
            except AnyNodeError:
                self._count("errors")
                self._tell(key, False)
                raise
            request_id = conn.next_id()
            done = started = False
            try:
                conn.sock.settimeout(max(deadline - time.monotonic(), 0.001))
                self.codec.write(conn.sock, dict(header, kind=header.get("kind", "command"), id=request_id), payload)
                while not done:
                    conn.sock.settimeout(max(deadline - time.monotonic(), 0.001))
                    reply = self.codec.read(conn.sock, deadline, conn.rbuf)
                    if reply is None:
                        raise Stale()
                    bad = refusal(reply, request_id, key)
                    if bad is not None:
                        err, done = bad  # a connection the server did not close goes back to the pool
                        raise err
                    head = reply.header
                    done = not head.get("more")
                    if not started:
                        self._tell(key, True)
                    started = True
                    yield head, reply.payload
                return
            except (Stale, BrokenPipeError, ConnectionResetError):
                done = False
                if started or attempt == 2 or not conn.reused:
                    self._count("errors")
                    raise ConnectionLost(f"{key} closed the connection before its reply ended",
                                         "the peer may be stopping; check it with get status") from None
                self._count("discarded")
            except AnyNodeError as exc:
                self._count("errors")
                self._tell(key, isinstance(exc, (PeerError, ProtocolError)))  # it answered, if with an error
                raise
            except OSError as exc:
                done = False
                self._count("errors")
                self._tell(key, False)
                raise translate(exc, key, limit) from None
            finally:
                if done:
                    self._checkin(conn)
                else:
                    conn.close()

    def send_command(self, dest: Dest, command: str, timeout: float | None = None,
                     **fields: Any) -> tuple[dict[str, Any], bytes]:
        """Ask ``dest`` to run ``command``; return its reply (header, payload)."""
        limit = self.timeout if timeout is None else timeout
        # the peer stops the command's queries when we stop waiting
        return self.request(dest, {"kind": "command", "command": command, "timeout": limit, **fields}, b"", limit)

    def send_event(self, dest: Dest, header: dict[str, Any], payload: bytes = b"",
                   timeout: float | None = None) -> None:
        """Send a one-way ``event`` frame (no reply is awaited)."""
        host, port = parse_dest(dest)
        key = dest_key(host, port)
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        conn = self._checkout(key, host, port, deadline, limit)
        try:
            frame = dict(header, kind="event", id=conn.next_id())
            conn.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            self.codec.write(conn.sock, frame, payload)
        except (OSError, AnyNodeError) as exc:
            conn.close()
            raise translate(exc, key, limit) from None
        self._checkin(conn)

    def fan_out(self, dests: Iterable[Dest], header: dict[str, Any], payload: bytes = b"",
                timeout: float | None = None, cancel: Cancel | None = None) -> list[PeerReply]:
        """Send the same frame to every destination in parallel.

        Returns within ``timeout`` one PeerReply per distinct destination, in
        the given order: the reply, or the error (unreachable, timed out,
        refused by auth, protocol error, or the peer's own error).
        """
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        entries: list[PeerReply] = []
        futures = {}
        seen: set[str] = set()
        dests = list(dests)
        if len(dests) == 1:  # nothing to overlap: skip the hand-off to a pool thread (bounded by deadline)
            try:
                entry = PeerReply(dest_key(*parse_dest(dests[0])))
            except ValidationError as exc:
                return [PeerReply(str(dests[0]), error=exc)]
            self._one(entry, header, payload, deadline, limit, cancel)
            return [entry]
        for dest in dests:
            try:
                key = dest_key(*parse_dest(dest))
            except ValidationError as exc:
                entries.append(PeerReply(str(dest), error=exc))
                continue
            if key in seen:
                continue
            seen.add(key)
            entry = PeerReply(key)
            entries.append(entry)
            futures[self._pool.submit(self._one, entry, header, payload, deadline, limit, cancel)] = entry
        if futures:
            wait(futures, timeout=max(deadline - time.monotonic(), 0) + 0.2)
        for fut, entry in futures.items():
            if not fut.done():
                entry.error = RemoteTimeout(f"no reply from {entry.dest} within {secs(limit)} s")
                entry.elapsed = limit
        return entries

    def fan_out_command(self, dests: Iterable[Dest], command: str,
                        timeout: float | None = None, cancel: Cancel | None = None) -> list[PeerReply]:
        """Run ``command`` on every destination in parallel (see fan_out); ``cancel`` stops waiting for them."""
        limit = self.timeout if timeout is None else timeout
        return self.fan_out(dests, {"kind": "command", "command": command, "timeout": limit}, b"", limit, cancel)

    def stats(self) -> dict[str, int]:
        """Counters: connects, reuses, requests, errors, discarded, idle."""
        with self._lock:
            out = dict(self._stats)
            out["idle"] = sum(len(q) for q in self._idle.values())
        return out

    def close(self) -> None:
        """Close pooled connections and stop the fan-out threads."""
        with self._lock:
            self._closed = True
            idle = [c for q in self._idle.values() for c in q]
            self._idle.clear()
        for conn in idle:
            conn.close()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> NetClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._stats[name] += n

    def _one(self, entry: PeerReply, header: dict[str, Any], payload: bytes, deadline: float,
             limit: float, cancel: Cancel | None = None) -> None:
        started = time.monotonic()
        try:
            if deadline <= started:
                raise RemoteTimeout(f"no reply from {entry.dest}: the fan-out deadline passed before sending")
            entry.header, entry.payload = self._request(entry.dest, header, payload, deadline, limit, cancel)
        except AnyNodeError as exc:
            entry.error = exc
        except Exception as exc:  # keep one bad peer from hiding the others' replies
            entry.error = RemoteError(f"request to {entry.dest} failed: {type(exc).__name__}: {exc}")
        entry.elapsed = time.monotonic() - started

    def _checkout(self, key: str, host: str, port: int, deadline: float, limit: float) -> Conn:
        now = time.monotonic()
        while True:
            with self._lock:
                if self._closed:
                    raise RemoteError("the network client is closed", "this node is shutting down")
                queue = self._idle.get(key)
                conn = queue.pop() if queue else None
            if conn is None:
                break
            idle = now - conn.last_used
            if idle < self.idle_timeout and (idle < _TRUST_IDLE or conn.alive()):
                conn.reused = True
                self._count("reuses")
                return conn
            self._count("discarded")
            conn.close()
        return self._connect(key, host, port, deadline, limit)

    def _connect(self, key: str, host: str, port: int, deadline: float, limit: float) -> Conn:
        left = min(self.connect_timeout, deadline - time.monotonic())
        if left <= 0:
            raise RemoteTimeout(f"no time left to connect to {key} within {secs(limit)} s")
        try:
            sock = socket.create_connection((host, port), timeout=left)
        except TimeoutError:
            raise RemoteTimeout(f"connecting to {key} timed out after {secs(left)} s",
                                "is the peer up and reachable from here?") from None
        except ConnectionRefusedError:
            raise Unreachable(f"cannot reach {key}: connection refused",
                              "is a TCP server running there (run tcp server)?") from None
        except OSError as exc:
            raise Unreachable(f"cannot reach {key}: {exc.strerror or exc}",
                              "check the address and the network") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            try:
                sock = self.ssl_context.wrap_socket(sock, server_hostname=host)
            except (ssl.SSLError, OSError) as exc:
                sock.close()
                raise ProtocolError(f"TLS handshake with {key} failed: {exc}",
                                    "check that both nodes use TLS and trust each other's certificate") from None
        self._count("connects")
        return Conn(sock, key)

    def _checkin(self, conn: Conn) -> None:
        conn.last_used = time.monotonic()
        with self._lock:
            if not self._closed and not conn.rbuf:  # stray bytes: the stream is out of step
                queue = self._idle.setdefault(conn.key, deque())
                if len(queue) < self.max_idle_per_peer:
                    queue.append(conn)
                    return
        conn.close()

    def _exchange_cancellable(self, conn: Conn, header: dict[str, Any], payload: bytes, deadline: float,
                              limit: float, cancel: Cancel) -> tuple[dict[str, Any], bytes]:
        """_exchange, with ``cancel`` cutting the socket: whatever that breaks reads as QueryCancelled."""
        try:
            with cancel.hook(conn.abort):
                return self._exchange(conn, header, payload, deadline, limit)
        except (Stale, AnyNodeError):
            if cancel.cancelled:
                conn.close()
                stop_if_cancelled(cancel, conn.key)
            raise

    def _exchange(self, conn: Conn, header: dict[str, Any], payload: bytes,
                  deadline: float, limit: float) -> tuple[dict[str, Any], bytes]:
        """Write the request, read the matching reply; pool the socket if clean."""
        key = conn.key
        request_id = conn.next_id()
        frame_header = dict(header)
        frame_header.setdefault("kind", "command")
        frame_header["id"] = request_id
        try:
            conn.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                self.codec.write(conn.sock, frame_header, payload)
            except (BrokenPipeError, ConnectionResetError):
                raise Stale() from None
            reply = self.codec.read(conn.sock, deadline, conn.rbuf)
            if reply is None:
                raise Stale()
        except Stale:
            raise
        except (OSError, AnyNodeError) as exc:
            conn.close()
            raise translate(exc, key, limit) from None
        bad = refusal(reply, request_id, key)
        if bad is not None:
            err, usable = bad
            if usable:
                self._checkin(conn)
            else:
                conn.close()
            raise err
        self._checkin(conn)
        return reply.header, reply.payload
