"""AnyLog's SQL on this node's own database: the same plan as over the network, with one source."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from anynode.query.merge import CHUNK

if TYPE_CHECKING:
    from anynode.store.backend import QueryLimits
    from anynode.store.catalog import DatabaseCatalog as Catalog


def plain(value: Any) -> Any:
    """A value as it travels between nodes: times as stored text, decimals as floats."""
    if isinstance(value, datetime):
        return str(value.replace(tzinfo=None))
    if isinstance(value, date):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


class LocalSource:
    """One connected database of this node, read through its read-only path with the caller's limits."""

    def __init__(self, catalog: Catalog, dbms: str, limits: QueryLimits) -> None:
        self.catalog, self.dbms, self.limits = catalog, dbms, limits
        self.name = dbms
        self.engine = catalog.get(dbms).backend.kind

    def query(self, sql: str) -> tuple[list[str], Iterable[Sequence[Any]]]:
        """Run one remote query here."""
        columns, rows = self.catalog.query(self.dbms, sql, limits=self.limits)
        out = [tuple(map(plain, r)) for r in rows] if self.engine != "sqlite" else rows
        return columns, (out[i:i + CHUNK] for i in range(0, len(out), CHUNK))


def query_local(catalog: Catalog, dbms: str, statement: str,
                limits: QueryLimits) -> tuple[list[str], list[tuple[Any, ...]]]:
    """``statement`` (with increments, period, now() - 1 hour...) on ``dbms``: columns and rows."""
    from anynode.query.run import run_query  # sqlglot loads only when a query needs it

    answer = run_query(statement, [LocalSource(catalog, dbms, limits)])
    return answer.columns, [row for chunk in answer.chunks for row in chunk]
