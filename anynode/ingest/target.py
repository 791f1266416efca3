"""The table an ingest writes: which names may be written, and its columns as the rows arrive."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from anynode.codes import Code
from anynode.errors import IngestError, NoSuchDatabase
from anynode.ingest.rows import DEFAULT_LIMITS, ReadLimits
from anynode.ingest.transform import ColumnBatch
from anynode.store.backend import SYSTEM_COLUMNS, Backend, ColType, widen
from anynode.store.catalog import SYSTEM_DATABASES, Database, DatabaseCatalog
from anynode.store.partitioned import PartitionedTarget

_RESERVED_TABLES = re.compile(r"^tsd_(info|\d+)$")
_CATALOG_TABLES = re.compile(r"^(sqlite_|pg_)")  # names the databases keep for their own catalog


def target_db(catalog: DatabaseCatalog, dbms: str, table: str) -> Database:
    """The connected database rows for ``dbms.table`` go to.

    Raises:
        IngestError: 119 for a name that may not be written, 10 for a database not connected.
    """
    check_target(dbms, table)
    try:
        return catalog.get(dbms)
    except NoSuchDatabase:
        raise IngestError(f"Logical DBMS '{dbms}' not connected",
                          hint=f"connect dbms {dbms} where type = sqlite", code=Code.DBMS_NOT_OPEN) from None


def limits_for(db: Database, limits: ReadLimits) -> ReadLimits:
    """The default limits with the batch size that suits the database; other limits as given."""
    if limits is DEFAULT_LIMITS and limits.batch_rows != db.backend.batch_rows:
        return replace(limits, batch_rows=db.backend.batch_rows)
    return limits


@dataclass
class TargetTable:
    """The target table's columns as they change during one transaction."""

    backend: Backend | PartitionedTarget
    conn: Any
    name: str
    columns: dict[str, ColType] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    widened: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.columns = self.backend.table_columns(self.conn, self.name)
        if self.columns:
            for col, ctype in SYSTEM_COLUMNS:  # a table made by hand may lack them
                if col not in self.columns:
                    self.backend.add_column(self.conn, self.name, col, ctype)
                    self.columns[col] = ctype

    def fit(self, batch: ColumnBatch) -> list[ColType]:
        """Create, extend or widen the table for the batch; the final type of each batch column."""
        if not self.columns:
            spec = [(c, batch.types[c] or ColType.TEXT) for c in batch.columns]
            self.backend.create_table(self.conn, self.name, spec)
            self.columns = self.backend.table_columns(self.conn, self.name)
            self.added.extend(batch.columns)
        for col in batch.columns:
            new = batch.types[col]
            have = self.columns.get(col)
            if have is None:
                self.backend.add_column(self.conn, self.name, col, new or ColType.TEXT)
                self.columns[col] = new or ColType.TEXT
                self.added.append(col)
                continue
            final = widen(have, new)
            if final is not None and final is not have:
                self.backend.widen_column(self.conn, self.name, col, have, final)
                self.columns[col] = final
                self.widened.append(col)
        return [self.columns[c] for c in batch.columns]


def check_target(dbms: str, table: str) -> None:
    """Refuse a system database or a reserved table name (the operator and REST PUT share this rule).

    Raises:
        IngestError: code 10 for a system database, 119 for a reserved table name.
    """
    if dbms in SYSTEM_DATABASES:
        raise IngestError(f"Database {dbms} holds the node's own records, not data",
                          hint="send the data to a user database", code=Code.DBMS_NOT_OPEN)
    if _RESERVED_TABLES.match(table):
        raise IngestError(f"Table name {table!r} is reserved for file records",
                          hint="use another table name", code=Code.FILE_NAME_STRUCTURE)
    if _CATALOG_TABLES.match(table):
        raise IngestError(f"Table name {table!r} is reserved for the database's own catalog (sqlite_*, pg_*)",
                          hint="use another table name", code=Code.FILE_NAME_STRUCTURE)
