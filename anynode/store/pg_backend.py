"""PostgreSQL behind a logical dbms: a database of the same name on a server, via psycopg 3.

Bulk rows go in with COPY (binary when every column has a type psycopg can
dump in binary, text otherwise): measured 7-10x faster than executemany.
Readers come from a small pool of read-only connections (a new connection
costs a password handshake); each is used by one thread at a time.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Sequence

from anynode.errors import StoreError
from anynode.store.backend import Backend, ColType, ReaderPool

_SQL_TYPES = {
    ColType.BOOL: "boolean",
    ColType.INT: "bigint",
    ColType.FLOAT: "double precision",
    ColType.TIMESTAMP: "timestamp",
    ColType.TEXT: "text",
}
# udt_name of the columns binary COPY can fill from the Python values the transform makes.
_BINARY_OK = {"bool", "int2", "int4", "int8", "float4", "float8", "timestamp", "text", "varchar", "bpchar"}


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # the [pg] extra is optional
        raise StoreError("PostgreSQL support needs psycopg 3",
                         hint="pip install 'anynode[pg]' (psycopg[binary])") from exc
    return psycopg


class PostgresBackend(Backend):
    """A PostgreSQL database; created on the server when missing and ``create`` is True."""

    kind = "psql"
    param = "%s"
    batch_rows = 5_000  # a COPY per batch: 1,000-row batches measured 10% slower than 5,000 here

    def __init__(self, dbname: str, user: str | None, password: str | None,
                 host: str = "127.0.0.1", port: int = 5432, create: bool = True) -> None:
        self.dbname = dbname
        self.host = host
        self.port = int(port)
        self._kw: dict[str, Any] = {"host": host, "port": self.port, "connect_timeout": 10}
        if user:
            self._kw["user"] = user
        if password:
            self._kw["password"] = password
        self._readers = ReaderPool(
            lambda: self._connect(self.dbname, autocommit=True, options="-c default_transaction_read_only=on"),
            lambda conn: not (conn.closed or conn.broken))
        # table -> column udt names, for the writer's current transaction only (a file's batches
        # share one lookup); dropped at begin and by every schema change made through this backend.
        self._udt_cache: dict[str, dict[str, str]] = {}
        if create:
            self._ensure_database()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def storage(self) -> str:
        return f"{self.host}:{self.port}/{self.dbname}"

    def _connect(self, dbname: str, **extra: Any) -> Any:
        pg = _psycopg()
        try:
            return pg.connect(dbname=dbname, **self._kw, **extra)
        except pg.OperationalError as exc:
            first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"Database {dbname} using psql failed to connect: {first}",
                             hint="check ip, port, user and password of the PostgreSQL server") from exc

    def _ensure_database(self) -> None:
        pg = _psycopg()
        with self._connect("postgres", autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.dbname,)).fetchone():
                return
            try:
                conn.execute(f"CREATE DATABASE {self.quote(self.dbname)}")
            except pg.errors.DuplicateDatabase:
                return
            except pg.Error as exc:
                raise StoreError(f"Cannot create PostgreSQL database {self.dbname}: {exc}".strip(),
                                 hint="create it on the server or grant CREATEDB to the user") from exc

    def open_writer(self) -> Any:
        return self._connect(self.dbname, autocommit=False)

    def reader(self) -> AbstractContextManager[Any]:
        return self._readers.connection()

    def close_connection(self, conn: Any) -> None:
        conn.close()

    def close(self) -> None:
        self._readers.close()

    def drop_database(self) -> None:
        """Drop this database on the server (tests and ``drop dbms``); readers are closed first."""
        self.close()
        with self._connect("postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.quote(self.dbname)} WITH (FORCE)")

    # --- schema ------------------------------------------------------
    def table_names(self, conn: Any) -> list[str]:
        cur = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                           "AND table_type = 'BASE TABLE' ORDER BY table_name")
        return [r[0] for r in cur.fetchall()]

    def column_decls(self, conn: Any, table: str) -> list[tuple[str, str]]:
        cur = conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
                           (table,))
        return [(r[0], r[1]) for r in cur.fetchall()]

    def begin(self, conn: Any) -> None:
        self._udt_cache.clear()

    def create_table(self, conn: Any, table: str, columns: Sequence[tuple[str, ColType]]) -> None:
        self._udt_cache.pop(table, None)
        super().create_table(conn, table, columns)

    def add_column(self, conn: Any, table: str, name: str, ctype: ColType) -> None:
        self._udt_cache.pop(table, None)
        super().add_column(conn, table, name, ctype)

    def _udt_names(self, conn: Any, table: str) -> dict[str, str]:
        cached = self._udt_cache.get(table)
        if cached is None:
            cached = self._udt_cache[table] = self._read_udt_names(conn, table)
        return cached

    def _read_udt_names(self, conn: Any, table: str) -> dict[str, str]:
        cur = conn.execute("SELECT column_name, udt_name FROM information_schema.columns "
                           "WHERE table_schema = current_schema() AND table_name = %s", (table,))
        return {r[0]: r[1] for r in cur.fetchall()}

    def type_of_decl(self, decl: str) -> ColType:
        d = decl.lower()
        if d == "boolean":
            return ColType.BOOL
        if d in ("bigint", "integer", "smallint"):
            return ColType.INT
        if d in ("double precision", "real", "numeric"):
            return ColType.FLOAT
        if d.startswith(("timestamp", "date", "time")):
            return ColType.TIMESTAMP
        return ColType.TEXT

    def sql_type(self, ctype: ColType) -> str:
        return _SQL_TYPES[ctype]

    def row_id_decl(self) -> str:
        return "BIGSERIAL PRIMARY KEY"

    def widen_column(self, conn: Any, table: str, name: str, old: ColType, new: ColType) -> None:
        self._udt_cache.pop(table, None)
        q = self.quote
        t = self.sql_type(new)
        conn.execute(f"ALTER TABLE {q(table)} ALTER COLUMN {q(name)} TYPE {t} USING {q(name)}::{t}")

    # --- data --------------------------------------------------------
    @property
    def timestamps_as_text(self) -> bool:
        return False

    def insert_rows(self, conn: Any, table: str, columns: Sequence[str], types: Sequence[ColType],
                    rows: Sequence[tuple[Any, ...]], constants: Sequence[tuple[str, Any]] = ()) -> None:
        q = self.quote
        names = [c for c, _ in constants] + list(columns)
        tail = tuple(v for _, v in constants)
        udt = self._udt_names(conn, table)
        kinds = [udt.get(c, "") for c in names]
        binary = all(k in _BINARY_OK for k in kinds)
        stmt = f"COPY {q(table)} ({', '.join(map(q, names))}) FROM STDIN"
        with conn.cursor() as cur:
            with cur.copy(stmt + (" (FORMAT BINARY)" if binary else "")) as copy:
                if binary:
                    copy.set_types(kinds)
                for row in rows:
                    copy.write_row(tail + row)
