"""What a plan is: the operators' query, the combining query, and the time bucket written for each engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

from anynode.errors import CommandSyntaxError
from anynode.query.timefn import UNIT_SECONDS

READ_DIALECT = "sqlite"  # queries are read as SQLite SQL, written for each operator's engine
_SPLITTABLE = (exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg)
BUCKET = "__anynode_bucket"


class PlanError(CommandSyntaxError):
    """A query that cannot be sent to the network as written."""


@dataclass
class Plan:
    """How one SELECT runs over many operators."""

    shape: str  # rows | aggregate | pull
    table: str
    remote: exp.Select
    merge: exp.Select | None  # None: the answers are concatenated (rows without ORDER BY), then limit/offset
    names: list[str]
    bucket: tuple[str, float, str] | None = None  # (unit, n, column) of increments()
    reason: str = ""  # why a query is pulled
    limit: int | None = None
    offset: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    text: str | None = None

    def remote_sql(self, engine: str = "sqlite") -> str:
        """The query an operator whose database is ``engine`` (sqlite or psql) runs."""
        tree = self.remote
        if self.bucket is not None:
            tree = _with_bucket(tree, self.bucket, engine)
        return tree.sql(dialect=_dialect(engine))

    def merge_sql(self) -> str | None:
        """The query over the union (SQLite), or None when the answers are only concatenated."""
        if self.text is not None:
            return self.text
        if self.merge is None:
            return None
        tree = _with_bucket(self.merge, self.bucket, "sqlite") if self.bucket else self.merge
        return tree.sql(dialect="sqlite")


def _dialect(engine: str) -> str:
    return "postgres" if engine in ("psql", "postgres", "postgresql") else "sqlite"


def bucket_sql(unit: str, n: float, column: str, engine: str) -> str:
    """The time bucket of ``column`` (a number that grows with time) for ``increments(unit, n, column)``."""
    col = exp.column(column).sql(dialect=_dialect(engine))
    if _dialect(engine) == "postgres":
        if unit in UNIT_SECONDS:
            return f"FLOOR(EXTRACT(EPOCH FROM CAST({col} AS TIMESTAMP)) / {UNIT_SECONDS[unit] * n})"
        ts = f"CAST({col} AS TIMESTAMP)"
        months = f"(EXTRACT(YEAR FROM {ts}) * 12 + EXTRACT(MONTH FROM {ts}) - 1)"
        return f"FLOOR({months} / {n * (12 if unit == 'year' else 1)})"
    if unit in UNIT_SECONDS:
        seconds = UNIT_SECONDS[unit] * n
        step = str(int(seconds)) if float(seconds).is_integer() else str(seconds)
        return f"CAST(CAST(strftime('%s', {col}) AS INTEGER) / {step} AS INTEGER)"
    months = f"(CAST(strftime('%Y', {col}) AS INTEGER) * 12 + CAST(strftime('%m', {col}) AS INTEGER) - 1)"
    return f"({months} / {int(n * (12 if unit == 'year' else 1))})"


def _with_bucket(tree: exp.Select, bucket: tuple[str, float, str], engine: str) -> exp.Select:
    expr = sqlglot.parse_one(bucket_sql(*bucket, engine), read=_dialect(engine))
    out = tree.copy()
    for col in list(out.find_all(exp.Column)):
        if col.name == BUCKET and not col.table:
            col.replace(expr.copy())
    return out
