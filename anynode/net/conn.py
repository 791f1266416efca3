"""The client's connections: a pooled socket, how a reply is judged, how a socket failure is told.

Parts of :mod:`anynode.net.client` kept apart so that module stays about requests and the pool.
"""

from __future__ import annotations

import socket
import ssl
import time

from anynode.cancel import Cancel
from anynode.errors import AnyNodeError, QueryCancelled, RemoteTimeout
from anynode.net.errors import AuthError, ConnectionLost, ProtocolError, RemoteError, error_from_wire
from anynode.net.protocol import Frame


def secs(seconds: float) -> str:
    """Seconds as a user reads them: 1, 0.3, 20."""
    return f"{seconds:.3g}"


def stop_if_cancelled(cancel: Cancel | None, key: str) -> None:
    """QueryCancelled when ``cancel`` is set (Ctrl-C) before a request to ``key`` starts."""
    if cancel is not None and cancel.cancelled:
        raise QueryCancelled(f"the request to {key} was cancelled ({cancel.reason})")


class Conn:
    """One socket to one peer, with its own request-id counter."""

    __slots__ = ("ids", "key", "last_used", "rbuf", "reused", "sock")

    def __init__(self, sock: socket.socket, key: str) -> None:
        self.sock = sock
        self.key = key
        self.ids = 0
        self.last_used = time.monotonic()
        self.reused = False
        self.rbuf = bytearray()

    def next_id(self) -> int:
        self.ids += 1
        return self.ids

    def abort(self) -> None:
        """Cut the socket from another thread (a cancelled request): a blocked read or write ends at once."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def alive(self) -> bool:
        """False when the peer closed the idle socket or sent unexpected bytes."""
        if isinstance(self.sock, ssl.SSLSocket):
            return True  # no peeking under TLS; a stale socket is retried instead
        try:
            self.sock.setblocking(False)
            try:
                self.sock.recv(1, socket.MSG_PEEK)  # b"" (closed) or stray bytes: unusable
                return False
            finally:
                self.sock.setblocking(True)
        except BlockingIOError:
            return True
        except OSError:
            return False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def refusal(reply: Frame, request_id: int, key: str) -> tuple[AnyNodeError, bool] | None:
    """Why ``reply`` is not the answer to request ``request_id`` (an error it carries, or a frame out of step),
    and whether the connection may be pooled again; None for a good reply."""
    if reply.kind != "reply" or reply.id not in (request_id, 0):
        return ProtocolError(f"{key} answered request {request_id} with a {reply.kind!r} frame "
                             f"for request {reply.id}"), False
    if reply.header.get("ok") is False or "error" in reply.header:
        err = error_from_wire(reply.header.get("error"), key)
        return err, not isinstance(err, (ProtocolError, AuthError))  # the server closes after a refusal
    if reply.id != request_id:
        return ProtocolError(f"{key} answered request {request_id} with reply id {reply.id}"), False
    return None


class Stale(Exception):
    """A reused socket that turned out to be closed before the reply began."""


def translate(exc: BaseException, key: str, limit: float) -> AnyNodeError:
    """One clear error for a socket-level failure talking to ``key``."""
    if isinstance(exc, AuthError):
        return AuthError(f"reply from {key} refused: {exc.message}", exc.hint)
    if isinstance(exc, AnyNodeError):
        return type(exc)(f"{key}: {exc.message}", exc.hint)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return RemoteTimeout(f"no reply from {key} within {secs(limit)} s",
                             "the peer is busy or stalled; raise the timeout or check the peer")
    if isinstance(exc, ssl.SSLError):
        return ProtocolError(f"TLS failure talking to {key}: {exc}")
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return ConnectionLost(f"{key} closed the connection: {exc.strerror or exc}")
    return RemoteError(f"network error talking to {key}: {exc}")
