"""The integrity check of the archive: do the files still hold what was ingested?

The operator archives each ingested file under ``archive/YY/MM/DD/`` with its
8-section name ``dbms.table.source.hash.instructions.member.file_id.date``,
where ``hash`` is the MD5 it recorded in ``tsd_info`` (AnyLog's rule: md5 of
``"dbms.table"`` followed by the decompressed content) and ``date`` the
ingest time (UTC). The check walks the day directories that can hold files
ingested within ``age_in_days``, keeps the files whose ingest time is in
that window, and hashes each one again from the disk: the kernel is first
told to drop its cached pages of the file (``posix_fadvise DONTNEED``), and
no checksum is ever cached. A different MD5, or a file that cannot be read
back (a damaged gzip), is logged as an error, counted, and kept in the list
that ``get integrity`` shows, with how many passes found it; a file that
matches again leaves the list.

One pass is a sequence of files: the housekeeping task checks them one by
one, stops at its soft timeout and goes on at the next run where it left.
Files whose name carries no MD5 (a hash given by a publisher in another
form, or none) are skipped and counted.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from anynode.errors import AnyNodeError
from anynode.ingest.naming import FileName
from anynode.ingest.reader import file_hash
from anynode.protocols import NodeView

_MD5 = re.compile(r"[0-9a-f]{32}")
_TWO_DIGITS = re.compile(r"\d\d")
Item = tuple[Path, FileName]


@dataclass
class Corrupt:
    """A file whose content no longer gives the MD5 recorded at ingest."""

    path: str
    expected: str
    found: str
    first_seen: float
    last_seen: float
    count: int = 1


class IntegrityState:
    """What the checks found on one node: the corrupt files, the last complete pass, the one in progress."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.corrupt: dict[str, Corrupt] = {}
        self.mismatches = 0  # every detection, over all passes
        self.checked = 0
        self.passes = 0
        self.last_pass: dict[str, Any] = {}
        self._current: dict[str, Any] = {}

    def begin(self, now: float, archive: Path, age_days: float) -> None:
        """A new pass starts."""
        with self._lock:
            self._current = {"archive": str(archive), "age_in_days": age_days, "started": now, "files": 0,
                             "ok": 0, "mismatched": 0, "skipped": 0}

    def finish(self, now: float) -> None:
        """The pass in progress went through every file."""
        with self._lock:
            self.passes += 1
            self.last_pass = {**self._current, "finished": now}

    def count(self, what: str) -> None:
        """Count one file of the pass in progress as ``ok`` or ``skipped``."""
        with self._lock:
            self._current[what] = self._current.get(what, 0) + 1
            if what == "ok":
                self._current["files"] += 1
                self.checked += 1

    def matched(self, path: Path) -> None:
        """``path`` gave its MD5 (a file listed as corrupt that matches again leaves the list)."""
        self.count("ok")
        with self._lock:
            self.corrupt.pop(str(path), None)

    def mismatched(self, path: Path, expected: str, found: str, now: float) -> Corrupt:
        """``path`` did not give ``expected``; returns its entry in the list."""
        with self._lock:
            self._current["files"] = self._current.get("files", 0) + 1
            self._current["mismatched"] = self._current.get("mismatched", 0) + 1
            self.checked += 1
            self.mismatches += 1
            entry = self.corrupt.get(str(path))
            if entry is None:
                entry = self.corrupt[str(path)] = Corrupt(str(path), expected, found, now, now)
            else:
                entry.found, entry.last_seen, entry.count = found, now, entry.count + 1
            return entry

    def progress(self) -> dict[str, Any]:
        """The pass in progress (empty between passes)."""
        with self._lock:
            return dict(self._current)

    def summary(self) -> str:
        """One line about the latest pass, for the task's status."""
        with self._lock:
            last = self.last_pass or self._current
            if not last:
                return "no pass yet"
            done = "pass done" if last is self.last_pass else "pass in progress"
            return (f"{done}: {last.get('files', 0)} file(s) checked, {last.get('mismatched', 0)} mismatch(es), "
                    f"{last.get('skipped', 0)} skipped; {len(self.corrupt)} corrupt file(s) listed")


def _day_dirs(archive: Path, since: datetime) -> Iterator[Path]:
    """``archive/YY/MM/DD`` directories dated ``since`` (UTC date) or later, oldest first."""
    def numbered(folder: Path) -> list[Path]:
        try:
            return sorted(p for p in folder.iterdir() if p.is_dir() and _TWO_DIGITS.fullmatch(p.name))
        except OSError:
            return []

    first = since.date()
    for year in numbered(archive):
        for month in numbered(year):
            for day in numbered(month):
                try:
                    when = datetime(2000 + int(year.name), int(month.name), int(day.name)).date()
                except ValueError:
                    continue
                if when >= first:
                    yield day


def archived_files(archive: Path, now: float, age_days: float) -> Iterator[Item]:
    """The archived data files ingested within ``age_days`` of wall time ``now``, with their parsed names."""
    cutoff = datetime.fromtimestamp(now, timezone.utc) - timedelta(days=age_days)
    for day in _day_dirs(archive, cutoff - timedelta(days=1)):  # a file may be archived the day after its ingest
        try:
            names = sorted(p for p in day.iterdir() if not p.name.startswith("."))
        except OSError:
            continue
        for path in names:
            try:
                name = FileName.parse(path)
            except AnyNodeError:
                continue
            if not name.has_tsd or name.date is None:
                continue
            try:
                ingested = datetime.strptime(name.date, "%y%m%d%H%M%S").replace(tzinfo=timezone.utc)
            except ValueError:
                continue
            if ingested >= cutoff:
                yield path, name


def fresh_md5(path: Path, name: FileName) -> str:
    """The file's MD5 by AnyLog's rule, read from the disk now (cached pages of the file dropped first).

    Raises:
        OSError: the file cannot be opened.
        AnyNodeError: its content cannot be read back (a damaged gzip).
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return file_hash(path, name.dbms, name.table)


class IntegrityCheck:
    """The work of one integrity task: ``items`` is one pass over the archive, ``process`` checks one file."""

    def __init__(self, state: IntegrityState, archive: Callable[[], Path], age_days: float,
                 now: Callable[[], float], logger: logging.Logger) -> None:
        self.state = state
        self.archive = archive
        self.age_days = age_days
        self.now = now
        self.log = logger

    def items(self) -> Iterator[Item]:
        """One pass: every archived file ingested within ``age_days``; the pass is recorded when it ends."""
        archive = self.archive()
        self.state.begin(self.now(), archive, self.age_days)
        yield from archived_files(archive, self.now(), self.age_days)
        self.state.finish(self.now())

    def process(self, item: Item) -> None:
        """Check one file against the MD5 in its archived name (which is the one recorded in tsd_info)."""
        path, name = item
        expected = name.hash.lower()
        if not _MD5.fullmatch(expected):
            self.state.count("skipped")
            return
        try:
            found = fresh_md5(path, name)
        except FileNotFoundError:
            self.state.count("skipped")  # deleted since it was listed (retention)
            return
        except (OSError, AnyNodeError) as exc:
            found = f"unreadable: {exc.one_line() if isinstance(exc, AnyNodeError) else exc.strerror}"
        if found == expected:
            self.state.matched(path)
            return
        entry = self.state.mismatched(path, expected, found, self.now())
        self.log.error("integrity check: %s does not match the MD5 recorded at ingest (expected %s, found %s; "
                       "found %d time(s))", path, expected, found, entry.count)


def state_of(node: NodeView) -> IntegrityState:
    """The node's integrity findings, made on first use."""
    return node.part("integrity", IntegrityState)
