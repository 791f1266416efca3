"""Streaming rows (REST ``PUT`` with ``mode: streaming``): buffered per table, flushed by time and volume.

Rows wait in memory per ``dbms.table`` until the buffer is older than its
time threshold or larger than its volume threshold, then go straight into
the ingest pipeline (no round trip through files). Thresholds are per table
when set with ``dbms`` and ``table`` (EdgeLake reads the wrong keys and makes
every such setting global; its bug #6), else the node default: 60 seconds
and 10,000 bytes, as in AnyLog. ``write_immediate`` ingests each call at
once. The ``Streamer`` service does the flushing and flushes everything
when it stops, so rows buffered at ``exit node`` are not lost. It starts on
demand (the first streaming PUT or ``set buffer threshold``), or explicitly
with ``run streamer``. Rows a flush cannot ingest (a value the table cannot
take) are written to the error directory as a file with its ``.err.txt``,
as the operator does with a bad file: never dropped silently.

:func:`anynode.rest.ingest.put_rows` (the one entry for a PUT
body, REST's and everyone's) hands streaming rows to :meth:`Streamer.put`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from anynode.codes import Code
from anynode.errors import AnyNodeError, IngestError
from anynode.ingest.naming import FileName
from anynode.protocols import NodeView
from anynode.services.base import Service
from anynode.services.status import ServiceState

DEFAULT_TIME = 60.0
DEFAULT_VOLUME = 10_000


@dataclass(frozen=True)
class Threshold:
    """When a table's buffer is flushed."""

    time: float = DEFAULT_TIME
    volume: int = DEFAULT_VOLUME
    write_immediate: bool = False


@dataclass
class Buffer:
    """The rows waiting for one table, and what has gone through it."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0
    since: float = 0.0
    calls: int = 0
    flushed_rows: int = 0
    flushes: int = 0
    last_flush: float = 0.0
    last_error: str = ""


class Streamer(Service):
    """Holds the buffers and flushes them; the REST PUT path calls :meth:`put`."""

    name = "Streamer"

    def __init__(self, node: NodeView) -> None:
        self.node = node
        self.default = Threshold()
        self.thresholds: dict[str, Threshold] = {}
        self.buffers: dict[str, Buffer] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def threshold(self, key: str) -> Threshold:
        """The threshold that applies to ``dbms.table``."""
        return self.thresholds.get(key) or self.thresholds.get(key.split(".")[0] + ".*") or self.default

    def put(self, dbms: str, table: str, rows: list[dict[str, Any]], size: int) -> int:
        """Buffer rows for ``dbms.table`` (or ingest them now with write_immediate); returns rows buffered."""
        if not self.node.catalog.is_connected(dbms):  # refuse now, not when the buffer flushes
            raise IngestError(f"Logical DBMS '{dbms}' not connected", hint=f"connect dbms {dbms} where type = sqlite",
                              code=Code.DBMS_NOT_OPEN)
        key = f"{dbms}.{table}"
        rule = self.threshold(key)
        if rule.write_immediate:
            self._ingest(key, rows)
            return 0
        with self._lock:
            buf = self.buffers.setdefault(key, Buffer())
            if not buf.rows:
                buf.since = time.monotonic()
            buf.rows.extend(rows)
            buf.size += size
            buf.calls += 1
            due = buf.size >= rule.volume
        if due:
            self._wake.set()
        return len(rows)

    def _ingest(self, key: str, rows: list[dict[str, Any]]) -> None:
        from anynode.ingest.pipeline import ingest_rows

        dbms, table = key.split(".", 1)
        with self._lock:
            buf = self.buffers.setdefault(key, Buffer())
        try:
            ingest_rows(rows, dbms, table, self.node.catalog)
        except Exception as exc:  # the rows stay reported, the streamer goes on
            with self._lock:
                buf.last_error = exc.one_line() if isinstance(exc, AnyNodeError) else f"{type(exc).__name__}: {exc}"
            self.node.log.error("streaming: %d row(s) for %s failed: %s", len(rows), key, buf.last_error)
            raise
        with self._lock:
            buf.flushed_rows += len(rows)
            buf.flushes += 1
            buf.last_flush = time.time()

    def _set_aside(self, key: str, rows: list[dict[str, Any]], exc: Exception) -> None:
        """Rows a flush could not ingest go to the error directory with the reason, as a bad file does."""
        from anynode.operator.files import ErrorDir

        err = exc if isinstance(exc, IngestError) else IngestError(f"{type(exc).__name__}: {exc}",
                                                                   code=Code.PROCESS_FAILURE)
        folder = Path(self.node.get_var("err_dir") or self.node.home / "data" / "error")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            data = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows)
            dbms, table = key.split(".", 1)
            path = folder / str(FileName(dbms, table, hash=uuid.uuid4().hex))
            path.write_bytes(data)
            target = ErrorDir(folder).put(path, err)
            self.node.log.warning("streaming: %d row(s) for %s kept in %s", len(rows), key, target)
        except OSError as write_error:
            self.node.log.error("streaming: %d row(s) for %s are lost: %s", len(rows), key, write_error)

    def flush(self, force: bool = False) -> int:
        """Ingest every buffer that is due (all of them with ``force``); returns the rows flushed."""
        now = time.monotonic()
        taken: list[tuple[str, list[dict[str, Any]]]] = []
        with self._lock:
            for key, buf in self.buffers.items():
                rule = self.threshold(key)
                if buf.rows and (force or buf.size >= rule.volume or now - buf.since >= rule.time):
                    taken.append((key, buf.rows))
                    buf.rows, buf.size = [], 0
        for key, rows in taken:
            try:
                self._ingest(key, rows)
            except Exception as exc:  # logged in _ingest; the rows are kept aside, other tables still flush
                self._set_aside(key, rows, exc)
        return sum(len(rows) for _, rows in taken)

    def _next_due(self) -> float:
        now = time.monotonic()
        with self._lock:
            waits = [self.threshold(k).time - (now - b.since) for k, b in self.buffers.items() if b.rows]
        return max(0.05, min(waits)) if waits else 1.0

    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        ready()
        try:
            while not stop.is_set():
                self._wake.wait(self._next_due())
                self._wake.clear()
                self.flush()
        finally:
            self.flush(force=True)

    def wake(self) -> None:
        self._wake.set()

    def details(self) -> str:
        d = self.default
        return f"Default streaming thresholds are {d.time:g} seconds and {d.volume:,} bytes"

    def info(self) -> dict[str, Any]:
        with self._lock:
            return {"tables": len(self.buffers), "buffered_rows": sum(len(b.rows) for b in self.buffers.values()),
                    "flushed_rows": sum(b.flushed_rows for b in self.buffers.values())}


def streamer(node: NodeView) -> Streamer:
    """The node's running Streamer, started on first use."""
    from anynode.errors import AlreadyRunning

    service = node.services.get("Streamer")
    if isinstance(service, Streamer) and node.services.status("Streamer").state == ServiceState.RUNNING:
        return service
    fresh = service if isinstance(service, Streamer) else Streamer(node)
    try:
        node.services.start(fresh)
    except AlreadyRunning:  # started by a concurrent call
        running = node.services.get("Streamer")
        if isinstance(running, Streamer):
            return running
        raise
    return fresh
