"""The master's ledger: AnyLog's ``ledger`` table in the database ``blockchain`` (SQLite or PostgreSQL).

A master keeps every policy of the network as one row (type, id, company,
date, the pushing host, status, the policy as one ledger line). Members push
policies to it over TCP (``blockchain push``) and copy its ledger with each
sync (:func:`export`, the rows as ledger lines in insertion order, so every
node that takes the master's copy has the same bytes and the same
``get metadata version``). Every write goes through the database's one
writer thread, so the duplicate check and the insert are one transaction
with no race between two pushes of the same id.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from anynode.codes import Code
from anynode.errors import NoSuchDatabase
from anynode.metadata.frozen import thaw
from anynode.metadata.policy import PolicyError, add_id_date, body, policy_id_of, policy_type, to_line
from anynode.store.catalog import DatabaseCatalog

DBMS = "blockchain"
TABLE = "ledger"
COLUMNS = ("policy_type", "policy_id", "company_name", "date", "host", "status", "policy")

_DDL = {
    "sqlite": ("CREATE TABLE IF NOT EXISTS ledger (sequence_id INTEGER PRIMARY KEY AUTOINCREMENT, "
               "policy_type VARCHAR NOT NULL, policy_id VARCHAR NOT NULL, company_name VARCHAR, "
               "date TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, host VARCHAR NOT NULL, status VARCHAR, "
               "policy VARCHAR)"),
    "psql": ("CREATE TABLE IF NOT EXISTS ledger (sequence_id SERIAL PRIMARY KEY, policy_type VARCHAR NOT NULL, "
             "policy_id VARCHAR NOT NULL, company_name VARCHAR, date TIMESTAMP NOT NULL DEFAULT NOW(), "
             "host VARCHAR NOT NULL, status VARCHAR, policy VARCHAR)"),
}
_INDEXES = ("CREATE UNIQUE INDEX IF NOT EXISTS hash_index ON ledger(policy_id)",
            "CREATE INDEX IF NOT EXISTS time_index ON ledger(date)")
_TIMEOUT = 30.0  # seconds a ledger write may wait for the database's writer


def not_connected(dbms: str = DBMS) -> PolicyError:
    """The error of a master command on a node without the ``blockchain`` database."""
    return PolicyError(Code.DBMS_NOT_CONNECTED,
                       f"Blockchain operation failed: the master ledger needs the database '{dbms}', "
                       "which is not connected on this node",
                       hint=f"on the master: connect dbms {dbms} where type = sqlite, then blockchain create table")


def _no_table(dbms: str) -> PolicyError:
    return PolicyError(Code.PROCESS_FAILURE, f"Blockchain operation failed: database '{dbms}' has no ledger table",
                       hint="blockchain create table")


def _db(catalog: DatabaseCatalog, dbms: str) -> Any:
    try:
        return catalog.get(dbms)
    except NoSuchDatabase:
        raise not_connected(dbms) from None


def has_table(catalog: DatabaseCatalog, dbms: str = DBMS) -> bool:
    """True when ``dbms`` is connected and has the ledger table."""
    return catalog.is_connected(dbms) and TABLE in catalog.tables(dbms)


def _create(conn: Any, kind: str) -> None:
    conn.execute(_DDL[kind])
    for statement in _INDEXES:
        conn.execute(statement)


def create_table(catalog: DatabaseCatalog, dbms: str = DBMS) -> bool:
    """Create the ledger table and its indexes; False when it was there already.

    Raises:
        PolicyError: 50 when ``dbms`` is not connected.
    """
    db = _db(catalog, dbms)
    existed = TABLE in catalog.tables(dbms)
    db.writer.run(lambda conn: _create(conn, db.backend.kind), _TIMEOUT)
    return not existed


def drop_table(catalog: DatabaseCatalog, dbms: str = DBMS) -> bool:
    """Drop the ledger table; False when there was none."""
    db = _db(catalog, dbms)
    existed = TABLE in catalog.tables(dbms)
    db.writer.run(lambda conn: conn.execute("DROP TABLE IF EXISTS ledger"), _TIMEOUT)
    return existed


def _row(policy: dict[str, Any], host: str, backend: Any) -> tuple[Any, ...]:
    attrs = body(policy)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    status = attrs.get("status")
    company = attrs.get("company")
    return (policy_type(policy), policy_id_of(policy), None if company is None else str(company),
            now.isoformat(sep=" ") if backend.timestamps_as_text else now, host,
            None if status is None else str(status), to_line(policy))


def as_global(policy: dict[str, Any]) -> dict[str, Any]:
    """``policy`` with its id and date, marked ``"ledger": "global"`` (as the master keeps it)."""
    policy = add_id_date(policy)
    attrs = body(policy)
    attrs.pop("ledger", None)
    attrs["ledger"] = "global"
    return policy


def push(catalog: DatabaseCatalog, policies: Iterable[dict[str, Any]], host: str, ignore: bool = False,
         dbms: str = DBMS) -> tuple[int, list[str]]:
    """Insert policies into the ledger table (made when missing); (how many were added, the ids already there).

    All of them in one transaction: with ``ignore`` false, an id the table
    has fails the whole push (nothing is written).

    Raises:
        PolicyError: 50 no ``blockchain`` database, 70 an id already in the ledger (without ``ignore``).
    """
    db = _db(catalog, dbms)
    backend = db.backend
    rows = [_row(as_global(thaw(p)), host, backend) for p in policies]
    insert = backend.sql(f"INSERT INTO ledger ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)")
    exists = backend.sql("SELECT 1 FROM ledger WHERE policy_id = ?")

    def job(conn: Any) -> tuple[int, list[str]]:
        _create(conn, backend.kind)
        added, known = 0, []
        seen: set[str] = set()
        for row in rows:
            pid = row[1]
            if pid in seen or conn.execute(exists, (pid,)).fetchone() is not None:
                if not ignore:
                    raise PolicyError(Code.DUPLICATE_OBJECT_ID, f"the master's ledger has a policy with id {pid} "
                                      "already", hint="blockchain push ignore !p skips policies it has")
                known.append(pid)
                continue
            seen.add(pid)
            conn.execute(insert, row)
            added += 1
        return added, known

    result: tuple[int, list[str]] = db.writer.run(job, _TIMEOUT)
    return result


def drop(catalog: DatabaseCatalog, policy_id: str, dbms: str = DBMS) -> int:
    """Delete the policy with ``policy_id`` from the ledger table; how many rows went (0 or 1).

    Raises:
        PolicyError: 50 no ``blockchain`` database, 3 no ledger table.
    """
    return _delete_where(catalog, "policy_id", policy_id, dbms)


def drop_by_host(catalog: DatabaseCatalog, host: str, dbms: str = DBMS) -> int:
    """Delete every policy the node at ``host`` pushed (the rows' ``host``); how many rows went.

    Raises:
        PolicyError: 50 no ``blockchain`` database, 3 no ledger table.
    """
    return _delete_where(catalog, "host", host, dbms)


def _delete_where(catalog: DatabaseCatalog, column: str, value: str, dbms: str) -> int:
    db = _db(catalog, dbms)
    if TABLE not in catalog.tables(dbms):
        raise _no_table(dbms)
    statement = db.backend.sql(f"DELETE FROM ledger WHERE {column} = ?")  # column: one of the two names above
    count: int = db.writer.run(lambda conn: conn.execute(statement, (value,)).rowcount, _TIMEOUT)
    return max(count, 0)


def replace(catalog: DatabaseCatalog, policy_id: str, policy: dict[str, Any], host: str,
            dbms: str = DBMS) -> bool:
    """Put ``policy`` (given the id ``policy_id``) in the ledger table in place of the policy of the same
    type with that id; False when the table has none.

    The old row goes and the new one is added in one transaction, so the
    new policy comes last in the ledger order (as AnyLog's, which orders by
    date) and every member's next sync sees a new version.

    Raises:
        PolicyError: 50 no ``blockchain`` database, 3 no ledger table.
    """
    db = _db(catalog, dbms)
    if TABLE not in catalog.tables(dbms):
        raise _no_table(dbms)
    backend = db.backend
    new = as_global(thaw(policy))
    body(new)["id"] = policy_id
    row = _row(new, host, backend)
    delete = backend.sql("DELETE FROM ledger WHERE policy_id = ? AND policy_type = ?")
    insert = backend.sql(f"INSERT INTO ledger ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)")

    def job(conn: Any) -> bool:
        if conn.execute(delete, (policy_id, row[0])).rowcount < 1:
            return False
        conn.execute(insert, row)
        return True

    done: bool = db.writer.run(job, _TIMEOUT)
    return done


def rows(catalog: DatabaseCatalog, dbms: str = DBMS) -> list[tuple[Any, ...]]:
    """Every row of the ledger table in insertion order: the columns of :data:`COLUMNS`.

    Raises:
        PolicyError: 50 no ``blockchain`` database, 3 no ledger table.
    """
    _db(catalog, dbms)
    if TABLE not in catalog.tables(dbms):
        raise _no_table(dbms)
    return catalog.query(dbms, f"SELECT {', '.join(COLUMNS)} FROM ledger ORDER BY sequence_id")[1]


# -- the export members copy -------------------------------------------------------------
class Exports:
    """The last exports of one node's ledger table: reused while the table did not change, kept by md5."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key: tuple[Any, ...] | None = None
        self.data = b""
        self.md5 = ""
        self.by_md5: dict[str, bytes] = {}

    def of(self, md5: str) -> bytes | None:
        """A recent export by its md5; None when it is no longer kept."""
        with self.lock:
            return self.by_md5.get(md5)


def export(catalog: DatabaseCatalog, cache: Exports | None = None, dbms: str = DBMS) -> tuple[bytes, str]:
    """The ledger table as a ledger file (one policy line each, in insertion order) and its md5.

    With ``cache``, the export is reused while the table's row count and
    last sequence id stay the same (every push raises the one, every drop
    lowers the other), and the last few stay readable by their md5, so a
    member reading a large ledger in chunks reads one generation.

    Raises:
        PolicyError: 50 no ``blockchain`` database, 3 no ledger table.
    """
    _db(catalog, dbms)
    if TABLE not in catalog.tables(dbms):
        raise _no_table(dbms)
    key = tuple(catalog.query(dbms, "SELECT count(*), max(sequence_id) FROM ledger")[1][0])
    if cache is not None:
        with cache.lock:
            if cache.key == key:
                return cache.data, cache.md5
    lines = catalog.query(dbms, "SELECT policy FROM ledger ORDER BY sequence_id")[1]
    data = b"".join(str(line).encode("utf-8") + b"\n" for (line,) in lines if line)
    md5 = hashlib.md5(data).hexdigest()
    if cache is not None:
        with cache.lock:
            cache.key, cache.data, cache.md5 = key, data, md5
            cache.by_md5[md5] = data
            while len(cache.by_md5) > 3:
                cache.by_md5.pop(next(iter(cache.by_md5)))
    return data, md5


def to_sql(found: list[tuple[Any, ...]]) -> str:
    """The rows as INSERT statements (``blockchain pull to sql``), quotes doubled."""
    def literal(value: Any) -> str:
        return "null" if value is None else "'" + str(value).replace("'", "''") + "'"

    return "".join(f"insert into ledger ({', '.join(COLUMNS)}) values ({', '.join(map(literal, row))});\n"
                   for row in found)
