"""System scheduler 0: the node's own housekeeping, one task per job.

* **Integrity check** (``integrity_interval``, ``integrity_age_days``): see
  :mod:`anynode.scheduler.integrity`. First run one interval after the start
  (at most 10 minutes), so a node that starts does not read its archive at once.
* **Staging cleaner** (``staging_clean_interval`` = P): deletes temp files
  (``*.tmp``, ``*.part``, ``*.transfer``: partial uploads, transfers, writes
  cut by a crash) untouched for 2P, in ``!tmp_dir`` (all of it),
  ``!prep_dir``, ``!watch_dir``, ``!bkup_dir``, ``!blockchain_dir`` and the
  archive's directories of today and yesterday. Never a file being written:
  one modified within 2P is young, and one this process holds open is kept
  whatever its age (Linux /proc). The operator's ``.work`` directory is not
  touched (what is left there is ingested again at the next start).
* **Stats** (``stats_interval``): one JSON line per service to logs/stats.log
  with its state and counters and the rates of the counters that grew, and
  one ``process`` line with CPU seconds, CPU %, resident memory, threads and
  open files.
* **Retention** (``retention_interval``): deletes error-directory files older
  than ``error_retention_days`` and archive day directories older than
  ``archive_retention_days``; both 0 (off) by default, and the task is then
  Stopped.

* **Metadata ping** (``metadata_ping_interval``, ``peer_ping_timeout``):
  sends ``get status`` to the operators the metadata view marks
  not_responding (see :mod:`anynode.metadata.liveness`), so one that is back
  is routed to again. Nothing to do on a node without a ledger.

Settings are read when scheduler 0 starts.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from anynode.protocols import NodeView
from anynode.scheduler.integrity import IntegrityCheck, state_of
from anynode.scheduler.procstats import ProcessSampler, RateTracker
from anynode.scheduler.tasks import SYSTEM, Task, TaskBook
from anynode.scheduler.when import Clock, repeat_text
from anynode.services.periodic import PeriodicTask

TEMP_SUFFIXES = (".tmp", ".part", ".transfer")
_FLAT_DIRS = ("prep_dir", "watch_dir", "bkup_dir", "blockchain_dir")
DAY = 86400.0
WORK_PART = ".work"  # the operator's claimed files: replayed at its next start, never cleaned


def _operator_dir(node: NodeView, attr: str, var: str) -> Path:
    """A directory the running operator uses (its config), else the node variable."""
    config = getattr(node.services.get("Operator"), "config", None)
    chosen = getattr(config, attr, None) or node.get_var(var) or ""
    return Path(chosen)


def archive_dir(node: NodeView) -> Path:
    """Where ingested files are archived: the operator's archive_dir, else !archive_dir."""
    return _operator_dir(node, "archive_dir", "archive_dir")


def error_dir(node: NodeView) -> Path:
    """Where refused files go: the operator's error_dir, else !err_dir."""
    return _operator_dir(node, "error_dir", "err_dir")


def _held_open() -> set[str]:
    """Paths this process holds open (empty where /proc is missing)."""
    held: set[str] = set()
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return held
    for fd in fds:
        try:
            held.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    return held


def _archive_days(node: NodeView, now: float, back: int) -> list[Path]:
    root = archive_dir(node)
    today = datetime.fromtimestamp(now, timezone.utc)
    return [root / (today - timedelta(days=n)).strftime("%y/%m/%d") for n in range(back)]


def staging_places(node: NodeView, now: float) -> list[tuple[Path, bool]]:
    """(directory, recursive) the staging cleaner looks in."""
    places = [(Path(node.get_var("tmp_dir") or node.home / "data" / "tmp"), True)]
    places += [(Path(d), False) for d in (node.get_var(v) for v in _FLAT_DIRS) if d]
    places += [(day, False) for day in _archive_days(node, now, 2)]
    return places


def clean_staging(node: NodeView, every: float, clock: Clock, log: logging.Logger) -> int:
    """Delete temp files untouched for ``2 * every`` seconds; returns how many were deleted."""
    now = clock.time()
    limit = now - 2 * every
    held = _held_open()
    deleted = 0
    for folder, recursive in staging_places(node, now):
        if not folder.is_dir():
            continue
        candidates = folder.rglob("*") if recursive else folder.iterdir()
        for path in candidates:
            if not path.name.lower().endswith(TEMP_SUFFIXES) or WORK_PART in path.parts:
                continue
            try:
                stat = path.stat()
                if not path.is_file() or stat.st_mtime >= limit or str(path) in held:
                    continue
                path.unlink()
            except OSError:
                continue  # gone already, or not ours to delete
            deleted += 1
            log.info("staging cleaner: deleted %s (untouched for %s)", path, repeat_text(now - stat.st_mtime))
    return deleted


def apply_retention(node: NodeView, error_days: float, archive_days: float, clock: Clock, log: logging.Logger) -> int:
    """Delete error files older than ``error_days`` and archive days older than ``archive_days`` (0: keep)."""
    now = clock.time()
    deleted = 0
    errors = error_dir(node)
    if error_days > 0 and errors.is_dir():
        limit = now - error_days * DAY
        for path in errors.iterdir():
            try:
                if path.is_file() and path.stat().st_mtime < limit:
                    path.unlink()
                    deleted += 1
            except OSError:
                continue
        if deleted:
            log.info("retention: deleted %d file(s) older than %g day(s) from %s", deleted, error_days, errors)
    if archive_days > 0:
        deleted += delete_archive_days(archive_dir(node), archive_days, now, log)[1]
    return deleted


def delete_archive_days(root: Path, days: float, now: float, log: logging.Logger) -> tuple[int, int]:
    """Delete the archive's ``YY/MM/DD`` directories of days older than ``days`` before ``now``
    (``delete archive where days = N``; 0 keeps today only); (days deleted, files deleted)."""
    removed = files = 0
    if not root.is_dir():
        return 0, 0
    last_kept = (datetime.fromtimestamp(now, timezone.utc) - timedelta(days=days)).date()
    for year in sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit()):
        for month in sorted(p for p in year.iterdir() if p.is_dir() and p.name.isdigit()):
            for day in sorted(p for p in month.iterdir() if p.is_dir() and p.name.isdigit()):
                try:
                    date = datetime(2000 + int(year.name), int(month.name), int(day.name)).date()
                except ValueError:
                    continue
                if date < last_kept:  # the whole day is older than the limit
                    count = sum(1 for p in day.rglob("*") if p.is_file())
                    shutil.rmtree(day, ignore_errors=True)
                    removed, files = removed + 1, files + count
                    log.info("retention: deleted archive day %s (%d file(s))", day, count)
            if not any(month.iterdir()):
                month.rmdir()
        if not any(year.iterdir()):
            year.rmdir()
    return removed, files


def stats_writer(node: NodeView, clock: Clock) -> Callable[[Callable[[], bool]], int]:
    """The work of the stats task: every service's line (with rates) and the process line."""
    from anynode.logs import service_stats

    rows = service_stats(node.services)
    sampler, rates = ProcessSampler(), RateTracker()

    def write(expired: Callable[[], bool]) -> int:
        now = clock.monotonic()
        lines = rows()
        node.logs.write_stats("process", sampler.sample(now))
        for name, info in lines:
            grew = rates.update(name, info, now)
            node.logs.write_stats(name, {**info, "rates": grew} if grew else info)
        rates.forget_others({name for name, _ in lines})
        return len(lines) + 1

    return write


def system_tasks(node: NodeView, book: TaskBook) -> list[Task]:
    """Scheduler 0's jobs with today's settings; ids stay those of the previous start when there was one."""
    settings, clock, log = node.settings, book.clock, node.log.getChild("housekeeping")
    soft = float(settings["housekeeping_soft_timeout"])
    known = {t.name: t.id for t in book.tasks([SYSTEM]) if t.system}
    next_id = [book.next_id(SYSTEM)]

    def make(name: str, every: float, periodic: PeriodicTask, text: str, describe: Callable[[int], str], *,
             first: float = 0.0, stopped: bool = False) -> Task:
        tid = known.get(name)
        if tid is None:
            tid, next_id[0] = next_id[0], next_id[0] + 1
        # the job stops itself between items at `soft`; a run still going at twice that is stuck in one item
        task = Task(tid, name, SYSTEM, every, clock=clock, periodic=periodic, text=text, soft_timeout=2 * soft,
                    start=clock.time() + first, describe=describe, logger=log)
        if stopped:
            task.stop()
        return task

    def job(name: str, every: float, **kwargs: Any) -> PeriodicTask:
        return PeriodicTask(f"housekeeping {name}", every, soft_timeout=soft, anchored=True, clock=clock.monotonic,
                            logger=log, **kwargs)

    age = float(settings["integrity_age_days"])
    every = float(settings["integrity_interval"])
    check = IntegrityCheck(state_of(node), lambda: archive_dir(node), age, clock.time, log)
    state = state_of(node)
    clean_every = float(settings["staging_clean_interval"])
    stats_every = float(settings["stats_interval"])
    error_days, archive_days = float(settings["error_retention_days"]), float(settings["archive_retention_days"])
    keep_every = float(settings["retention_interval"])
    ping_every, ping_timeout = float(settings["metadata_ping_interval"]), float(settings["peer_ping_timeout"])
    kept = [f"error files older than {error_days:g} day(s)" if error_days else "",
            f"archived files older than {archive_days:g} day(s)" if archive_days else ""]
    return [
        make("Integrity check", every, job("integrity", every, items=check.items, process=check.process),
             f"re-read archived files ingested within {age:g} day(s) and compare with the MD5 recorded at ingest",
             lambda n: state.summary(), first=min(every, 600.0)),
        make("Staging cleaner", clean_every,
             job("staging", clean_every, call=lambda e: clean_staging(node, clean_every, clock, log)),
             f"delete temp files (*.tmp, *.part, *.transfer) untouched for {repeat_text(2 * clean_every)}",
             lambda n: f"{n} temp file(s) deleted"),
        make("Stats", stats_every, job("stats", stats_every, call=stats_writer(node, clock)),
             "every service's counters and rates, process CPU and RSS to logs/stats.log",
             lambda n: f"{n} line(s) written", first=stats_every),
        make("Retention", keep_every,
             job("retention", keep_every,
                 call=lambda e: apply_retention(node, error_days, archive_days, clock, log)),
             "delete " + " and ".join(k for k in kept if k) if any(kept)
             else "off (error_retention_days and archive_retention_days are 0)",
             lambda n: f"{n} file(s) deleted", stopped=not any(kept)),
        make("Metadata ping", ping_every, job("metadata ping", ping_every, call=lambda e: _ping(node, ping_timeout)),
             "send get status to the operators the metadata marks not_responding",
             lambda n: f"{n} operator(s) pinged", first=ping_every),
    ]


def _ping(node: NodeView, timeout: float) -> int:
    """The metadata ping: how many not-responding operators were pinged."""
    from anynode.metadata.view import ping_down

    return ping_down(node, timeout)[0]
