"""How FrameServer writes its replies: one frame, a reply in parts, and the last word before closing."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from anynode.errors import AnyNodeError
from anynode.net.admission import Connection
from anynode.net.errors import ProtocolError
from anynode.net.handling import Stream, error_header
from anynode.net.protocol import FrameCodec

_LINGER = 0.25  # seconds spent draining a dropped peer's bytes, so it reads our error, not a reset


class ReplyWriter:
    """The reply side of a server's connections (its codec, timeouts, log and stop event)."""

    def __init__(self, codec: FrameCodec, idle_timeout: float, read_timeout: float, log: logging.Logger,
                 stopping: threading.Event) -> None:
        self.codec, self.idle_timeout, self.read_timeout = codec, idle_timeout, read_timeout
        self.log, self.stopping = log, stopping

    def send(self, conn: Connection, header: dict[str, Any], payload: bytes, request_id: int) -> None:
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

    def stream(self, conn: Connection, stream: Stream, request_id: int) -> None:
        """Send a reply in parts, each as it is produced; a failure while producing ends it with an error frame."""
        sent = False
        try:
            part = next(stream.parts, None)
            while part is not None:
                following = next(stream.parts, None)
                head, body = part
                self.send(conn, dict(head, kind="reply", id=request_id, ok=True, more=following is not None),
                           bytes(body), request_id)
                sent = True
                part = following
            if not sent:
                self.send(conn, {"kind": "reply", "id": request_id, "ok": True, "more": False}, b"", request_id)
        except AnyNodeError as exc:
            self.send(conn, error_header(exc, request_id), b"", request_id)
        except Exception as exc:  # a bug while producing the parts must not kill the connection
            self.log.exception("TCP handler failed while streaming a reply")
            err = AnyNodeError(f"internal error on the peer: {type(exc).__name__}: {exc}")
            self.send(conn, error_header(err, request_id), b"", request_id)

    def error(self, conn: Connection, err: AnyNodeError, request_id: int) -> None:
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
            while (left := deadline - time.monotonic()) > 0 and not self.stopping.is_set():
                sock.settimeout(left)
                if not sock.recv(65536):
                    break
        except (OSError, ProtocolError, ValueError):
            pass
