"""How FrameServer calls its handler: at most ``threads`` frames at once over
all connections, and every failure turned into an error reply, so neither a
busy node nor a handler bug can take the server down."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any

from anynode.errors import AnyNodeError
from anynode.net.protocol import Frame


class Stream:
    """A reply sent as several frames, one per part (header, payload): every frame but the last says ``more``.

    The parts are produced as they are sent, on the connection's thread; an
    AnyNodeError raised while producing them ends the reply with an error frame.
    """

    def __init__(self, parts: Iterable[tuple[dict[str, Any], bytes]]) -> None:
        self.parts = iter(parts)


Handler = Callable[[dict[str, Any], bytes], "tuple[dict[str, Any], bytes] | Stream"]
Answer = tuple[dict[str, Any] | Stream, bytes, bool]  # reply header (or parts), payload, whether it failed
_POLL = 0.1  # seconds between checks of ``stopping`` while waiting for a slot


def error_header(err: AnyNodeError, request_id: int) -> dict[str, Any]:
    """The reply header that carries ``err`` back to the requester."""
    return {"kind": "reply", "id": request_id, "ok": False, "error": err.to_wire()}


class BoundedHandler:
    """Runs ``handler`` for frames from many connection threads, ``threads`` at a time.

    Args:
        handler: ``handler(header, payload) -> (reply_header, reply_payload)``.
        threads: how many calls may run at once; more callers wait their turn.
        stopping: set when the server stops; a caller still waiting then gives up.
        log: where handler bugs are logged with their traceback.
    """

    def __init__(self, handler: Handler, threads: int, stopping: threading.Event, log: logging.Logger) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        self.handler = handler
        self.stopping = stopping
        self.log = log
        self._slots: queue.SimpleQueue[int] = queue.SimpleQueue()  # tokens: C-fast, unlike threading.Semaphore
        for slot in range(threads):
            self._slots.put(slot)

    def __call__(self, frame: Frame) -> Answer | None:
        """The reply to ``frame`` once a slot was free; None if the server stopped first."""
        slots = self._slots
        try:
            slot = slots.get_nowait()
        except queue.Empty:
            while True:
                try:
                    slot = slots.get(timeout=_POLL)
                    break
                except queue.Empty:
                    if self.stopping.is_set():
                        return None
        try:
            return self.call(frame)
        finally:
            slots.put(slot)

    def call(self, frame: Frame) -> Answer:
        """Call the handler now; shape its reply, or turn any failure into an error reply."""
        try:
            result = self.handler(frame.header, frame.payload)
            if isinstance(result, Stream):
                return result, b"", False
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
