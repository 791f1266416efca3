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

:func:`put_rows` takes a PUT body in either mode (benchmarks and tests use
it). The REST server still goes through ``rest_ingest.deliver_rows``, which
calls :meth:`Streamer.put` for streaming; making ``put_rows`` the single
entry (with REST's 400/422 mapping kept) is open work.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import orjson

from anynode.errors import AnyNodeError, ConfigError, IngestError
from anynode.services.base import Service

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

    def __init__(self, node: Any) -> None:
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
                              code=10)
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
        from anynode.services.operator_files import ErrorDir

        err = exc if isinstance(exc, IngestError) else IngestError(f"{type(exc).__name__}: {exc}", code=3)
        folder = Path(self.node.get_var("err_dir") or self.node.home / "data" / "error")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            data = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows)
            path = folder / f"{key}.0.{uuid.uuid4().hex}.0.json"
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


def streamer(node: Any) -> Streamer:
    """The node's running Streamer, started on first use."""
    from anynode.errors import AlreadyRunning

    service = node.services.get("Streamer")
    if service is not None and node.services.status("Streamer").state == "Running":
        return service  # type: ignore[no-any-return]
    fresh = service if isinstance(service, Streamer) else Streamer(node)
    try:
        node.services.start(fresh)
    except AlreadyRunning:  # started by a concurrent call
        return node.services.get("Streamer")  # type: ignore[no-any-return]
    return fresh


# -- the REST PUT entry --------------------------------------------------------
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_PART = re.compile(r"[A-Za-z0-9_-]{1,64}")
MODES = ("file", "streaming")


def _rows_of(body: bytes) -> list[dict[str, Any]]:
    """The JSON objects of a body (an object, an array, JSON lines); IngestError 67 says where it is wrong."""
    from anynode.ingest.reader import read_batches

    if not body.strip():
        raise IngestError("the body holds no rows", hint="send JSON rows: an object, an array or JSON lines")
    rows = [row for batch in read_batches(body) for row in batch]
    if not rows:
        raise IngestError("the body holds no rows", hint="send JSON rows: an object, an array or JSON lines")
    return rows


def _publish(node: Any, name: str, data: bytes) -> Path:
    """Write ``data`` as ``<watch_dir>/<name>`` so the operator never sees a partial file.

    The bytes go to a hidden temp file in ``!prep_dir`` (AnyLog's scratch
    directory) or, across file systems, in the watch directory itself; they
    are fsynced, then renamed into place (the operator sees one move event).
    """
    watch = Path(node.get_var("watch_dir") or "")
    if not str(watch) or not watch.is_dir():
        raise ConfigError(f"Missing configuration: the watch directory '{watch}' does not exist",
                          hint="run 'create work directories' on the node, or set !watch_dir")
    target = watch / name
    prep = Path(node.get_var("prep_dir") or watch)
    for folder in dict.fromkeys([prep if prep.is_dir() else watch, watch]):
        tmp = folder / f".{name}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
            return target
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if folder == watch:
                raise ConfigError(f"Missing configuration: cannot write {name} into {watch}: {exc.strerror}",
                                  hint="check that the watch and prep directories are writable") from None
    raise AssertionError("unreachable")


def put_rows(node: Any, dbms: str, table: str, mode: str, body: bytes, *, source: str = "0",
             instructions: str = "0") -> dict[str, str]:
    """Take the JSON rows of one REST ``PUT``; returns AnyLog's reply object.

    * ``mode = "file"``: the rows, one JSON object per line, become
      ``<dbms>.<table>.<source>.<md5>.<instructions>.json`` in the watch
      directory, written atomically; the operator ingests it. The reply's
      ``AnyLog.hash`` is that md5 (of ``"dbms.table"`` + the file's bytes).
    * ``mode = "streaming"``: the rows join the table's in-memory buffer and
      reach the database when its time or volume threshold is met (``set
      buffer threshold``), at once with ``write_immediate``. ``AnyLog.hash``
      is ``"0"``. The Streamer service starts on the first call.

    The body is checked before anything is written: one object, an array of
    objects, or JSON lines, UTF-8.

    Raises:
        IngestError: a name or mode that is not accepted (119), a body that is
            not JSON rows (67, with line and column), the database not
            connected (10), or, with ``write_immediate``, what the ingest refused.
        ConfigError: the watch directory is missing or not writable (file mode).
    """
    dbms, table, mode = (dbms or "").strip().lower(), (table or "").strip().lower(), (mode or "file").strip().lower()
    for what, value in (("dbms", dbms), ("table", table)):
        if not _NAME.fullmatch(value):
            raise IngestError(f"{what} name '{value}' is not accepted",
                              hint="letters, digits and _, not starting with a digit", code=119)
    for what, value in (("source", source), ("instructions", instructions)):
        if not _PART.fullmatch(value):
            raise IngestError(f"{what} '{value}' is not accepted", hint="letters, digits, '_' and '-'", code=119)
    if mode not in MODES:
        raise IngestError(f"mode '{mode}' is not accepted", hint="use mode file or mode streaming", code=119)
    if not node.catalog.is_connected(dbms):
        raise IngestError(f"Logical DBMS '{dbms}' not connected", hint=f"connect dbms {dbms} where type = sqlite",
                          code=10)
    rows = _rows_of(body)
    if mode == "streaming":
        streamer(node).put(dbms, table, rows, len(body))
        return {"AnyLog.status": "Success", "AnyLog.hash": "0"}
    from anynode.ingest.reader import body_hash

    data = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows)
    digest = body_hash(data, dbms, table)
    _publish(node, f"{dbms}.{table}.{source}.{digest}.{instructions}.json", data)
    return {"AnyLog.status": "Success", "AnyLog.hash": digest}
