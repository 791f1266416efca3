"""The parse worker's side: a child process that reads and prepares files for the node (see parse_worker).

Started by :class:`anynode.ingest.parse_worker.ParsePool` as ``python -m
anynode.ingest.parse_child``. It reads requests (pickled: path, dbms, table,
limits, timestamp form) from stdin and writes each answer to what was stdout,
in order, each frame an 8-byte length and a pickle. It ignores SIGINT and
exits when stdin closes. Its own fd 1 is pointed at /dev/null first, so a
stray print can never corrupt an answer.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
from typing import Any

import anynode.ingest.transform  # noqa: F401  (imported before READY, so that the first file pays no import)
from anynode.errors import IngestError
from anynode.ingest.rows import ReadLimits

HEADER = struct.Struct("!Q")  # every frame: its length, then the pickle
READY = b"ready"  # the first frame: imports done, requests welcome


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (a pipe may take it in pieces)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _prepare_file(path: str, dbms: str, table: str, limits: ReadLimits, ts_as_text: bool) -> tuple[Any, ...]:
    """One request, answered as the in-thread path would act: ("ok", hash, batches, error) etc."""
    from anynode.ingest.reader import body_hash, read_batches, small_file
    from anynode.ingest.transform import prepare

    try:
        data = small_file(path, limits.whole_file_bytes)
    except IngestError as exc:
        return ("refused", exc)
    if data is None:
        return ("big",)
    batches: list[bytes] = []  # each batch pickled alone: the node unpickles one as the writer needs it
    try:
        for rows in read_batches(data, limits):
            batches.append(pickle.dumps(prepare(rows, limits.max_depth, ts_as_text), protocol=pickle.HIGHEST_PROTOCOL))
    except IngestError as exc:
        return ("ok", body_hash(data, dbms, table), batches, exc)
    return ("ok", body_hash(data, dbms, table), batches, None)


def main() -> int:
    """The worker: answer requests from stdin on stdout until stdin closes."""
    from anynode.collector import tune_for_node

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tune_for_node()
    into, out = 0, os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # a stray print must not land in the answers
    write_all(out, HEADER.pack(len(READY)) + READY)
    while True:
        head = _read(into, HEADER.size)
        if head is None:
            return 0
        body = _read(into, HEADER.unpack(head)[0])
        if body is None:
            return 0
        try:
            reply = _prepare_file(*pickle.loads(body))
        except Exception as exc:  # a bug or no memory: the node does this file in-thread and says what it is
            reply = ("failed", f"{type(exc).__name__}: {exc}")
        try:
            payload = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # an error that cannot travel: the node does the file in-thread
            payload = pickle.dumps(("failed", f"the answer cannot be sent: {exc}"))
        write_all(out, HEADER.pack(len(payload)) + payload)


def _read(fd: int, size: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < size:
        piece = os.read(fd, size - len(buf))
        if not piece:
            return None
        buf += piece
    return bytes(buf)


if __name__ == "__main__":
    sys.exit(main())
