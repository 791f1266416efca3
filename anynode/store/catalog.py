"""The node's connected logical databases (``connect dbms``, ``get databases``, ``sql``).

A :class:`DatabaseCatalog` maps a logical name to a backend (a SQLite file
``<dbms_dir>/<name>.dbms`` or a PostgreSQL database) and to that database's
one :class:`~anynode.store.writer.Writer`. Reads open their own read-only
connection per query; writes are submitted to the writer. Two catalogs in one
process are independent (no module state), so two nodes can share a process.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from anynode.codes import Code
from anynode.errors import NoSuchDatabase, NoSuchTable, StoreError
from anynode.store.backend import NO_QUERY_LIMITS, Backend, QueryLimits, check_identifier
from anynode.store.partitions import PartitionBook
from anynode.store.pg_backend import PostgresBackend
from anynode.store.sqlite_backend import SqliteBackend
from anynode.store.writer import Writer

T = TypeVar("T")
SYSTEM_DATABASES = frozenset({"almgm", "blockchain", "system_query"})
DBMS_TYPES = ("sqlite", "psql")
_TYPE_ALIASES = {"sqlite": "sqlite", "sqlite3": "sqlite", "psql": "psql", "postgres": "psql", "postgresql": "psql"}


def _coded(err: StoreError, code: Code) -> StoreError:
    err.anylog_code = code
    return err


@dataclass(frozen=True)
class DatabaseInfo:
    """One row of ``get databases``."""

    name: str
    type: str
    owner: str
    address: str
    storage: str


@dataclass
class Database:
    """A connected logical database: where it is and the one thread that writes to it."""

    name: str
    backend: Backend
    writer: Writer

    @property
    def info(self) -> DatabaseInfo:
        """The ``get databases`` row of this database."""
        owner = "system" if self.name in SYSTEM_DATABASES else "user"
        return DatabaseInfo(self.name, self.backend.kind, owner, self.backend.address, self.backend.storage)


def driver_errors() -> tuple[type[BaseException], ...]:
    """The exception classes of the database drivers that are installed."""
    errors: list[type[BaseException]] = [sqlite3.Error]
    try:
        import psycopg
        errors.append(psycopg.Error)
    except ImportError:
        pass
    return tuple(errors)


class DatabaseCatalog:
    """The logical databases a node has connected, each with its writer thread.

    Args:
        dbms_dir: where SQLite databases live (``<dbms_dir>/<name>.dbms``); created when missing.
    """

    def __init__(self, dbms_dir: str | Path) -> None:
        self.dbms_dir = Path(dbms_dir)
        self._dbs: dict[str, Database] = {}
        self._lock = threading.Lock()
        self._errors = driver_errors()
        #: declared partitioning (``partition ...``), read by the ingest pipeline; kept beside the databases
        self.partitions = PartitionBook(self.dbms_dir / "partitions.json")

    # --- connect / disconnect ----------------------------------------
    def connect(self, name: str, type: str = "sqlite", *, user: str | None = None, password: str | None = None,
                host: str | None = None, port: int | None = None, memory: bool = False,
                create: bool = True, reader_user: str | None = None,
                reader_password: str | None = None) -> DatabaseInfo:
        """Connect logical database ``name`` (``connect dbms``); reconnecting with the same type is a no-op.

        Raises:
            StoreError: unknown type (AnyLog 104), a name in use with another type, or the database
                cannot be opened / created.
        """
        name = check_identifier(name.lower(), "database")
        kind = _TYPE_ALIASES.get(type.lower())
        if kind is None:
            raise _coded(StoreError(f"Wrong DBMS type {type!r} for database {name}",
                                    hint=f"use type = {' or '.join(DBMS_TYPES)}"), Code.WRONG_DBMS_TYPE)
        with self._lock:
            have = self._dbs.get(name)
            if have is not None:
                if have.backend.kind == kind:
                    return have.info
                raise StoreError(f"Database {name} is already connected as {have.backend.kind}",
                                 hint=f"disconnect dbms {name} first")
            backend = self._make_backend(name, kind, user, password, host, port, memory, create,
                                         (reader_user, reader_password))
            try:
                writer = Writer(name, backend)
            except BaseException:
                backend.close()
                raise
            db = Database(name, backend, writer)
            self._dbs[name] = db
            return db.info

    def _make_backend(self, name: str, kind: str, user: str | None, password: str | None, host: str | None,
                      port: int | None, memory: bool, create: bool,
                      reader: tuple[str | None, str | None] = (None, None)) -> Backend:
        if kind == "sqlite":
            if memory:
                return SqliteBackend(name, None)
            path = self.dbms_dir / f"{name}.dbms"
            if not path.exists() and not create:
                raise StoreError(f"Database {name} does not exist at {path}", hint="connect it with create allowed")
            try:
                self.dbms_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"Cannot create the dbms directory {self.dbms_dir}: {exc.strerror}",
                                 hint="set dbms_dir to a writable directory") from exc
            return SqliteBackend(name, path)
        if memory:
            raise _coded(StoreError("memory = true is only for sqlite", hint="drop memory or use type = sqlite"),
                         Code.WRONG_DBMS_TYPE)
        return PostgresBackend(name, user, password, host or "127.0.0.1", port or 5432, create=create,
                               reader_user=reader[0], reader_password=reader[1])

    def disconnect(self, name: str, timeout: float = 10.0) -> None:
        """Stop the database's writer (after its queued jobs) and forget it (``disconnect dbms``)."""
        with self._lock:
            db = self._get(name)
            del self._dbs[db.name]
        try:
            if not db.writer.close(timeout):
                raise StoreError(f"Database {db.name}: the writer did not stop within {timeout:g} s",
                                 hint="a long write is still running; try again when it ends")
        finally:
            db.backend.close()

    def close(self, timeout: float = 10.0) -> None:
        """Disconnect every database (node shutdown)."""
        for name in list(self._dbs):
            try:
                self.disconnect(name, timeout)
            except NoSuchDatabase:
                pass

    def __enter__(self) -> DatabaseCatalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- lookup ------------------------------------------------------
    def _get(self, name: str) -> Database:
        db = self._dbs.get(name.lower())
        if db is None:
            raise NoSuchDatabase(f"Logical DBMS '{name}' not connected",
                                 hint=f"connect dbms {name} where type = sqlite")
        return db

    def get(self, name: str) -> Database:
        """The connected database ``name``; NoSuchDatabase (AnyLog 5) when it is not connected."""
        with self._lock:
            return self._get(name)

    def is_connected(self, name: str) -> bool:
        """True when ``name`` is connected."""
        return name.lower() in self._dbs

    def databases(self) -> list[DatabaseInfo]:
        """Every connected database, by name (``get databases``)."""
        with self._lock:
            return [self._dbs[n].info for n in sorted(self._dbs)]

    # --- reads -------------------------------------------------------
    def tables(self, dbms: str) -> list[str]:
        """The tables of a database, sorted (``get tables``)."""
        db = self.get(dbms)
        with db.backend.reader() as conn:
            return db.backend.table_names(conn)

    def columns(self, dbms: str, table: str) -> list[tuple[str, str]]:
        """``(name, declared type)`` of a table's columns in order (``get columns``)."""
        db = self.get(dbms)
        with db.backend.reader() as conn:
            cols = db.backend.column_decls(conn, table.lower())
        if not cols:
            raise NoSuchTable(f"Table '{table}' not found in database {db.name}",
                              hint=f"get tables where dbms = {db.name}")
        return cols

    def query(self, dbms: str, sql: str, params: Sequence[Any] | dict[str, Any] = (),
              limits: QueryLimits = NO_QUERY_LIMITS) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one statement on a read-only connection and return ``(columns, rows)``.

        What the statement may do is decided by the backend's reader (see
        :meth:`Backend.read`), not by its text: a write fails there.

        Raises:
            StoreError: SQL failed or wrote nothing readable (16).
            NotPermitted: an untrusted query on a database read with a privileged role.
            QueryCancelled, ResultTooLarge: from ``limits``.
        """
        db = self.get(dbms)
        try:
            return db.backend.read(sql, params, limits)
        except self._errors as exc:
            raise StoreError(f"SQL failed on {db.name}: {_first_line(exc)}",
                             hint="check the SQL text; a query is one statement that only reads") from exc

    # --- writes ------------------------------------------------------
    def submit(self, dbms: str, fn: Callable[[Any], T]) -> Future[T]:
        """Queue ``fn(conn)`` on the database's writer; it runs in one transaction."""
        return self.get(dbms).writer.submit(fn)

    def execute(self, dbms: str, sql: str, params: Sequence[Any] | dict[str, Any] = (),
                timeout: float | None = None) -> int:
        """Run one statement through the writer in its own transaction; returns the row count (-1 if none)."""
        def job(conn: Any) -> int:
            cur = conn.execute(sql, params)
            return int(cur.rowcount if cur.rowcount is not None else -1)
        try:
            return self.submit(dbms, job).result(timeout)
        except self._errors as exc:
            raise StoreError(f"SQL failed on {dbms}: {_first_line(exc)}", hint="check the SQL text") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
