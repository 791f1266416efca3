"""Partitioned tables in the two engines: creating partitions, routing rows, migrating, dropping.

* **SQLite** has no partitioning: each period is a table of its own
  (``par_<table>_...``, see :mod:`anynode.store.partitions`) and ``<table>`` is
  a view, ``SELECT * FROM p1 UNION ALL SELECT * FROM p2 ...``, so queries are
  unchanged. Every partition has the same columns in the same order (a column
  a file brings is added to all of them), which is what the view needs.
  SQLite pushes a WHERE on the view down into each partition.
* **PostgreSQL** has declarative range partitions: ``<table>`` is a table
  ``PARTITION BY RANGE (<column>)`` and each period a ``PARTITION OF`` it with
  AnyLog's name. Rows are copied into ``<table>`` once their partitions
  exist, and the server routes them (one column lookup per file, where
  copying into each partition needs one per partition); column changes on
  ``<table>`` reach every partition; the planner skips the
  partitions a WHERE on the column excludes. This is why it was chosen over
  AnyLog-style tables and a view: nothing to rebuild when a partition comes or
  goes, and a view would have to be dropped to widen a column.

Rows need a value in the partition column (a period to go to): a row without
one is refused with its file, as a value the table cannot take.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise, repeat
from operator import itemgetter
from typing import Any

from anynode.codes import Code
from anynode.errors import IngestError, StoreError
from anynode.store.backend import ROW_ID, SYSTEM_COLUMNS, Backend, ColType
from anynode.store.column_rows import ColumnRows
from anynode.store.partition_rows import first_last, split, sqlite_insert
from anynode.store.partitions import Partition, PartitionSpec, partitions_of

_VIEW_TERMS = 400  # SQLite allows 500 terms in one compound SELECT; more partitions are nested in groups
_OLD = "_anynode_unpartitioned_"


def _sql_time(t: datetime) -> str:
    return f"'{t:%Y-%m-%d %H:%M:%S}'"


def _whole(prefix: str) -> str:
    """A date-time text cut to its year, month, day or hour, completed to a full date: 2024-05 -> 2024-05-01."""
    return prefix + "2000-01-01 00"[len(prefix):]


def _refuse(message: str, hint: str) -> IngestError:
    return IngestError(message, hint=hint, code=Code.JSON_TO_SQL)


_KINDS = {"table": "table", "view": "view", "r": "table", "p": "partitioned", "v": "view"}


def _layout(backend: Backend, conn: Any, table: str) -> tuple[str, list[str]]:
    """What ``table`` is and the names of the tables that may be its partitions, in one catalog query.

    (PostgreSQL's information_schema takes ~3 ms a query; pg_class under 1 ms: this runs once a file.)
    """
    like = "par\\_" + table.replace("_", "\\_") + "\\_%"
    if backend.kind == "sqlite":
        rows = conn.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
                            "AND (name = ? OR name LIKE ? ESCAPE '\\')", (table, like)).fetchall()
    else:
        rows = conn.execute("SELECT relname, relkind FROM pg_class WHERE relkind IN ('r', 'p', 'v') "
                            "AND relnamespace = current_schema()::regnamespace AND (relname = %s OR relname LIKE %s)",
                            (table, like)).fetchall()
    kind = next((_KINDS[k] for n, k in rows if n == table), "")
    return kind, [n for n, _ in rows if n != table]


def table_kind(backend: Backend, conn: Any, table: str) -> str:
    """``table``, ``view`` (SQLite partitions), ``partitioned`` (PostgreSQL) or ``""`` when it does not exist."""
    return _layout(backend, conn, table)[0]


def list_partitions(backend: Backend, conn: Any, table: str) -> list[Partition]:
    """The partitions of ``table``, oldest first."""
    return partitions_of(table, _layout(backend, conn, table)[1])


def rebuild_view(backend: Backend, conn: Any, table: str, names: list[str] | None = None) -> None:
    """SQLite: make the view ``table`` the union of its partitions (none left: no view)."""
    q = backend.quote
    names = [p.name for p in list_partitions(backend, conn, table)] if names is None else names
    conn.execute(f"DROP VIEW IF EXISTS {q(table)}")
    if not names:
        return
    groups = [names[i:i + _VIEW_TERMS] for i in range(0, len(names), _VIEW_TERMS)]
    selects = [" UNION ALL ".join(f"SELECT * FROM {q(n)}" for n in group) for group in groups]
    body = selects[0] if len(selects) == 1 else " UNION ALL ".join(f"SELECT * FROM ({s})" for s in selects)
    conn.execute(f"CREATE VIEW {q(table)} AS {body}")


class PartitionedTarget:
    """What the ingest pipeline writes a partitioned table through, in the writer's transaction.

    It answers the same schema calls as a :class:`Backend` for the one table
    (columns, create, add, widen) and inserts each row into its period's
    partition, created on first use.
    """

    def __init__(self, backend: Backend, conn: Any, table: str, spec: PartitionSpec, names: list[str]) -> None:
        self.backend = backend
        self.table = table
        self.spec = spec
        self.sqlite = backend.kind == "sqlite"
        self._parts = [(p.start, p.name) for p in partitions_of(table, names)]
        self._known = {name for _, name in self._parts}
        self._name_of: dict[datetime, str] = {}  # period start -> partition name, made once a period
        self._pending: list[tuple[str, ColType]] | None = None  # SQLite: columns before the first partition

    # --- the schema calls of the pipeline -------------------------------
    def table_columns(self, conn: Any, table: str) -> dict[str, ColType]:
        """The table's columns (of its newest partition on SQLite)."""
        if not self.sqlite:
            return self.backend.table_columns(conn, table)
        if self._names:
            return self.backend.table_columns(conn, self._names[-1])
        if self._pending is not None:
            return {ROW_ID: ColType.INT, **dict(self._pending)}
        return {}

    def create_table(self, conn: Any, table: str, columns: Sequence[tuple[str, ColType]]) -> None:
        """A new partitioned table: on PostgreSQL the parent, on SQLite nothing until its first partition."""
        spec = [*SYSTEM_COLUMNS, *columns]
        self._check_column(dict(spec).get(self.spec.column))
        if self.sqlite:
            self._pending = list(columns)
            return
        q = self.backend.quote
        cols = [f"{ROW_ID} BIGSERIAL"] + [f"{q(n)} {self.backend.sql_type(t)}" for n, t in spec]
        conn.execute(f"CREATE TABLE {q(table)} ({', '.join(cols)}) PARTITION BY RANGE ({q(self.spec.column)})")

    def add_column(self, conn: Any, table: str, name: str, ctype: ColType) -> None:
        """Add a column to every partition (SQLite) or to the parent (PostgreSQL passes it on)."""
        if not self.sqlite:
            self.backend.add_column(conn, table, name, ctype)
            return
        if self._pending is not None and not self._names:
            self._pending.append((name, ctype))
        for part in self._names:
            self.backend.add_column(conn, part, name, ctype)

    def widen_column(self, conn: Any, table: str, name: str, old: ColType, new: ColType) -> None:
        """Widen a column in every partition; the partition column may not stop being a date-time."""
        if name == self.spec.column:
            self._check_column(new)
        if not self.sqlite:
            self.backend.widen_column(conn, table, name, old, new)
            return
        if self._pending is not None and not self._names:
            self._pending = [(c, new if c == name else t) for c, t in self._pending]
        if not self._names:
            return
        # SQLite rebuilds a table to widen a column; a view over it would stop the rename back
        conn.execute(f"DROP VIEW IF EXISTS {self.backend.quote(self.table)}")
        for part in self._names:
            self.backend.widen_column(conn, part, name, old, new)
        rebuild_view(self.backend, conn, self.table, self._names)

    def _check_column(self, ctype: ColType | None) -> None:
        if ctype is not ColType.TIMESTAMP:
            what = "is missing from the data" if ctype is None else f"holds {ctype.value}, not date-times"
            raise _refuse(f"Table {self.table} is partitioned by column '{self.spec.column}', which {what}",
                          hint=f"send rows with an ISO 8601 date-time in '{self.spec.column}'")

    # --- rows ------------------------------------------------------------
    def insert_rows(self, conn: Any, table: str, columns: Sequence[str], types: Sequence[ColType],
                    rows: Sequence[tuple[Any, ...]], constants: Sequence[tuple[str, Any]] = ()) -> None:
        """Insert the rows of each period straight into its partition (created when missing).

        The rows are split here, where their periods are known already, so that
        PostgreSQL does not route each row again (a COPY into the parent measured
        ~15-25% slower than into the partition); its partitions share the parent's columns.
        SQLite: see :func:`~anynode.store.partition_rows.sqlite_insert`.
        """
        starts, groups = self._periods(columns, rows, constants)
        if not self.sqlite:
            names = self._ensure(conn, starts)
            for name, group in zip(names, groups, strict=True):
                self.backend.insert_rows(conn, name, columns, types, group, constants, layout=self.table)
            return
        names = [self._name(start) for start in starts]
        key = None if self.spec.column in dict(constants) else list(columns).index(self.spec.column)
        later = []
        for start, name, group in zip(starts, names, groups, strict=True):
            if name in self._known:
                sqlite_insert(self.backend, conn, name, columns, types, group, constants, key)
            else:
                later.append((start, name, group))
        if later:
            self._ensure(conn, [start for start, _, _ in later])
            for _, name, group in later:
                sqlite_insert(self.backend, conn, name, columns, types, group, constants, key)

    def _periods(self, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], constants: Sequence[tuple[str, Any]]
                 ) -> tuple[list[datetime], list[Sequence[tuple[Any, ...]]]]:
        """The periods the rows fall in, oldest first, and the rows of each (in their order).

        The usual batch is within one period (min and max say so). Rows in
        order (the sort that found min and max left them where they were) are
        cut where each period begins, found by a binary search of the keys;
        rows out of order are placed one by one with a binary search of the
        period bounds (C code, ~0.15 us a row); only rows spread over more than
        256 periods pay for a period computed each.
        """
        col = self.spec.column
        start = self.spec.start
        fixed = dict(constants)
        if col in fixed:  # insert_timestamp: one value for the whole file
            return [start(fixed[col])], [rows]
        if col not in columns:
            self._check_column(None)
        i = list(columns).index(col)
        keys = rows.columns[i] if isinstance(rows, ColumnRows) else list(map(itemgetter(i), rows))
        try:
            try:
                first, last, in_order = first_last(keys)  # a None among them fails here (no order)
                low, high = start(first), start(last)
            except (TypeError, ValueError):
                if None in keys:
                    n = keys.index(None) + 1
                    raise _refuse(f"A row (number {n} of its batch) has no value in '{col}', the partition "
                                  f"column of table {self.table}", hint=f"give every row a date-time in '{col}'"
                                  ) from None
                raise
            if low == high:  # the usual batch: one period
                return [low], [rows]
            starts = [low]
            while starts[-1] < high and len(starts) <= 256:
                starts.append(self.spec.end(starts[-1]))
            if starts[-1] == high:
                bounds: list[Any] = starts[1:] if isinstance(keys[0], datetime) else [str(b) for b in starts[1:]]
                if in_order:
                    cuts = [0, *(bisect_left(keys, b) for b in bounds), len(keys)]
                    spans = [(s, a, b) for s, (a, b) in zip(starts, pairwise(cuts), strict=True) if a < b]
                    return [s for s, _, _ in spans], [rows[a:b] for _, a, b in spans]
                where = list(map(bisect_right, repeat(bounds), keys))
            else:
                per_row = list(map(start, keys))
                starts = sorted(set(per_row))
                at = {s: i for i, s in enumerate(starts)}
                where = [at[s] for s in per_row]
        except (ValueError, TypeError) as exc:
            raise _refuse(f"Column '{col}' of table {self.table} holds a value that is not a date-time ({exc})",
                          hint="the partition column must hold ISO 8601 date-times") from exc
        used = sorted(set(where))
        if len(used) < len(starts):  # periods between min and max with no row
            renumber = {old: new for new, old in enumerate(used)}
            starts, where = [starts[i] for i in used], [renumber[i] for i in where]
        return starts, split(rows, where, len(starts))

    def _ensure(self, conn: Any, starts: list[datetime]) -> list[str]:
        """The partitions of the periods starting at ``starts``; the missing ones are made (PostgreSQL:
        in one round trip)."""
        names = [self._name(start) for start in starts]
        new = [(start, name) for start, name in zip(starts, names, strict=True) if name not in self._known]
        if not new:
            return names
        q = self.backend.quote
        if not self.sqlite:
            conn.execute("; ".join(f"CREATE TABLE IF NOT EXISTS {q(name)} PARTITION OF {q(self.table)} "
                                   f"FOR VALUES FROM ({_sql_time(start)}) TO ({_sql_time(self.spec.end(start))})"
                                   for start, name in new))
        for start, name in new:
            if self.sqlite and self._names:
                _copy_layout(self.backend, conn, self._names[-1], name)
            elif self.sqlite:
                self.backend.create_table(conn, name, self._pending or [])
                self._pending = None
            self._known.add(name)
            self._parts = sorted([*self._parts, (start, name)])
        if self.sqlite:
            rebuild_view(self.backend, conn, self.table, self._names)
        return names

    def _name(self, start: datetime) -> str:
        name = self._name_of.get(start)
        if name is None:
            name = self._name_of[start] = self.spec.name(self.table, start)
        return name

    @property
    def _names(self) -> list[str]:
        return [name for _, name in self._parts]


def _copy_layout(backend: Backend, conn: Any, source: str, target: str) -> None:
    """SQLite: a new empty table with the columns of ``source`` (same names, types and order)."""
    q = backend.quote
    cols = [f"{q(n)} INTEGER PRIMARY KEY" if n == ROW_ID else f"{q(n)} {d}".rstrip()
            for n, d in backend.column_decls(conn, source)]
    conn.execute(f"CREATE TABLE {q(target)} ({', '.join(cols)})")


def ingest_target(backend: Backend, conn: Any, table: str, spec: PartitionSpec | None) -> Any:
    """What the pipeline writes ``table`` through: the backend itself, or a PartitionedTarget.

    A declared table that exists as a plain table (its rows could not be moved
    when it was declared) keeps taking rows as a plain table.
    """
    if spec is None:
        return backend
    kind, names = _layout(backend, conn, table)
    return backend if kind == "table" else PartitionedTarget(backend, conn, table, spec, names)


def migrate(backend: Backend, conn: Any, table: str, spec: PartitionSpec) -> int:
    """Turn the plain table ``table`` into a partitioned one, moving its rows; how many rows moved.

    Runs in the caller's (the writer's) transaction: all or nothing. Indexes of
    the old table are not carried over.

    Raises:
        StoreError: the column is missing or not a date-time, or rows have no value in it.
    """
    q = backend.quote
    types = backend.table_columns(conn, table)
    col = spec.column
    if types.get(col) is not ColType.TIMESTAMP:
        what = "has no column" if col not in types else "cannot be partitioned by column"
        raise StoreError(f"Table {table} {what} '{col}'" + ("" if col not in types else " (not a date-time)"),
                         hint=f"get columns where dbms = <dbms> and table = {table} lists its columns")
    nulls = conn.execute(f"SELECT count(*) FROM {q(table)} WHERE {q(col)} IS NULL").fetchone()[0]
    if nulls:
        raise StoreError(f"Table {table} has {nulls} row(s) without a value in '{col}': they fit no partition",
                         hint="delete or fill those rows, or partition by another column")
    if backend.kind == "sqlite":
        cut = {"hour": 13, "day": 10, "month": 7, "year": 4}[spec.unit]
        found = conn.execute(f"SELECT DISTINCT substr({q(col)}, 1, {cut}) FROM {q(table)}").fetchall()
    else:
        found = conn.execute(f"SELECT DISTINCT date_trunc('{spec.unit}', {q(col)}) FROM {q(table)}").fetchall()
    starts = sorted({spec.start(v if isinstance(v, datetime) else _whole(v)) for (v,) in found})
    old = f"{_OLD}{table}"[:63]
    decls = backend.column_decls(conn, table)
    conn.execute(f"ALTER TABLE {q(table)} RENAME TO {q(old)}")
    moved = 0
    if backend.kind == "sqlite":
        for start in starts:
            name = spec.name(table, start)
            _copy_layout(backend, conn, old, name)
            cur = conn.execute(f"INSERT INTO {q(name)} SELECT * FROM {q(old)} WHERE {q(col)} >= ? AND {q(col)} < ?",
                               (str(start), str(spec.end(start))))
            moved += cur.rowcount
        rebuild_view(backend, conn, table)
    else:
        cols = [f"{ROW_ID} BIGSERIAL" if n == ROW_ID else f"{q(n)} {d}" for n, d in decls]
        conn.execute(f"CREATE TABLE {q(table)} ({', '.join(cols)}) PARTITION BY RANGE ({q(col)})")
        for start in starts:
            conn.execute(f"CREATE TABLE {q(spec.name(table, start))} PARTITION OF {q(table)} "
                         f"FOR VALUES FROM ({_sql_time(start)}) TO ({_sql_time(spec.end(start))})")
        names = ", ".join(q(n) for n, _ in decls)
        moved = conn.execute(f"INSERT INTO {q(table)} ({names}) SELECT {names} FROM {q(old)}").rowcount
        if ROW_ID in dict(decls):
            conn.execute(f"SELECT setval(pg_get_serial_sequence(%s, '{ROW_ID}'), "
                         f"(SELECT coalesce(max({ROW_ID}), 0) + 1 FROM {q(old)}), false)", (q(table),))
    conn.execute(f"DROP TABLE {q(old)}")
    return int(moved)


def drop(backend: Backend, conn: Any, table: str, names: Sequence[str]) -> None:
    """Drop partitions of ``table`` (and on SQLite remake its view over the ones left)."""
    q = backend.quote
    for name in names:
        conn.execute(f"DROP TABLE IF EXISTS {q(name)}")
    if backend.kind == "sqlite":
        rebuild_view(backend, conn, table)
