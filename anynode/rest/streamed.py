"""Sending a reply whose body is made while it goes out (a network query's rows, chunk by chunk).

The status and headers leave with the first rows; each further piece is
read on the worker pool (reading waits on the operators) and sent at once,
so the node never holds the whole answer. The REST timeout bounds the whole
reply. A failure after the status was sent can no longer change it: the
connection is closed without the body's end, which every HTTP client
reports as a broken reply rather than a complete one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from logging import Logger
from typing import Any

from anynode.rest.pool import offload

Send = Callable[[dict[str, Any]], Any]


class Pieces:
    """A body's pieces, read on worker threads one at a time; ``stop`` ends the source from any thread."""

    def __init__(self, pieces: Iterator[bytes], stop: Callable[[], None], timeout: float | None) -> None:
        self._pieces = pieces
        self._lock = threading.Lock()
        self.stop = stop
        self.timeout = timeout
        """The most the rest of the reply may take (the request's REST timeout), None for no limit."""

    def next(self) -> bytes | None:
        """The next piece, or None at the end."""
        with self._lock:
            return next(self._pieces, None)

    def close(self) -> None:
        """Stop the source, then end the pieces (after a read in progress returns)."""
        self.stop()
        with self._lock:
            close = getattr(self._pieces, "close", None)
            if close is not None:
                close()


async def send_pieces(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: Pieces,
                      executor: Executor, timeout: float | None, log: Logger) -> bool:
    """Send ``body`` piece by piece (chunked); False when it ended early (the connection is then closed)."""
    deadline = time.monotonic() + timeout if timeout else None
    await send({"type": "http.response.start", "status": status, "headers": headers})
    try:
        while True:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            piece = await offload(executor, body.next, left)
            if piece is None:
                break
            await send({"type": "http.response.body", "body": piece, "more_body": True})
    except BaseException as exc:  # timeout, an operator's error, the client gone: no end of body is sent
        log.warning("REST: a streamed reply ended before its end: %s", getattr(exc, "message", None) or
                    type(exc).__name__)
        body.stop()
        try:
            executor.submit(body.close)  # after the read in progress, on a worker: never blocks the event loop
        except RuntimeError:
            pass  # the pool is closed: the source was stopped above
        if not isinstance(exc, Exception):
            raise
        return False
    await send({"type": "http.response.body", "body": b""})
    return True
