"""``run operator``: files of JSON rows in the watch directory become rows in local databases.

A file is picked up when its writer closes it or moves it in
(:mod:`anynode.operator.watch`), and by a rescan at start and every
``rescan`` seconds for missed events (a file found so must keep its size and
be untouched for two seconds). Each file is claimed by moving it into
``<watch_dir>/.work/``, ingested by the pipeline (rows and record in one
transaction; the next file is read while the writer commits this one, by a
parse worker process when one is free, see :mod:`anynode.ingest.parse_worker`), then
archived beside the ingest (:mod:`anynode.operator.archiver`) or refused
(:mod:`anynode.operator.files`).

With ``threads`` > 1 a bounded pool ingests files side by side, except a
table's first file, which runs alone (no two files race to create one table).

A node killed in the middle leaves the file in ``.work/``; the next start
puts it through again and its record makes that exactly-once. A stop
interrupts a file between batches: it rolls back and stays in ``.work/``.
Only regular files are taken (``lstat`` before the claim, ``fstat`` after an
``O_NOFOLLOW | O_NONBLOCK`` open): links, pipes and the like go to the error
directory unopened.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anynode.codes import Code
from anynode.errors import DuplicateFile, IngestError
from anynode.ingest.naming import FileName
from anynode.ingest.parse_worker import ParsePool, parse_workers
from anynode.ingest.reader import IngestCancelled, not_regular
from anynode.operator import stats as operator_stats
from anynode.operator.archiver import Archiver
from anynode.operator.arrivals import Arrivals
from anynode.operator.files import (
    ErrorDir,
    OperatorConfig,
    already_inserted,
    archived_copy,
    check_archive_name,
    check_table,
    is_data_file,
    parse_arrival,
    put_away,
    refusal,
    rename_for_options,
    table_key,
    target,
)
from anynode.operator.stats import OperatorStats
from anynode.operator.watch import settled_entries, watch_directory
from anynode.protocols import NodeView
from anynode.services.base import Service
from anynode.services.periodic import PeriodicTask

if TYPE_CHECKING:
    from anynode.ingest.pipeline import PendingIngest

QUIET = 2.0  # seconds a file found by a rescan must have been left alone

__all__ = ["OperatorConfig", "OperatorService", "OperatorStats", "is_data_file"]


class OperatorService(Service):
    """Watches a directory and ingests every data file that lands in it."""

    name = "Operator"

    def __init__(self, node: NodeView, config: OperatorConfig, member: Any = None) -> None:
        self.node = node
        self.config = config
        self.member = member  # its cluster in the metadata (anynode.metadata.membership), or None
        self.stats = OperatorStats()
        self.errors = ErrorDir(config.error_dir)
        self._wake = threading.Event()
        self._pending = Arrivals()
        self._rescan_now = False  # the watch lost events
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()
        self._seen_tables: set[str] = set()
        self._inflight: dict[Future[None], str] = {}  # pool jobs -> file name
        self._pool: ThreadPoolExecutor | None = None
        self._stop = threading.Event()  # the running service's stop event, asked between batches of a file
        self._left: set[tuple[str, int]] = set()  # (name, inode) refused but not movable: reported once
        self._archiver: Archiver | None = None  # puts ingested files away beside the ingest (while running)
        self._parser = ParsePool(0)  # reads and prepares small files in child processes (while running)
        self._open: tuple[Path, str, float, bool, PendingIngest] | None = None  # a file whose commit is not awaited
        self._ahead: tuple[Path, FileName | IngestError] | None = None  # claimed and sent to a parse worker
        self.rescans = PeriodicTask("operator rescan", max(config.rescan, 0.01), call=self._rescan_task,
                                    run_at_start=False, logger=logging.getLogger("anynode.operator"))

    # -- events ---------------------------------------------------------------
    def offer(self, path: str) -> None:
        """A file was closed or moved into the watch directory: queue it."""
        name = os.path.basename(path)
        if os.path.dirname(os.path.abspath(path)) != str(self.config.watch_dir) or not is_data_file(name):
            return
        self._pending.add([name])
        self._wake.set()

    def lost(self) -> None:
        """The watch lost events (queue overflow, directory replaced): rescan now."""
        self.node.log.warning("operator: file events were lost in %s; rescanning", self.config.watch_dir)
        self._rescan_now = True
        self._wake.set()

    def _rescan_task(self, expired: Callable[[], bool]) -> int:
        return self._rescan()

    def _rescan(self, first: bool = False) -> int:
        """Queue files that held still: same size as at the last look and untouched for ``QUIET`` seconds.

        The close and move events catch files the moment they are complete;
        a rescan only finds what events missed, so it waits until a file has
        clearly stopped growing. Directories named like data files go aside.
        Returns the number of files queued.
        """
        still, odd, sizes = settled_entries(self.config.watch_dir, self._sizes, QUIET, first, is_data_file)
        for path, st in odd:  # nothing to wait for: it can never become a data file
            if (path.name, st.st_ino) not in self._left:
                self._fail(path, not_regular(path.name, st.st_mode), st.st_ino)
        queued = self._pending.add(still)
        self._sizes = sizes
        if queued:
            self._wake.set()
        return queued

    # -- the loop -------------------------------------------------------------
    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        cfg = self.config
        self._stop = stop
        for d in (cfg.watch_dir, cfg.archive_dir, cfg.bkup_dir, cfg.error_dir, cfg.work_dir):
            d.mkdir(parents=True, exist_ok=True)
        recovered = sorted(cfg.work_dir.iterdir())  # whatever it is: _ingest refuses what is not a regular file
        watch = watch_directory(cfg.watch_dir, self.offer, self.lost, self._wake.set, is_data_file)
        archiver = self._archiver = Archiver(cfg)
        self._parser, self._ahead = ParsePool(parse_workers(cfg.threads)), None  # one taken ahead is in recovered
        if cfg.threads > 1:
            self._pool = ThreadPoolExecutor(cfg.threads, thread_name_prefix="anynode:operator-pool")
        try:
            ready()
            for path in recovered:  # claimed before a crash or a stop: put through again (exactly once)
                if stop.is_set():
                    break
                self._ingest(path, recovered=True)
            self._rescan(first=True)  # files left from before: untouched for a while, take them now
            while not stop.is_set():
                settled, settle = watch.settled()
                for complete in settled:
                    self.offer(complete)
                if self._rescan_now:
                    self._rescan_now = False
                    self._rescan()
                self._drain(stop)
                if stop.is_set():
                    break
                self.rescans.run_due(stop=stop)
                due = self.rescans.next_due() or (time.monotonic() + cfg.rescan)
                self._wake.wait(max(0.0, min(settle, due - time.monotonic())))
                self._wake.clear()
        finally:
            self._settle()
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)  # files not started stay in .work/
            archiver.close()  # what was ingested is put away: a clean stop leaves .work/ empty
            self._archiver = None
            self._parser.close()
            watch.stop()

    def wake(self) -> None:
        self._wake.set()

    def _next_pending(self, take: bool = True) -> str | None:
        """The oldest queued name that is not being ingested right now (a same-named file waits)."""
        with self._lock:
            busy = set(self._inflight.values())
        return self._pending.first(busy, take)

    def _claim(self, name: str) -> tuple[Path, FileName | IngestError] | None:
        """Move a queued file into .work/ (it is this operator's from now on); None when it is not there to take."""
        source, work = self.config.watch_dir / name, self.config.work_dir / name
        if self._open is not None and self._open[1] == name:
            self._settle()  # a file of the same name is being committed: it goes first
        if self._archiver is not None:
            self._archiver.wait_name(name)  # a file of this name still in .work/ is put away first
        try:
            st = os.lstat(source)
            if not stat.S_ISREG(st.st_mode):  # a link, pipe, directory ...: refused unopened
                if (name, st.st_ino) not in self._left:
                    self._fail(source, not_regular(name, st.st_mode), st.st_ino)
                return None
            os.replace(source, work)
        except FileNotFoundError:
            return None  # taken already (a duplicate event)
        return work, parse_arrival(name)  # the file's one parse: _ingest and the pipeline use it

    def _drain(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._reap(block=False)
            if self._ahead is not None:
                work, parsed = self._ahead
                self._ahead = None
            else:
                first = self._next_pending()
                if first is None:
                    self._settle()
                    return
                claimed = self._claim(first)
                if claimed is None:
                    continue
                work, parsed = claimed
            key = table_key(self.config, parsed)
            if self._pool is None:
                self._send_ahead(work, parsed)
                self._ingest(work, parsed=parsed, hold=True)
            elif key is None or key not in self._seen_tables:
                self._reap(block=True, until=0)  # a table's first file runs alone: no create-table race
                self._ingest(work, parsed=parsed)
            else:
                self._reap(block=True, until=self.config.threads - 1)  # bounded: at most `threads` in flight
                future = self._pool.submit(self._ingest, work, False, parsed)
                with self._lock:
                    self._inflight[future] = work.name
                future.add_done_callback(lambda _: self._wake.set())  # a same-named file may be waiting
        self._settle()
        if stop.is_set():
            self._reap(block=True, until=0)

    def _send_ahead(self, work: Path, parsed: FileName | IngestError) -> None:
        """Send this file to a parse worker and claim the next one and send it behind (one file at a time only).

        The worker then prepares the next file while this one is handed to the writer.
        Left out: names the operator renames (``dbms_name``/``table_name``), files whose rows
        are in already (member ``@``), and a next file of this one's name (it waits its turn).
        """
        def send(path: Path, name: FileName | IngestError) -> bool:
            if isinstance(name, IngestError) or already_inserted(name) is not None:
                return False
            return self._parser.prefetch(path, self.node.catalog, name)

        if self.config.dbms_name or self.config.table_name or not send(work, parsed):
            return
        following = self._next_pending(take=False)
        if following is None or following == work.name:
            return
        self._pending.discard(following)
        claimed = self._claim(following)
        if claimed is not None:
            self._ahead = claimed
            send(*claimed)

    def _reap(self, block: bool, until: int = 0) -> None:
        """Forget finished pool jobs; with ``block``, wait until at most ``until`` are in flight."""
        while True:
            with self._lock:
                done = [f for f in self._inflight if f.done()]
                for f in done:
                    del self._inflight[f]
                left = list(self._inflight)
            for f in done:
                if f.exception() is not None:  # _ingest handles its own errors; this is a bug
                    self.node.log.error("operator: a pool job failed: %s", f.exception())
            if done:
                self._wake.set()  # a same-named file may have been waiting for it
            if not block or len(left) <= until:
                return
            wait(left, timeout=1.0, return_when=FIRST_COMPLETED)

    # -- one file -------------------------------------------------------------
    def _ingest(self, path: Path, recovered: bool = False, parsed: FileName | IngestError | None = None,
                hold: bool = False) -> None:
        """Ingest one claimed file; ``parsed`` is its name as :func:`parse_arrival` gave it (else parsed here).

        With ``hold`` its commit is awaited later, by :meth:`_settle` once the next file is handed on.
        """
        from anynode.ingest.pipeline import start_file

        claimed, started = path.name, time.perf_counter()
        with self._lock:
            self.stats.last_file = claimed
            self.stats.busy_since[claimed] = started
        try:
            reason = refusal(path) if parsed is None else None  # in .work/ since a crash (a claim was judged)
            if reason is not None:
                raise reason
            name = parse_arrival(path.name) if parsed is None else parsed
            if isinstance(name, IngestError):
                raise name
            archived = already_inserted(name)  # member '@': streaming wrote its rows; only put it away
            if archived is not None:
                check_archive_name(self.config, archived)
                self.node.log.info("operator: %s holds rows already inserted; archived as %s", path.name, archived)
                self._done(path, archived)
                self._account(claimed, started)
                return
            if self.config.dbms_name or self.config.table_name:
                renamed = str(target(self.config, name))
                if self._open is not None and self._open[0].name == renamed:
                    self._settle()  # the file it is renamed to is still being committed
                if self._archiver is not None:
                    self._archiver.wait_name(renamed)  # the name it is renamed to is free
            path, name = rename_for_options(self.config, path, name)
            check_archive_name(self.config, name)
            check_table(self.config, self.node.catalog, self._seen_tables, name)
            pending = start_file(path, self.node.catalog, name=name, cancel=self._stop.is_set,
                                 progress=lambda n: self._progress(claimed, n), defer_record=True,
                                 parser=self._parser)
        except Exception as exc:
            self._outcome(path, claimed, started, recovered, None, exc)
            return
        if hold:
            self._settle()  # the previous file commits (or failed) while this one waits in the writer's queue
            self._open = (path, claimed, started, recovered, pending)
        else:
            self._outcome(path, claimed, started, recovered, pending, None)

    def _settle(self) -> None:
        """Finish the file whose commit was not awaited, if any."""
        if self._open is not None:
            path, claimed, started, recovered, pending = self._open
            self._open = None
            self._outcome(path, claimed, started, recovered, pending, None)

    def _account(self, claimed: str, started: float) -> None:
        with self._lock:
            self.stats.busy_seconds += time.perf_counter() - started
            self.stats.busy_since.pop(claimed, None)
            self.stats.in_progress.pop(claimed, None)

    def _outcome(self, path: Path, claimed: str, started: float, recovered: bool, pending: PendingIngest | None,
                 error: Exception | None) -> None:
        """Wait for the file's commit (or take the error met before it), then count it and put it away."""
        try:
            if error is not None:
                raise error
            assert pending is not None
            report = pending.result()
        except FileNotFoundError:
            self.node.log.warning("operator: %s disappeared from %s before it was ingested", path.name, path.parent)
            return
        except IngestCancelled:
            self.node.log.info("operator: stopped while ingesting %s: nothing of it was inserted; it stays in %s "
                               "and is ingested at the next start", path.name, path.parent)
            return
        except IngestError as exc:
            if exc.anylog_code == Code.DUPLICATE_JSON_FILE and recovered:
                copy = archived_copy(self.config, path, exc.file_hash if isinstance(exc, DuplicateFile) else "")
                self.node.log.info("operator: %s was already ingested before the restart; %s", path.name,
                                   "archiving it" if copy is None else f"its archive copy {copy.name} was made too")
                if copy is None:
                    self._done(path, None)
                else:
                    path.unlink(missing_ok=True)
                return
            self._fail(path, exc)
            return
        except Exception as exc:  # one file must not stop the operator; the traceback goes to the log
            self.node.log.error("operator: unexpected failure on %s", path.name, exc_info=exc)
            self._fail(path, IngestError(f"unexpected failure: {type(exc).__name__}: {exc}",
                                         hint="see logs/root.log for the traceback", code=Code.PROCESS_FAILURE))
            return
        finally:
            self._account(claimed, started)
        key = f"{report.dbms}.{report.table}"
        with self._lock:
            new_table = key not in self._seen_tables
            self._seen_tables.add(key)
            self.stats.files += 1
            self.stats.rows += report.rows
            counts = self.stats.by_table.setdefault(key, [0, 0])
            counts[0] += 1
            counts[1] += report.rows
        if new_table and self.member is not None:  # its cluster holds the table from now on
            self.member.table_seen(report.dbms, report.table)
        self._done(path, str(report.name) if report.name else None, report.recorded)

    def _progress(self, name: str, rows: int) -> None:
        with self._lock:
            self.stats.in_progress[name] = rows

    def _done(self, path: Path, archived_name: str | None, recorded: Future[None] | None = None) -> None:
        """Hand an ingested file to the archiver (it is put away once ``recorded`` is done), or put it away here."""
        if self._archiver is not None:
            self._archiver.submit(path, archived_name, recorded)
            return
        try:
            put_away(self.config, path, archived_name)
        except OSError as exc:  # the rows are in; the file stays in .work/ and is archived at the next start
            self.node.log.error("operator: %s was ingested but could not be put away: %s", path.name, exc)

    def _fail(self, path: Path, exc: IngestError, inode: int | None = None) -> None:
        """Move a file that could not be ingested to the error directory, with the reason beside it.

        An entry of the watch directory that cannot be moved (``inode`` given:
        a pipe when the error directory is on another file system) is left
        where it is, reported once and skipped from then on.
        """
        try:
            target = self.errors.put(path, exc)
        except OSError as move_error:
            why = move_error.strerror or str(move_error)
            self.node.log.error("operator: cannot move %s to the error directory: %s", path, why)
            if inode is not None:
                with self._lock:
                    self._left.add((path.name, inode))
                    operator_stats.refused(self.stats, exc, f"left in {path.parent}: {why}")
            return
        with self._lock:
            operator_stats.refused(self.stats, exc)
        self.node.log.warning("operator: %s -> %s: %s", path.name, target.name, exc.one_line())

    # -- reporting ------------------------------------------------------------
    def details(self) -> str:
        member = self.member.details() if self.member is not None else "Cluster Member: False, Using Master: False"
        return (f"{member}, Threads Pool: {self.config.threads}, "
                f"Files: {self.stats.files}, Rows: {self.stats.rows}, Errors: {self.stats.errors}")

    def info(self) -> dict[str, Any]:
        archive_waiting = self._archiver.waiting if self._archiver is not None else 0
        with self._lock:
            return operator_stats.info(self.stats, pending=len(self._pending),
                                       in_flight=len(self.stats.busy_since), archive_waiting=archive_waiting,
                                       threads=self.config.threads, rescans=self.rescans.runs,
                                       watch_dir=str(self.config.watch_dir), parse_workers=self._parser.pids,
                                       parsed_in_workers=self._parser.files)

    def summary(self) -> dict[str, Any]:
        """AnyLog's ``get operator summary`` row; "new" counts are since the previous summary."""
        with self._lock:
            return operator_stats.summary(self.stats, self.node.name)
