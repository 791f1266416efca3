"""The ``tsd_info`` table: one row per ingested file (AnyLog's time-series-data record).

AnyLog keeps it in database ``almgm``; its unique ``file_hash`` is what stops
a file from being ingested twice. anynode keeps the same table in two places:

* ``almgm.tsd_info`` is the node-wide index (``get tsd ...``): a row is made
  before the file is loaded (``rows = 0``, which gives the file its
  ``file_id``, like AnyLog) and its row count is set after.
* ``<dbms>.tsd_info`` in the data database itself, written in the *same
  transaction* as the file's rows. This one decides "already ingested": a
  commit either has both the rows and the record or neither, so a replay after
  a crash inserts nothing twice. A single transaction across two SQLite files
  is not atomic in WAL mode, and a PostgreSQL data database cannot share a
  transaction with a SQLite almgm, so the record lives beside the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from anynode.store.backend import Backend, ColType

TSD_TABLE = "tsd_info"


@dataclass(frozen=True)
class TsdRecord:
    """What is recorded about a file (AnyLog's tsd_info columns)."""

    dbms: str
    table: str
    source: str
    file_hash: str
    instructions: str
    file_time: datetime  # naive UTC


def _time(backend: Backend, t: datetime) -> Any:
    return str(t) if backend.timestamps_as_text else t


def ensure_tsd_table(backend: Backend, conn: Any, serial: bool) -> None:
    """Create tsd_info when missing; ``serial`` makes file_id auto-assigned (almgm) or given (data dbms)."""
    q = backend.quote
    file_id = backend.row_id_decl() if serial else "BIGINT PRIMARY KEY"
    text, ts, big = (backend.sql_type(t) for t in (ColType.TEXT, ColType.TIMESTAMP, ColType.INT))
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {TSD_TABLE} (file_id {file_id}, dbms_name {text} NOT NULL, "
        f"table_name {text} NOT NULL, source {text} NOT NULL, file_hash {text} NOT NULL, "
        f"instructions {text} NOT NULL, file_time {ts} NOT NULL, {q('rows')} {big}, "
        f"status1 {text}, status2 {text})")
    conn.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {TSD_TABLE}_hash_index ON {TSD_TABLE} (file_hash)")
    conn.execute(f"CREATE INDEX IF NOT EXISTS {TSD_TABLE}_time_index ON {TSD_TABLE} (file_time)")


def exists(backend: Backend, conn: Any) -> bool:
    """True when the database has its tsd_info table."""
    return backend.has_table(conn, TSD_TABLE)


def lookup(backend: Backend, conn: Any, file_hash: str, known: bool = False) -> tuple[int, int] | None:
    """``(file_id, rows)`` of the file with this hash, or None (tsd_info may not exist yet, unless ``known``)."""
    if not known and not exists(backend, conn):
        return None
    row = conn.execute(backend.sql(f"SELECT file_id, {backend.quote('rows')} FROM {TSD_TABLE} "
                                   "WHERE file_hash = ?"), (file_hash,)).fetchone()
    return (int(row[0]), int(row[1] or 0)) if row else None


def allocate(backend: Backend, conn: Any, rec: TsdRecord) -> int:
    """The file_id of ``rec`` in almgm: the existing one for a retried file, else a new row with rows = 0."""
    if not exists(backend, conn):
        ensure_tsd_table(backend, conn, serial=True)  # the table and its indexes, made in one transaction
    else:
        found = lookup(backend, conn, rec.file_hash, known=True)
        if found:
            return found[0]
    return _insert(backend, conn, rec)


def _insert(backend: Backend, conn: Any, rec: TsdRecord, status1: str | None = None,
            status2: str | None = None) -> int:
    """A new tsd_info row for ``rec`` with rows = 0; its file_id."""
    cur = conn.execute(backend.sql(
        f"INSERT INTO {TSD_TABLE} (dbms_name, table_name, source, file_hash, instructions, file_time, "
        f"{backend.quote('rows')}, status1, status2) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING file_id"),
        (rec.dbms, rec.table, rec.source, rec.file_hash, rec.instructions, _time(backend, rec.file_time),
         status1, status2))
    return int(cur.fetchone()[0])


def record(backend: Backend, conn: Any, file_id: int, rec: TsdRecord, rows: int, known: bool = False) -> None:
    """Insert the file's record with its row count (the data-dbms copy, in the rows' transaction).

    ``known``: tsd_info is known to exist in this transaction (it is made with its indexes when not).
    """
    if not known:
        ensure_tsd_table(backend, conn, serial=False)
    conn.execute(backend.sql(
        f"INSERT INTO {TSD_TABLE} (file_id, dbms_name, table_name, source, file_hash, instructions, file_time, "
        f"{backend.quote('rows')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
        (file_id, rec.dbms, rec.table, rec.source, rec.file_hash, rec.instructions,
         _time(backend, rec.file_time), rows))


def set_rows(backend: Backend, conn: Any, file_hash: str, rows: int) -> None:
    """Set the row count of a file in almgm once its rows are committed."""
    conn.execute(backend.sql(f"UPDATE {TSD_TABLE} SET {backend.quote('rows')} = ? WHERE file_hash = ?"),
                 (rows, file_hash))


def add_record(backend: Backend, conn: Any, rec: TsdRecord, status1: str | None, status2: str | None) -> int | None:
    """Record a file by hand (``time file new|add``): a new row with rows = 0; None when its hash is recorded already.

    Such a row says a file is known before (or without) its rows arriving here,
    which is why ``get tsd errors`` lists it until an ingest sets its rows.
    """
    ensure_tsd_table(backend, conn, serial=True)
    if lookup(backend, conn, rec.file_hash):
        return None
    return _insert(backend, conn, rec, status1, status2)
