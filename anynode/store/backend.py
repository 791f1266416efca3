"""What the ingest pipeline needs from a database engine, whichever it is.

A :class:`Backend` hides the differences between SQLite and PostgreSQL
(connections, placeholders, quoting, DDL, type names, bulk insert) so that the
pipeline, the tsd records and the catalog are written once. Column types are
the small lattice :class:`ColType`; :func:`widen` is the one rule that decides
what a column becomes when a file brings a value of another type.
"""

from __future__ import annotations

import queue
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from enum import Enum
from itertools import islice
from typing import Any

import orjson

from anynode.cancel import Cancel
from anynode.errors import QueryCancelled, ResultTooLarge, StoreError


class ColType(str, Enum):
    """The logical type of a column: what JSON values it holds."""

    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    TIMESTAMP = "timestamp"
    TEXT = "text"


def widen(a: ColType | None, b: ColType | None) -> ColType | None:
    """The narrowest type that holds values of both ``a`` and ``b``.

    The rule: equal types stay; int and float give float; every other mix
    (bool with a number, a timestamp with a number or free text, ...) gives
    text, which holds anything. ``None`` means "no value seen yet".
    """
    if a is None:
        return b
    if b is None or a is b:
        return a
    if {a, b} == {ColType.INT, ColType.FLOAT}:
        return ColType.FLOAT
    return ColType.TEXT


# System columns every ingested table starts with (AnyLog's layout).
SYSTEM_COLUMNS: tuple[tuple[str, ColType], ...] = (
    ("insert_timestamp", ColType.TIMESTAMP),
    ("tsd_name", ColType.TEXT),
    ("tsd_id", ColType.INT),
)
ROW_ID = "row_id"
RESERVED_COLUMNS = frozenset([ROW_ID] + [name for name, _ in SYSTEM_COLUMNS])

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
MAX_IDENT = 63  # PostgreSQL's NAMEDATALEN - 1; longer names would be cut silently


def check_identifier(name: str, what: str) -> str:
    """Return ``name`` when it is a lower-case SQL identifier anynode may create, else raise StoreError."""
    if not _IDENT.match(name) or len(name) > MAX_IDENT:
        raise StoreError(f"Invalid {what} name {name!r}",
                         hint=f"use lower-case letters, digits and _ (not first), at most {MAX_IDENT} characters")
    return name



@dataclass(frozen=True)
class QueryLimits:
    """What bounds one query on the read path: who asked, when to stop, how much it may return.

    Args:
        untrusted: a peer or REST client asked; the backend runs the text so that it can only read.
        cancel: stops the statement when set (a REST timeout, Ctrl-C).
        max_bytes: the most the rows may weigh (their JSON size, see _weight).
    """

    untrusted: bool = False
    cancel: Cancel | None = None
    max_bytes: int | None = None


NO_QUERY_LIMITS = QueryLimits()
_CHUNK = 500  # rows taken at a time: the cancel token and the size cap are checked between chunks


def _weight(chunk: list[tuple[Any, ...]]) -> int:
    """What a chunk of rows weighs: its JSON size (orjson, in C), or for values JSON cannot hold
    (bytes, Decimal) text and bytes by length and other values at 8 bytes."""
    try:
        return len(orjson.dumps(chunk))
    except TypeError:
        return sum(len(v) if isinstance(v, (str, bytes)) else 8 for row in chunk for v in row)


def collect_rows(rows: Iterable[Sequence[Any]], limits: QueryLimits) -> list[tuple[Any, ...]]:
    """Take the rows of a running query chunk by chunk, checking the cancel token and the size cap between.

    Raises:
        ResultTooLarge: the rows passed ``limits.max_bytes``.
        QueryCancelled: the token was set while rows were still coming.
    """
    cap, cancel = limits.max_bytes, limits.cancel
    if cap is None and cancel is None:
        return [tuple(r) for r in rows]
    out: list[tuple[Any, ...]] = []
    size = 0
    source = iter(rows)
    while chunk := [tuple(r) for r in islice(source, _CHUNK)]:
        if cancel is not None and cancel.cancelled:
            raise QueryCancelled(f"the query was cancelled ({cancel.reason})", hint="run it again")
        out += chunk
        if cap is not None:
            size += _weight(chunk)
            if size > cap:
                raise ResultTooLarge(f"the result passed {cap:,} bytes after {len(out):,} rows",
                                     hint="add a WHERE or a LIMIT, or raise the max_result_size setting")
    return out


class ReaderPool:
    """Read connections kept open for the next query: opening one costs more than a small query
    (SQLite ~50 us against ~3 us; PostgreSQL a round of authentication).

    Args:
        open_reader: opens a new read-only connection.
        reusable: whether a connection that comes back may be kept (not broken, no open transaction).
        size: idle connections kept at most.
    """

    def __init__(self, open_reader: Callable[[], Any], reusable: Callable[[Any], bool], size: int = 4) -> None:
        self._open = open_reader
        self._reusable = reusable
        self._size = size
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A connection for one block, used by one thread at a time."""
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._open()
        try:
            yield conn
        finally:
            if self._closed or self._idle.qsize() >= self._size or not self._reusable(conn):
                conn.close()
            else:
                self._idle.put(conn)

    def close(self) -> None:
        """Close the idle connections; one still in use is closed when it comes back."""
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

class Backend(ABC):
    """One database engine behind a logical dbms: connections, schema, bulk insert.

    Writer connections are opened by the database's writer thread only; reader
    connections come from :meth:`reader`, one per query, never shared.
    """

    kind: str = ""
    param: str = "?"

    # --- connections -------------------------------------------------
    @abstractmethod
    def open_writer(self) -> Any:
        """Open the write connection (called on the writer thread)."""

    @abstractmethod
    def reader(self) -> AbstractContextManager[Any]:
        """A read-only connection for one query, released when the block ends."""

    @abstractmethod
    def close_connection(self, conn: Any) -> None:
        """Close a connection this backend opened."""

    def begin(self, conn: Any) -> None:  # noqa: B027  (a hook: a backend that needs no BEGIN keeps it empty)
        """Start the write transaction."""

    def commit(self, conn: Any) -> None:
        """Commit the write transaction."""
        conn.commit()

    def rollback(self, conn: Any) -> None:
        """Roll the write transaction back."""
        conn.rollback()

    def close(self) -> None:  # noqa: B027  (a hook: a backend that holds nothing more keeps it empty)
        """Release what the backend holds beside the writer (reader pools)."""

    # --- description -------------------------------------------------
    @property
    @abstractmethod
    def address(self) -> str:
        """``ip:port`` for a server, ``local`` for an embedded file."""

    @property
    @abstractmethod
    def storage(self) -> str:
        """Where the data lives: a file path, ``memory`` or ``host:port/db``."""

    # --- SQL text ----------------------------------------------------
    def sql(self, text: str) -> str:
        """Turn ``?`` placeholders of anynode's own statements into the driver's style."""
        return text if self.param == "?" else text.replace("?", self.param)

    @staticmethod
    def quote(name: str) -> str:
        """Quote an identifier (both engines accept double quotes)."""
        return '"' + name.replace('"', '""') + '"'

    # --- schema ------------------------------------------------------
    @abstractmethod
    def table_names(self, conn: Any) -> list[str]:
        """The user tables of the database, sorted."""

    def has_table(self, conn: Any, table: str) -> bool:
        """True when ``table`` is among :meth:`table_names` (a backend answers with one targeted query)."""
        return table in self.table_names(conn)

    @abstractmethod
    def column_decls(self, conn: Any, table: str) -> list[tuple[str, str]]:
        """``(column, declared type)`` in table order; empty when the table does not exist."""

    @abstractmethod
    def type_of_decl(self, decl: str) -> ColType:
        """The logical type of a declared SQL type."""

    @abstractmethod
    def sql_type(self, ctype: ColType) -> str:
        """The SQL type this backend declares for a logical type."""

    @abstractmethod
    def row_id_decl(self) -> str:
        """The declaration of the auto-increment ``row_id`` primary key."""

    def table_columns(self, conn: Any, table: str) -> dict[str, ColType]:
        """The logical types of a table's columns, in order; empty when it does not exist."""
        return {name: self.type_of_decl(decl) for name, decl in self.column_decls(conn, table)}

    def create_table(self, conn: Any, table: str, columns: Sequence[tuple[str, ColType]]) -> None:
        """Create an ingest table: row_id, the system columns, then ``columns``.

        No index is made: AnyLog's (tsd_name, tsd_id) index costs about 40% of
        the insert time on SQLite; a user who deletes by file can create it.
        """
        q = self.quote
        cols = [f"{ROW_ID} {self.row_id_decl()}"]
        cols += [f"{q(n)} {self.sql_type(t)}" for n, t in (*SYSTEM_COLUMNS, *columns)]
        conn.execute(f"CREATE TABLE IF NOT EXISTS {q(table)} ({', '.join(cols)})")

    def add_column(self, conn: Any, table: str, name: str, ctype: ColType) -> None:
        """Add a nullable column."""
        conn.execute(f"ALTER TABLE {self.quote(table)} ADD COLUMN {self.quote(name)} {self.sql_type(ctype)}")

    @abstractmethod
    def widen_column(self, conn: Any, table: str, name: str, old: ColType, new: ColType) -> None:
        """Change a column's type to a wider one, converting the stored values."""

    # --- data --------------------------------------------------------
    @abstractmethod
    def insert_rows(self, conn: Any, table: str, columns: Sequence[str], types: Sequence[ColType],
                    rows: Sequence[tuple[Any, ...]], constants: Sequence[tuple[str, Any]] = (),
                    layout: str | None = None) -> None:
        """Insert prepared tuples (values already converted for ``types``).

        ``layout`` names a table whose columns ``table`` has (a partition's parent),
        for a backend that looks column types up before it inserts.

        ``constants`` are ``(column, value)`` pairs that are the same for every
        row (the system columns of one file): a backend may bind them once.
        """

    #: Rows per prepared batch under the default read limits: small enough that one batch is
    #: prepared while the writer inserts the one before, big enough to pay for a statement.
    batch_rows = 1_000

    @property
    def timestamps_as_text(self) -> bool:
        """True when timestamps are bound as ``str(datetime)`` text, False when as naive UTC datetimes."""
        return True

    def read(self, sql: str, params: Sequence[Any] | dict[str, Any] = (), limits: QueryLimits = NO_QUERY_LIMITS
             ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one statement on a read-only connection and return ``(columns, rows)``.

        Whatever the text says, it runs as one statement that cannot write
        (each backend makes sure of that by how it connects and runs it), stops
        when ``limits.cancel`` is set, and fails past ``limits.max_bytes``.

        Raises:
            QueryCancelled: ``limits.cancel`` was set before the rows were all read.
            ResultTooLarge: the rows passed ``limits.max_bytes``.
            StoreError: the statement returns no rows.
            Exception: the driver's error for bad SQL.
        """
        cancel = limits.cancel
        with self.reader() as conn:
            try:
                with cancel.hook(lambda: self.interrupt(conn)) if cancel is not None else nullcontext():
                    return self.read_on(conn, sql, params, limits)
            except (QueryCancelled, ResultTooLarge, StoreError):
                raise
            except Exception as exc:
                if cancel is not None and cancel.cancelled:
                    raise QueryCancelled(f"the query was cancelled ({cancel.reason})", hint="run it again") from exc
                raise

    def read_on(self, conn: Any, sql: str, params: Sequence[Any] | dict[str, Any], limits: QueryLimits
                ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run ``sql`` on reader connection ``conn``; the backend's guards are in how ``conn`` was opened."""
        cur = conn.execute(sql, params)
        if cur.description is None:
            raise StoreError("The statement returned no rows",
                             hint="only SELECT runs on the read path; use execute for other statements")
        cols = [d[0] for d in cur.description]
        return cols, collect_rows(cur, limits)

    def interrupt(self, conn: Any) -> None:  # noqa: B027  (a hook: empty where nothing can be interrupted)
        """Stop what ``conn`` runs now, from another thread (SQLite ``interrupt``, a PostgreSQL cancel)."""
