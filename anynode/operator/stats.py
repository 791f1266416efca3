"""What the operator counts, and the two views of it: ``get operator`` and ``get operator summary``.

``rows`` counts rows committed: a file's rows commit together with its record
(all or nothing), so during one big file ``rows`` stays put and
``rows_in_progress`` shows the rows of the files being ingested that are
inserted but not yet committed. The fields are explained for users in
docs/ingest.md ("What `get operator` says").
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from anynode.codes import Code
from anynode.errors import IngestError


@dataclass
class OperatorStats:
    """Counters behind ``get operator`` (updated under the service's lock)."""

    files: int = 0
    rows: int = 0
    errors: int = 0
    duplicates: int = 0
    last_file: str = ""
    last_error: str = ""
    last_error_code: int = Code.SUCCESS
    busy_seconds: float = 0.0
    started: float = field(default_factory=time.time)
    by_table: dict[str, list[int]] = field(default_factory=dict)  # "dbms.table" -> [files, rows]
    reported: tuple[int, int] = (0, 0)  # rows, errors at the last 'get operator summary'
    in_progress: dict[str, int] = field(default_factory=dict)  # file being ingested -> rows inserted, uncommitted
    busy_since: dict[str, float] = field(default_factory=dict)  # file being ingested -> perf_counter at its start


def refused(stats: OperatorStats, exc: IngestError, left: str | None = None) -> None:
    """Count a refused file (``left``: why it stays where it is); the caller holds the lock."""
    stats.errors += 1
    if left is None and exc.anylog_code == Code.DUPLICATE_JSON_FILE:
        stats.duplicates += 1
    stats.last_error = exc.one_line() if left is None else f"{exc.one_line()}; {left}"
    stats.last_error_code = exc.anylog_code


def rate(count: float, seconds: float) -> float:
    """``count / seconds`` for people: one decimal from 10 up, else three significant digits (0.0476, not 0.0)."""
    if seconds <= 0 or count <= 0:
        return 0.0
    value = count / seconds
    if value >= 10:
        return round(value, 1)
    return round(value, 2 - math.floor(math.log10(value)))


def busy(stats: OperatorStats, now: float) -> float:
    """Seconds spent ingesting, the files being ingested right now included (wall time, overlaps once)."""
    if not stats.busy_since:
        return stats.busy_seconds
    return stats.busy_seconds + now - min(stats.busy_since.values())


def info(stats: OperatorStats, *, pending: int, in_flight: int, archive_waiting: int, threads: int,
         rescans: int, watch_dir: str, parse_workers: list[int] | None = None, parsed_in_workers: int = 0
         ) -> dict[str, Any]:
    """``get operator``'s fields (the caller holds the lock)."""
    now = time.perf_counter()
    in_progress = sum(stats.in_progress.values())
    elapsed = time.time() - stats.started
    return {"files": stats.files, "rows": stats.rows, "rows_in_progress": in_progress,
            "errors": stats.errors, "duplicates": stats.duplicates,
            "rows_per_second": rate(stats.rows + in_progress, busy(stats, now)),
            "rows_per_second_overall": rate(stats.rows, elapsed), "last_file": stats.last_file,
            "last_error": stats.last_error, "last_error_code": stats.last_error_code,
            "pending": pending, "in_flight": in_flight, "archive_waiting": archive_waiting, "threads": threads,
            "parse_workers": parse_workers or [], "files_parsed_in_workers": parsed_in_workers,
            "rescans": rescans, "watch_dir": watch_dir}


def summary(stats: OperatorStats, node_name: str) -> dict[str, Any]:
    """AnyLog's ``get operator summary`` row, "new" counts since the previous one (the caller holds the lock)."""
    new_rows, new_errors = stats.rows - stats.reported[0], stats.errors - stats.reported[1]
    stats.reported = (stats.rows, stats.errors)
    elapsed = time.time() - stats.started
    spent = busy(stats, time.perf_counter())
    return {"Node name": node_name, "Status": "Active", "Operational time": _hms(elapsed),
            "Processing time": _hms(spent), "Elapsed time": _hms(elapsed),
            "New rows": new_rows, "Total rows": stats.rows, "New errors": new_errors, "Total errors": stats.errors,
            "Avg. rows/sec": rate(stats.rows, spent)}


def _hms(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
