"""SQLite behind a logical dbms: one file ``<dbms_dir>/<name>.dbms``, WAL, one writer.

Schema statements are written here rather than through sqlite-utils because
the declared type is where a column's logical type lives between files
(``TIMESTAMP``, ``BOOLEAN``), and sqlite-utils only declares TEXT, INTEGER,
REAL and BLOB. Bulk rows go in as ``INSERT ... SELECT ... FROM (VALUES ...)``
of up to 1,000 prepared tuples per statement (see ``_ROWS_PER_STATEMENT``).
"""

from __future__ import annotations

import sqlite3
import sys
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from itertools import chain
from pathlib import Path
from typing import Any

from anynode.store.backend import Backend, ColType, QueryLimits, ReaderPool

_SQL_TYPES = {
    ColType.BOOL: "BOOLEAN",
    ColType.INT: "INTEGER",
    ColType.FLOAT: "REAL",
    ColType.TIMESTAMP: "TIMESTAMP",
    ColType.TEXT: "TEXT",
}
BUSY_TIMEOUT_MS = 10_000
# A reader may compile only these actions: it reads tables and calls functions, nothing else (no ATTACH, no
# PRAGMA that changes the connection, no BEGIN that would pin a snapshot). Decided by SQLite's compiler,
# whatever the text looks like.
_READ_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                           getattr(sqlite3, "SQLITE_RECURSIVE", 33)})
_READ_PRAGMAS = frozenset({"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo"})  # with (name)
_STATUS_PRAGMAS = frozenset({"journal_mode", "user_version", "page_count", "page_size", "freelist_count",
                             "encoding", "data_version", "compile_options"})  # read only when given no value
_DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer"})
#: Longest string or blob a reader may build (SQLite's own default is 1e9: one randomblob() took 1 GB).
MAX_READ_VALUE = 64 * 1024 * 1024
# Rows go in as one INSERT ... SELECT ... FROM (VALUES (...), (...)) per chunk: its step runs in C with the
# GIL released for the whole chunk, so the operator prepares the next batch meanwhile. One statement per row
# (executemany) gives the GIL back and forth per row and the two threads mostly take turns.
_ROWS_PER_STATEMENT = 1_000
_PARAMS_PER_STATEMENT = 30_000  # below SQLite's default limit of 32,766 variables
_PROGRESS_STEPS = 20_000  # VM steps between looks at a query's deadline (~1 ms of work)


def _reader_authorizer(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None
                       ) -> int:
    """SQLite's authorizer callback for reader connections: an allow-list of actions."""
    if action in _READ_ACTIONS:
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        if (name in _READ_PRAGMAS and arg2) or (name in _STATUS_PRAGMAS and arg2 is None):
            return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


class SqliteBackend(Backend):
    """A SQLite database file (or a shared in-memory database when ``path`` is None)."""

    kind = "sqlite"
    param = "?"

    def __init__(self, name: str, path: Path | None) -> None:
        self.name = name
        self.path = path
        # A named shared-cache memory database lets readers on other threads see the writer's data.
        self._uri = (f"file:{path}" if path is not None
                     else f"file:anynode-{name}-{uuid.uuid4().hex}?mode=memory&cache=shared")
        # A reader that comes back in a transaction would pin an old snapshot (and stop WAL checkpoints).
        self._readers = ReaderPool(self._open_reader, lambda conn: not conn.in_transaction)

    @property
    def address(self) -> str:
        return "local"

    @property
    def storage(self) -> str:
        return str(self.path) if self.path is not None else "memory"

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                               check_same_thread=False)  # pooled readers move between threads, one at a time
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return conn

    def open_writer(self) -> sqlite3.Connection:
        conn = self._connect()
        if self.path is not None:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _open_reader(self) -> sqlite3.Connection:
        """A connection that can only read: query_only, an allow-list authorizer, a cap on value size.

        sqlite3 runs one statement per execute, so nothing can be stacked after a SELECT.
        """
        conn = self._connect()
        conn.execute("PRAGMA query_only = ON")
        conn.set_authorizer(_reader_authorizer)
        if sys.version_info >= (3, 11):  # setlimit and its SQLITE_LIMIT_* constants
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_READ_VALUE)
        return conn

    def interrupt(self, conn: Any) -> None:
        conn.interrupt()

    def read_on(self, conn: Any, sql: str, params: Sequence[Any] | dict[str, Any], limits: QueryLimits
                ) -> tuple[list[str], list[tuple[Any, ...]]]:
        cancel = limits.cancel
        if cancel is None or cancel.deadline is None:
            return super().read_on(conn, sql, params, limits)
        # The deadline, checked by SQLite itself every few thousand steps: a true answer interrupts.
        conn.set_progress_handler(lambda: cancel.cancelled, _PROGRESS_STEPS)
        try:
            return super().read_on(conn, sql, params, limits)
        finally:
            conn.set_progress_handler(None, 0)

    def reader(self) -> AbstractContextManager[sqlite3.Connection]:
        """A read-only connection from a small pool (taken by one thread at a time)."""
        return self._readers.connection()

    def close(self) -> None:
        self._readers.close()

    def close_connection(self, conn: Any) -> None:
        conn.close()

    def begin(self, conn: Any) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def commit(self, conn: Any) -> None:
        if conn.in_transaction:
            conn.execute("COMMIT")

    def rollback(self, conn: Any) -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    # --- schema ------------------------------------------------------
    def table_names(self, conn: Any) -> list[str]:
        # views too: a partitioned table is a view over its partitions (anynode/store/partitioned.py)
        cur = conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                           "AND name NOT LIKE 'sqlite_%' ORDER BY name")
        return [r[0] for r in cur.fetchall()]

    def has_table(self, conn: Any, table: str) -> bool:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?",
                            (table,)).fetchone() is not None

    def column_decls(self, conn: Any, table: str) -> list[tuple[str, str]]:
        cur = conn.execute(f"PRAGMA table_info({self.quote(table)})")
        return [(r[1], r[2]) for r in cur.fetchall()]

    def type_of_decl(self, decl: str) -> ColType:
        d = decl.upper()
        if "BOOL" in d:
            return ColType.BOOL
        if "TIME" in d or "DATE" in d:
            return ColType.TIMESTAMP
        if "INT" in d:
            return ColType.INT
        if any(k in d for k in ("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL")):
            return ColType.FLOAT
        return ColType.TEXT

    def sql_type(self, ctype: ColType) -> str:
        return _SQL_TYPES[ctype]

    def row_id_decl(self) -> str:
        return "INTEGER PRIMARY KEY"

    def widen_column(self, conn: Any, table: str, name: str, old: ColType, new: ColType) -> None:
        """Rebuild the table with the new declared type (SQLite cannot alter a column's type).

        Runs inside the caller's transaction: copy into a new table with the
        column cast, drop the old one, rename, recreate the indexes.
        """
        q = self.quote
        info = conn.execute(f"PRAGMA table_info({q(table)})").fetchall()
        indexes = [r[0] for r in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (table,)).fetchall()]
        tmp = f"_anynode_widen_{table}"
        decls, exprs = [], []
        for _cid, col, decl, notnull, default, pk in info:
            if col == name:
                decl = self.sql_type(new)
                exprs.append(self._cast(q(col), old, new))
            else:
                exprs.append(q(col))
            parts = [q(col), decl or ""]
            if pk:
                parts.append("PRIMARY KEY")
            if notnull:
                parts.append("NOT NULL")
            if default is not None:
                parts.append(f"DEFAULT {default}")
            decls.append(" ".join(p for p in parts if p))
        names = ", ".join(q(r[1]) for r in info)
        conn.execute(f"CREATE TABLE {q(tmp)} ({', '.join(decls)})")
        conn.execute(f"INSERT INTO {q(tmp)} ({names}) SELECT {', '.join(exprs)} FROM {q(table)}")
        conn.execute(f"DROP TABLE {q(table)}")
        conn.execute(f"ALTER TABLE {q(tmp)} RENAME TO {q(table)}")
        for sql in indexes:
            conn.execute(sql)

    @staticmethod
    def _cast(col: str, old: ColType, new: ColType) -> str:
        if new is ColType.FLOAT:
            return f"CAST({col} AS REAL)"
        if new is ColType.TEXT and old is ColType.BOOL:
            return f"CASE WHEN {col} IS NULL THEN NULL WHEN {col} THEN 'true' ELSE 'false' END"
        if new is ColType.TEXT:
            return f"CAST({col} AS TEXT)"
        return col

    # --- data --------------------------------------------------------
    def insert_rows(self, conn: Any, table: str, columns: Sequence[str], types: Sequence[ColType],
                    rows: Sequence[tuple[Any, ...]], constants: Sequence[tuple[str, Any]] = (),
                    layout: str | None = None) -> None:
        q = self.quote
        names = ", ".join([q(c) for c, _ in constants] + [q(c) for c in columns])
        width = len(columns)
        select = ", ".join(["?"] * len(constants) + [f"column{i + 1}" for i in range(width)])
        head = tuple(v for _, v in constants)
        step = max(1, min(_ROWS_PER_STATEMENT, _PARAMS_PER_STATEMENT // max(width, 1)))
        for start in range(0, len(rows), step):  # many rows per statement: SQLite inserts them without the GIL
            chunk = rows[start:start + step]
            table_rows = ", ".join([f"({', '.join(['?'] * width)})"] * len(chunk))
            conn.execute(f"INSERT INTO {q(table)} ({names}) SELECT {select} FROM (VALUES {table_rows})",
                         head + tuple(chain.from_iterable(chunk)))


def _literal(value: Any) -> str:
    """A constant as SQL text: bound once in the statement instead of once per row (measured ~8% faster)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"
