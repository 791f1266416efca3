"""The node's end of a parse worker's pipes: frames of an 8-byte length and a pickle (see parse_child)."""

from __future__ import annotations

import fcntl
import os
import select
import time
from collections.abc import Callable

from anynode.ingest.parse_child import HEADER, write_all

_PIPE_BYTES = 2**20
_MAX_REPLY = 2**31  # a 4 MB file prepares to a few tens of MB; anything near this is not an answer


class Broken(Exception):
    """The worker died, hung or answered something that is not an answer."""


def widen(fd: int) -> None:
    """Let the pipe hold a whole answer (most are 0.1-1 MB), so the worker hands it over in one write.

    With the default 64 KB the worker waits for the node's thread to read each 64 KB, and that
    thread first needs the GIL each time: measured 2.2 ms a 225 KB answer against 0.3 ms.
    """
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setsize is None:
        return
    for size in (_PIPE_BYTES, 256 * 1024):  # the larger may be above the system's limit for this user
        try:
            fcntl.fcntl(fd, setsize, size)
            return
        except OSError:
            continue


def write_frame(fd: int, payload: bytes) -> None:
    try:
        write_all(fd, HEADER.pack(len(payload)) + payload)
    except OSError as exc:  # BrokenPipe: the worker is gone
        raise Broken(f"cannot write to the worker: {exc.strerror}") from exc


def readable(fd: int, timeout: float) -> bool:
    """True when ``fd`` has data (or its end closed) within ``timeout`` seconds; poll, not select (any fd number)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


def read_frame(fd: int, deadline: float, cancel: Callable[[], bool] | None) -> bytes:
    (size,) = HEADER.unpack(_read_exact(fd, HEADER.size, deadline, cancel))
    if size > _MAX_REPLY:
        raise Broken(f"an answer of {size} bytes")
    return _read_exact(fd, size, deadline, cancel)


def _read_exact(fd: int, size: int, deadline: float, cancel: Callable[[], bool] | None) -> bytes:
    from anynode.ingest.reader import IngestCancelled

    buf = bytearray(size)
    view, got = memoryview(buf), 0
    while got < size:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Broken("no answer in time")
        if not readable(fd, min(left, 0.1)):
            if cancel is not None and cancel():
                raise IngestCancelled()
            continue
        try:
            n = os.readv(fd, [view[got:]])
        except OSError as exc:
            raise Broken(f"cannot read from the worker: {exc.strerror}") from exc
        if n == 0:
            raise Broken("the worker exited")
        got += n
    return bytes(buf)
