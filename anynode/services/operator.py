"""``run operator``: files of JSON rows in the watch directory become rows in local databases.

A file is picked up when the writer closes it or moves it in (inotify, via
watchdog; a move from another directory shows as a create with no open after
it), and by a rescan at start and every few seconds (files left from
before, missed events; a file found by a rescan must keep its size between
two looks and be untouched for two seconds, so one still being written is
never read half). Each file is
claimed by moving it into ``<watch_dir>/.work/``, ingested by the pipeline
(rows and the file's record in one transaction), then archived under
``archive/YY/MM/DD/`` with its 8-section name, or moved to the error
directory as ``<name>.err_<code>.<n>.json`` with ``.err.txt`` beside it.

A node killed in the middle leaves the file in ``.work/``; the next start
puts it through again, and the file record makes that exactly-once: rows
already committed are not inserted again and the file is archived.
"""

from __future__ import annotations

import gzip
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from anynode.errors import IngestError
from anynode.services.base import Service

DUPLICATE = 86
EXCLUDED = 130
WORK = ".work"
QUIET = 2.0  # seconds a file found by a rescan must have been left alone
SETTLE = 0.05  # seconds after a create event with no open: the file was moved in whole
_SKIP_SUFFIXES = (".tmp", ".transfer", ".part", ".swp", ".err.txt")


@dataclass(frozen=True)
class OperatorConfig:
    """What ``run operator`` was told."""

    watch_dir: Path
    archive_dir: Path
    bkup_dir: Path
    error_dir: Path
    archive_json: bool = True
    compress_json: bool = True
    delete_json: bool = False
    move_json: bool = False
    dbms_name: str | None = None
    table_name: str | None = None
    limit_tables: tuple[str, ...] = ()
    create_table: bool = True
    threads: int = 1
    rescan: float = 5.0


@dataclass
class OperatorStats:
    """Counters behind ``get operator``."""

    files: int = 0
    rows: int = 0
    errors: int = 0
    duplicates: int = 0
    last_file: str = ""
    last_error: str = ""
    last_error_code: int = 0
    busy_seconds: float = 0.0
    started: float = field(default_factory=time.time)
    by_table: dict[str, list[int]] = field(default_factory=dict)  # "dbms.table" -> [files, rows]


def is_data_file(name: str) -> bool:
    """True for names the operator takes (``*.json``, ``*.json.gz``, not hidden, not partial)."""
    low = name.lower()
    return not name.startswith(".") and low.endswith((".json", ".json.gz")) and not low.endswith(_SKIP_SUFFIXES)


class OperatorService(Service):
    """Watches a directory and ingests every data file that lands in it."""

    name = "Operator"

    def __init__(self, node: Any, config: OperatorConfig) -> None:
        self.node = node
        self.config = config
        self.stats = OperatorStats()
        self._wake = threading.Event()
        self._pending: dict[str, float] = {}  # name -> time seen (ordered: first come, first served)
        self._created: dict[str, float] = {}  # name -> time of a create event not followed by an open
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()
        self._seq = 0
        self._seen_tables: set[str] = set()

    # -- events ---------------------------------------------------------------
    def offer(self, path: str) -> None:
        """A file was closed or moved into the watch directory: queue it."""
        name = os.path.basename(path)
        if os.path.dirname(os.path.abspath(path)) != str(self.config.watch_dir) or not is_data_file(name):
            return
        with self._lock:
            self._pending.setdefault(name, time.monotonic())
        self._wake.set()

    def created(self, path: str) -> None:
        """A file appeared. A move from another directory shows only this event; a writer's open()
        shows an open event right after it, and then its close is what counts."""
        name = os.path.basename(path)
        if is_data_file(name):
            with self._lock:
                self._created[name] = time.monotonic()
            self._wake.set()

    def opened(self, path: str) -> None:
        """Someone opened the file: it is being written; wait for its close event."""
        with self._lock:
            self._created.pop(os.path.basename(path), None)

    def _promote_created(self) -> float:
        """Queue created files that nobody opened within ``SETTLE`` seconds; returns the next check delay."""
        now = time.monotonic()
        wait = 3600.0
        with self._lock:
            for name, since in list(self._created.items()):
                if now - since >= SETTLE:
                    del self._created[name]
                    self._pending.setdefault(name, now)
                else:
                    wait = min(wait, SETTLE - (now - since))
        return wait

    def _rescan(self, first: bool = False) -> None:
        """Queue files that held still: same size as at the last look and untouched for ``QUIET`` seconds.

        The close and move events catch files the moment they are complete;
        a rescan only finds what events missed, so it waits until a file has
        clearly stopped growing. Directories named like data files go aside.
        """
        sizes: dict[str, int] = {}
        try:
            entries = list(os.scandir(self.config.watch_dir))
        except OSError:
            return
        for entry in entries:
            if not is_data_file(entry.name):
                continue
            if entry.is_dir(follow_symlinks=False):
                self._fail(Path(entry.path), IngestError(f"'{entry.name}' is a directory, not a data file",
                                                         hint="put data files in the watch directory itself", code=67))
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            sizes[entry.name] = st.st_size
            same = first or self._sizes.get(entry.name) == st.st_size
            if same and time.time() - st.st_mtime >= QUIET:
                with self._lock:
                    self._pending.setdefault(entry.name, time.monotonic())
        self._sizes = sizes

    # -- the loop -------------------------------------------------------------
    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        cfg = self.config
        for d in (cfg.watch_dir, cfg.archive_dir, cfg.bkup_dir, cfg.error_dir, cfg.watch_dir / WORK):
            d.mkdir(parents=True, exist_ok=True)
        recovered = sorted(p for p in (cfg.watch_dir / WORK).iterdir() if p.is_file())
        observer = self._observe()
        try:
            ready()
            for path in recovered:  # claimed before a crash: put through again (exactly once)
                self._ingest(path, recovered=True)
            self._rescan(first=True)  # files left from before: untouched for a while, take them now
            next_scan = time.monotonic() + cfg.rescan
            while not stop.is_set():
                settle = self._promote_created()
                self._drain(stop)
                if stop.is_set():
                    break
                if time.monotonic() >= next_scan:
                    self._rescan()
                    next_scan = time.monotonic() + cfg.rescan
                    continue
                self._wake.wait(max(0.0, min(settle, next_scan - time.monotonic())))
                self._wake.clear()
        finally:
            observer.stop()
            observer.join(5)

    def wake(self) -> None:
        self._wake.set()

    def _observe(self) -> Any:
        from watchdog.events import (FileClosedEvent, FileClosedNoWriteEvent, FileCreatedEvent, FileModifiedEvent,
                                     FileMovedEvent, FileOpenedEvent, FileSystemEventHandler)
        from watchdog.observers import Observer

        service = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                if isinstance(event, FileClosedNoWriteEvent):
                    return  # a reader (perhaps this operator) closed it: nothing was written
                if isinstance(event, FileClosedEvent):
                    service.offer(str(event.src_path))
                elif isinstance(event, FileMovedEvent):
                    service.offer(str(event.dest_path))
                elif isinstance(event, FileCreatedEvent):
                    service.created(str(event.src_path))
                elif isinstance(event, (FileOpenedEvent, FileModifiedEvent)):
                    service.opened(str(event.src_path))

        import logging

        logging.getLogger("watchdog").addHandler(logging.NullHandler())  # its stop-time chatter is not for users
        observer = Observer()
        observer.name = "anynode:operator-watch"
        observer.schedule(Handler(), str(self.config.watch_dir), recursive=False)
        observer.start()
        return observer

    def _drain(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._lock:
                if not self._pending:
                    return
                name = next(iter(self._pending))
                del self._pending[name]
            source = self.config.watch_dir / name
            work = self.config.watch_dir / WORK / name
            try:
                os.replace(source, work)
            except FileNotFoundError:
                continue  # taken already (a duplicate event)
            self._ingest(work)

    # -- one file -------------------------------------------------------------
    def _ingest(self, path: Path, recovered: bool = False) -> None:
        from anynode.ingest.naming import parse_file_name
        from anynode.ingest.pipeline import ingest_file

        started = time.perf_counter()
        self.stats.last_file = path.name
        try:
            path = self._rename_for_options(path)
            name = parse_file_name(path)
            key = f"{name.dbms}.{name.table}"
            self._check_table(name.dbms, name.table, key)
            report = ingest_file(path, self.node.catalog)
        except IngestError as exc:
            if exc.anylog_code == DUPLICATE and recovered:
                self.node.log.info("operator: %s was already ingested before the restart; archiving it", path.name)
                self._done(path, None)
                return
            self._fail(path, exc)
            return
        except Exception as exc:  # one file must not stop the operator; the traceback goes to the log
            self.node.log.exception("operator: unexpected failure on %s", path.name)
            self._fail(path, IngestError(f"unexpected failure: {type(exc).__name__}: {exc}",
                                         hint="see logs/root.log for the traceback", code=3))
            return
        finally:
            self.stats.busy_seconds += time.perf_counter() - started
        self._seen_tables.add(key)
        self.stats.files += 1
        self.stats.rows += report.rows
        counts = self.stats.by_table.setdefault(key, [0, 0])
        counts[0] += 1
        counts[1] += report.rows
        self._done(path, str(report.name) if report.name else None)

    def _rename_for_options(self, path: Path) -> Path:
        """Apply ``dbms_name`` / ``table_name``: the file's rows go to that database or table."""
        cfg = self.config
        if not cfg.dbms_name and not cfg.table_name:
            return path
        parts = path.name.split(".")
        if len(parts) >= 3:
            parts[0] = cfg.dbms_name or parts[0]
            parts[1] = cfg.table_name or parts[1]
        target = path.with_name(".".join(parts))
        os.replace(path, target)
        return target

    def _check_table(self, dbms: str, table: str, key: str) -> None:
        cfg = self.config
        if cfg.limit_tables and key not in cfg.limit_tables and f"{dbms}.*" not in cfg.limit_tables:
            raise IngestError(f"Table excluded: {key} is not in limit_tables",
                              hint=f"limit_tables allows: {', '.join(cfg.limit_tables)}", code=EXCLUDED)
        if not cfg.create_table and key not in self._seen_tables and self.node.catalog.is_connected(dbms) \
                and table not in self.node.catalog.tables(dbms):
            raise IngestError(f"Table {key} does not exist and create_table is false",
                              hint="create it first, or run the operator with create_table = true", code=27)

    def _done(self, path: Path, archived_name: str | None) -> None:
        """Archive, back up or delete an ingested file, as the options say."""
        cfg = self.config
        if cfg.delete_json:
            path.unlink(missing_ok=True)
            return
        name = archived_name or path.name
        if cfg.archive_json:
            day = datetime.now(timezone.utc).strftime("%y/%m/%d")
            target_dir = cfg.archive_dir / day
        else:
            target_dir = cfg.bkup_dir
        target_dir.mkdir(parents=True, exist_ok=True)
        if cfg.compress_json and not name.endswith(".gz"):
            target = target_dir / (name + ".gz")
            tmp = target.with_name(target.name + ".tmp")
            with open(path, "rb") as src, gzip.open(tmp, "wb", compresslevel=3) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            os.replace(tmp, target)
            path.unlink()
        else:
            os.replace(path, target_dir / name)

    def _fail(self, path: Path, exc: IngestError) -> None:
        """Move a file that could not be ingested to the error directory, with the reason beside it."""
        cfg = self.config
        self._seq += 1
        stem = path.name.removesuffix(".gz").removesuffix(".json")
        suffix = ".json.gz" if path.name.endswith(".gz") else ".json"
        target = cfg.error_dir / f"{stem}.err_{exc.anylog_code}.{int(time.time())}{self._seq:04d}{suffix}"
        try:
            shutil.move(str(path), target)
        except OSError as move_error:
            self.node.log.error("operator: cannot move %s to the error directory: %s", path, move_error)
            return
        reason = exc.one_line()
        Path(str(target) + ".err.txt").write_text(
            f"file: {path.name}\ncode: {exc.anylog_code}\nerror: {exc.message}\n"
            + (f"hint: {exc.hint}\n" if exc.hint else "")
            + f"time: {datetime.now(timezone.utc).isoformat(timespec='seconds')}\n", encoding="utf-8")
        self.stats.errors += 1
        if exc.anylog_code == DUPLICATE:
            self.stats.duplicates += 1
        self.stats.last_error, self.stats.last_error_code = reason, exc.anylog_code
        self.node.log.warning("operator: %s -> %s: %s", path.name, target.name, reason)

    # -- reporting ------------------------------------------------------------
    def details(self) -> str:
        return (f"Cluster Member: False, Using Master: False, Threads Pool: {self.config.threads}, "
                f"Files: {self.stats.files}, Rows: {self.stats.rows}, Errors: {self.stats.errors}")

    def info(self) -> dict[str, Any]:
        s = self.stats
        elapsed = max(time.time() - s.started, 1e-9)
        return {"files": s.files, "rows": s.rows, "errors": s.errors, "duplicates": s.duplicates,
                "rows_per_second": round(s.rows / s.busy_seconds, 1) if s.busy_seconds else 0.0,
                "rows_per_second_overall": round(s.rows / elapsed, 1), "last_file": s.last_file,
                "last_error": s.last_error, "last_error_code": s.last_error_code,
                "pending": len(self._pending), "watch_dir": str(self.config.watch_dir)}
