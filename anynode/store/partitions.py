"""Time partitions of a table: the declaration, the periods, the partitions' names (AnyLog's layout).

``partition <dbms> <table|*> using <column> by <N> <unit>`` declares that the
rows of a table go into one partition per period of ``column``. A period is
aligned to the calendar like AnyLog's: ``N hours`` cut each day at hours 0, N,
2N ..., ``N days`` cut each month at days 1, N+1, 2N+1 ..., ``N months`` cut
each year, ``N years`` count from year 0; the last period of a day, month or
year may be shorter. ``week`` is 7 days.

A partition is named ``par_<table>_<period>_<unit letter><NN>_<column>``,
where ``<period>`` is ``yyyy[_mm[_dd[_hh]]]`` and, when N > 1, its last part
is the period's number within the larger unit (AnyLog's names):
``par_readings_2026_07_27_d01_timestamp`` (one day),
``par_readings_2026_07_27_01_h12_insert_timestamp`` (the second 12 hours of
27 July), ``par_readings_2026_08_00_d14_timestamp`` (1-14 August).

The declarations are kept in ``<dbms_dir>/partitions.json`` so that they
survive a restart (AnyLog keeps them in memory only and its scripts declare
them again at every start, which is still harmless here).
"""

from __future__ import annotations

import calendar
import functools
import json
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from anynode.errors import StoreError
from anynode.fileio import atomic_write
from anynode.store.backend import MAX_IDENT

PREFIX = "par_"
_UNITS = {"hour": "h", "hours": "h", "day": "d", "days": "d", "week": "w", "weeks": "w",
          "month": "m", "months": "m", "year": "y", "years": "y"}
_NAMES = {"h": "hour", "d": "day", "m": "month", "y": "year"}
_TAIL = re.compile(r"^(\d{4}(?:_\d{2}){0,3})_([hdmy])(\d{2,})_([a-z_][a-z0-9_]*)$")


@dataclass(frozen=True)
class PartitionSpec:
    """How one table is partitioned: by ``column``, every ``count`` ``unit`` (hour, day, month, year)."""

    column: str
    count: int
    unit: str

    @classmethod
    def parse(cls, column: str, interval: str) -> PartitionSpec:
        """``column`` and an interval such as ``12 hours``, ``day``, ``1 week``, ``3 months``.

        Raises:
            StoreError: an interval that is not ``[N] hour|day|week|month|year``.
        """
        words = interval.lower().split()
        if len(words) == 1 and words[0][:1].isdigit():  # "12hours"
            m = re.fullmatch(r"(\d+)([a-z]+)", words[0])
            words = [m.group(1), m.group(2)] if m else words
        count_text, unit_word = (words[0], words[1]) if len(words) == 2 else ("1", words[0] if words else "")
        letter = _UNITS.get(unit_word)
        if letter is None or not count_text.isdigit() or int(count_text) < 1 or len(words) > 2:
            raise StoreError(f"'{interval}' is not a partition interval",
                             hint="write: by 12 hours, by 1 day, by 7 days, by 1 month or by 1 year")
        count = int(count_text) * (7 if letter == "w" else 1)
        unit = _NAMES["d" if letter == "w" else letter]
        limit = {"hour": 24, "day": 31, "month": 12, "year": 9999}[unit]
        if count > limit:
            raise StoreError(f"'{interval}' is longer than the {unit}s of the next larger period ({limit})",
                             hint=f"at most {limit} {unit}s; use a larger unit")
        return cls(column.lower(), count, unit)

    @property
    def interval(self) -> str:
        """The interval as a user writes it: ``12 hours``, ``1 day``."""
        return f"{self.count} {self.unit}" + ("s" if self.count > 1 else "")

    @property
    def suffix(self) -> str:
        """What every partition's name ends with: ``d01_timestamp``."""
        return f"{self.unit[0]}{self.count:02d}_{self.column}"

    def to_json(self) -> dict[str, Any]:
        """The declaration as stored."""
        return {"column": self.column, "count": self.count, "unit": self.unit}

    # --- periods -----------------------------------------------------
    def start(self, value: Any) -> datetime:
        """The start of the period holding ``value`` (a datetime or ``YYYY-MM-DD HH...`` text).

        Raises:
            ValueError: the value is not a date-time.
        """
        if isinstance(value, datetime):
            y, mo, d, h = value.year, value.month, value.day, value.hour
        elif isinstance(value, str) and len(value) >= 10 and value[4] == "-" and value[7] == "-":
            y, mo, d = int(value[0:4]), int(value[5:7]), int(value[8:10])
            h = int(value[11:13]) if len(value) >= 13 and value[11:13].isdigit() else 0
        else:
            raise ValueError(f"{value!r} is not a date-time")
        c = self.count
        if self.unit == "hour":
            return datetime(y, mo, d, h // c * c)
        if self.unit == "day":
            return datetime(y, mo, (d - 1) // c * c + 1)
        if self.unit == "month":
            return datetime(y, (mo - 1) // c * c + 1, 1)
        return datetime(max(y // c * c, 1), 1, 1)

    def end(self, start: datetime) -> datetime:
        """The end (excluded) of the period that begins at ``start``."""
        c = self.count
        if self.unit == "hour":
            return min(start + timedelta(hours=c), datetime(start.year, start.month, start.day) + timedelta(days=1))
        if self.unit == "day":
            last = calendar.monthrange(start.year, start.month)[1]
            if start.day + c <= last:
                return start + timedelta(days=c)
            return datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
        if self.unit == "month":
            month = start.month + c
            return datetime(start.year + 1, 1, 1) if month > 12 else datetime(start.year, month, 1)
        return datetime(min(start.year + c, 9999), 1, 1)

    def period_text(self, start: datetime) -> str:
        """The ``<period>`` part of a partition's name for the period starting at ``start``."""
        c = self.count
        if self.unit == "hour":
            return f"{start:%Y_%m_%d}_{start.hour // c:02d}"
        if self.unit == "day":
            return f"{start:%Y_%m}_{start.day:02d}" if c == 1 else f"{start:%Y_%m}_{(start.day - 1) // c:02d}"
        if self.unit == "month":
            return f"{start:%Y_%m}" if c == 1 else f"{start.year:04d}_{(start.month - 1) // c:02d}"
        return f"{start.year:04d}" if c == 1 else f"{start.year // c:04d}"

    def name(self, table: str, start: datetime) -> str:
        """The partition of ``table`` for the period starting at ``start``.

        Raises:
            StoreError: the name would pass the 63 characters an identifier may have.
        """
        name = f"{PREFIX}{table}_{self.period_text(start)}_{self.suffix}"
        if len(name) > MAX_IDENT:
            raise StoreError(f"Partition name {name} is longer than {MAX_IDENT} characters",
                             hint="use a shorter table or column name to partition this table")
        return name

    def start_of_name(self, parts: list[str]) -> datetime:
        """The period start a name's ``<period>`` parts say (the inverse of :meth:`period_text`)."""
        n = [int(p) for p in parts]
        c = self.count
        if self.unit == "hour":
            return datetime(n[0], n[1], n[2], n[3] * c)
        if self.unit == "day":
            return datetime(n[0], n[1], n[2] if c == 1 else n[2] * c + 1)
        if self.unit == "month":
            return datetime(n[0], n[1] if c == 1 else n[1] * c + 1, 1)
        return datetime(n[0] * c if c > 1 else n[0], 1, 1)


@dataclass(frozen=True)
class Partition:
    """One partition of a table: its name, its spec and the period it holds (end excluded)."""

    table: str
    name: str
    spec: PartitionSpec
    start: datetime
    end: datetime


_PARTS = {"hour": 4, "day": 3, "month": 2, "year": 1}


@functools.lru_cache(maxsize=4096)
def parse_name(table: str, name: str) -> Partition | None:
    """The partition ``name`` is, when it is a partition of ``table``; None otherwise.

    Remembered: the ingest of each file lists a partitioned table's partitions again (30 names took
    0.19 ms to parse, on the writer's thread, against 0.01 ms remembered; the answers never change).
    """
    head = f"{PREFIX}{table}_"
    if not name.startswith(head):
        return None
    m = _TAIL.match(name[len(head):])
    if m is None:
        return None
    parts = m.group(1).split("_")
    spec = PartitionSpec(m.group(4), int(m.group(3)), _NAMES[m.group(2)])
    if len(parts) != _PARTS[spec.unit]:
        return None
    try:
        start = spec.start_of_name(parts)
    except ValueError:
        return None
    return Partition(table, name, spec, start, spec.end(start))


def partitions_of(table: str, names: list[str]) -> list[Partition]:
    """The partitions of ``table`` among the table ``names``, oldest first."""
    found = [p for p in (parse_name(table, n) for n in names) if p is not None]
    return sorted(found, key=lambda p: (p.start, p.name))


def partitioned_tables(names: list[str]) -> list[str]:
    """The tables that have partitions among the table ``names`` (judged by the names alone)."""
    out: set[str] = set()
    for name in names:
        if name.startswith(PREFIX):
            m = re.match(r"^par_(.+?)_\d{4}(?:_\d{2}){0,3}_[hdmy]\d{2,}_", name)
            if m and parse_name(m.group(1), name):
                out.add(m.group(1))
    return sorted(out)


class PartitionBook:
    """The declared partitioning of a node's tables: ``(dbms, table or *) -> spec``, kept in a JSON file.

    Args:
        path: the file (``<dbms_dir>/partitions.json``); None keeps the book in memory.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._specs: dict[tuple[str, str], PartitionSpec] = {}
        if path is not None and path.is_file():
            try:
                for entry in json.loads(path.read_text()):
                    self._specs[(entry["dbms"], entry["table"])] = PartitionSpec(
                        entry["column"], int(entry["count"]), entry["unit"])
            except (ValueError, KeyError, TypeError) as exc:
                raise StoreError(f"The partition declarations in {path} do not parse: {exc}",
                                 hint="fix or delete the file, then declare the partitions again") from exc

    def declare(self, dbms: str, table: str, spec: PartitionSpec) -> None:
        """Record (or replace) the declaration of ``dbms.table`` (``table`` may be ``*``)."""
        with self._lock:
            self._specs[(dbms, table)] = spec
            self._save()

    def remove(self, dbms: str, table: str) -> bool:
        """Forget a declaration; False when there was none."""
        with self._lock:
            found = self._specs.pop((dbms, table), None) is not None
            if found:
                self._save()
            return found

    def lookup(self, dbms: str, table: str) -> PartitionSpec | None:
        """The spec for rows of ``dbms.table``: its own declaration, else its database's ``*``."""
        if table.startswith(PREFIX) or table.startswith("tsd_"):
            return None
        specs = self._specs
        return specs.get((dbms, table)) or specs.get((dbms, "*"))

    def entries(self, dbms: str | None = None) -> list[tuple[str, str, PartitionSpec]]:
        """Every declaration (of one database when ``dbms`` is given), sorted."""
        with self._lock:
            items = sorted(self._specs.items())
        return [(d, t, s) for (d, t), s in items if dbms is None or d == dbms]

    def _save(self) -> None:
        if self.path is None:
            return
        rows = [{"dbms": d, "table": t, **s.to_json()} for (d, t), s in sorted(self._specs.items())]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps(rows, indent=1).encode(), keep_backup=False)
        except OSError as exc:
            raise StoreError(f"Cannot save the partition declarations to {self.path}: {exc.strerror}",
                             hint="make dbms_dir writable") from exc
