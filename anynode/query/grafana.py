"""Grafana's JSON data source, answered as AnyLog's Grafana connector does: panels become AnyLog queries.

Grafana sends ``/query`` with the panel's time range, its interval and one
target per query; each target names a table (the metric) and may carry
AnyLog's "Additional JSON Data" (``payload``, or ``data`` in the older
SimpleJSON plugin): ``type`` (increments, the default; period; sql; info),
``dbms``, ``table``, ``sql``, ``where``, ``time_column``, ``value_column``,
``time_range``, ``details``. A time series target becomes an ``increments``
query over the panel's range at the panel's interval, with one series each
for min, avg and max; a table target gives the rows as they come. What runs
the queries (this node's database, or the network) is the caller's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from anynode.errors import CommandSyntaxError

Rows = tuple[list[str], list[tuple[Any, ...]]]
RunSql = Callable[[str, str], Rows]  # (dbms, sql) -> (columns, rows)
RunCommand = Callable[[str], Rows]  # (AnyLog command) -> (columns, rows)
_SERIES = ("min", "avg", "max")
_UNITS = ((86_400_000, "day"), (3_600_000, "hour"), (60_000, "minute"), (1_000, "second"))


class GrafanaError(CommandSyntaxError):
    """A panel's request that cannot become a query; Grafana shows the message."""


def _time(text: Any, what: str) -> datetime:
    try:
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise GrafanaError(f"range.{what} '{text}' is not an ISO time", hint="Grafana sends e.g. "
                           "2026-01-01T00:00:00.000Z") from None
    return when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo else when


def step(interval_ms: int) -> tuple[str, int]:
    """AnyLog's ``increments`` unit and count for Grafana's interval (the largest unit that divides it)."""
    ms = max(int(interval_ms), 1000)
    for size, unit in _UNITS:
        if ms % size == 0:
            return unit, ms // size
    return "second", -(-ms // 1000)


def _payload(target: dict[str, Any]) -> dict[str, Any]:
    extra = target.get("payload") or target.get("data") or {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra) if extra.strip() else {}
        except ValueError:
            raise GrafanaError("the Additional JSON Data is not JSON", hint='e.g. {"type": "period"}') from None
    if not isinstance(extra, dict):
        raise GrafanaError("the Additional JSON Data must be a JSON object", hint='e.g. {"type": "period"}')
    return extra


def _ident(name: Any, what: str) -> str:
    text = str(name or "")
    if not text.replace("_", "a").isalnum():
        raise GrafanaError(f"{what} '{text}' is not a name", hint=f"give {what} as letters, digits and _")
    return text


def _epoch_ms(value: Any) -> int:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", ""))
    return int(when.replace(tzinfo=timezone.utc).timestamp() * 1000)


class Panel:
    """One ``/query`` request: its range, interval and targets."""

    def __init__(self, body: dict[str, Any], dbms: str | None) -> None:
        rng = body.get("range") or {}
        self.start = _time(rng.get("from"), "from")
        self.end = _time(rng.get("to"), "to")
        if self.end <= self.start:
            raise GrafanaError("the panel's time range ends before it starts", hint="pick a range in Grafana")
        self.interval_ms = int(body.get("intervalMs") or 0) or max(
            int((self.end - self.start).total_seconds() * 1000 / max(int(body.get("maxDataPoints") or 1000), 1)),
            1000)
        self.max_points = int(body.get("maxDataPoints") or 0) or None
        self.dbms = dbms
        self.targets = [t for t in body.get("targets") or [] if isinstance(t, dict) and not t.get("hide")]

    def _where(self, column: str, extra: dict[str, Any]) -> str:
        where = f"{column} >= '{self.start}' AND {column} <= '{self.end}'"
        if extra.get("where"):
            where += f" AND ({extra['where']})"
        return where

    def sql_of(self, target: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
        """(dbms, sql, kind, extra) of one target."""
        extra = _payload(target)
        kind = str(extra.get("type") or ("sql" if extra.get("sql") else "increments")).lower()
        dbms = _ident(extra.get("dbms") or self.dbms, "dbms") if kind != "info" else ""
        if kind == "info":
            return "", str(extra.get("details") or ""), kind, extra
        if kind == "sql":
            sql = str(extra.get("sql") or "")
            if not sql:
                raise GrafanaError("type sql needs a sql key", hint='e.g. {"sql": "select * from t"}')
            if extra.get("where"):
                sql += (" AND " if " where " in sql.lower() else " WHERE ") + f"({extra['where']})"
            return dbms, sql, kind, extra
        table = _ident(extra.get("table") or target.get("target"), "table")
        ts = _ident(extra.get("time_column") or "timestamp", "time_column")
        value = _ident(extra.get("value_column") or "value", "value_column")
        if kind == "increments":
            unit, n = step(self.interval_ms)
            sql = (f"SELECT increments({unit}, {n}, {ts}), MAX({ts}), MIN({value}), AVG({value}), MAX({value}) "
                   f"FROM {table} WHERE {self._where(ts, extra)}")
        elif kind == "period":
            unit, n = step(int((self.end - self.start).total_seconds() * 1000))
            where = f" AND {extra['where']}" if extra.get("where") else ""
            sql = (f"SELECT MAX({ts}), MIN({value}), AVG({value}), MAX({value}) FROM {table} "
                   f"WHERE period({unit}, {n}, '{self.end}', {ts}{where})")
        else:
            raise GrafanaError(f"type '{kind}' is not known", hint="use increments, period, sql or info")
        return dbms, sql, kind, extra


def answer(body: dict[str, Any], dbms: str | None, run_sql: RunSql, run_command: RunCommand) -> list[dict[str, Any]]:
    """The ``/query`` reply: a series per min/avg/max for time series targets, a table for table targets."""
    panel = Panel(body, dbms)
    out: list[dict[str, Any]] = []
    for target in panel.targets:
        dbms_name, sql, kind, extra = panel.sql_of(target)
        if kind == "info":
            columns, rows = run_command(sql)
        else:
            if not dbms_name:
                raise GrafanaError("no database named", hint="add the header al.dbms.<name> to the data source, "
                                   'or "dbms" to the Additional JSON Data')
            columns, rows = run_sql(dbms_name, sql)
        if panel.max_points:
            rows = rows[-panel.max_points:]
        label = target.get("refId") or target.get("target") or "A"
        if target.get("type") == "table" or kind in ("sql", "info"):
            out.append({"type": "table", "refId": label, "columns": [{"text": c} for c in columns],
                        "rows": [list(r) for r in rows]})
            continue
        out.extend(_series(str(target.get("target") or label), rows))
    return out


def _series(name: str, rows: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """min/avg/max series from rows of (time, min, avg, max)."""
    series = []
    for i, fn in enumerate(_SERIES, start=1):
        points = [[row[i], _epoch_ms(row[0])] for row in rows if row[0] is not None]
        series.append({"target": f"{name} {fn}", "datapoints": points})
    return series


def metrics(tables: Sequence[str]) -> list[dict[str, str]]:
    """The ``/metrics`` reply: one entry per table."""
    return [{"label": t, "value": t} for t in tables]
