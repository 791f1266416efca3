"""The union of the operators' answers: an SQLite database on the query node that the combining query reads.

The database is SQLite's private temporary file (``sqlite3.connect("")``):
its pages stay in a small cache and spill to a file deleted on close, so a
large union does not live in memory. Columns have no declared type, so every
value keeps the type it arrived with.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from anynode.errors import AnyNodeError

CHUNK = 500


class MergeError(AnyNodeError):
    """The operators' answers cannot be combined (their columns differ, or the combining query failed)."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class UnionTable:
    """Rows from every operator in one table named like the user's table; thread-safe for adding."""

    def __init__(self, table: str, cache_kib: int = 16384) -> None:
        self.table = table
        self.columns: list[str] | None = None
        self.rows = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect("", check_same_thread=False)
        self._db.execute(f"PRAGMA cache_size = -{cache_kib}")
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._insert = ""

    def add(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Append one chunk of an operator's answer."""
        with self._lock:
            if self.columns is None:
                self.columns = list(columns)
                names = ", ".join(_quote(c) for c in columns)
                self._db.execute(f"CREATE TABLE {_quote(self.table)} ({names})")
                self._insert = f"INSERT INTO {_quote(self.table)} VALUES ({', '.join('?' * len(columns))})"
            elif list(columns) != self.columns:
                raise MergeError(f"operators answered with different columns: {self.columns} and {list(columns)}",
                                 hint="check that the table has the same columns on every operator")
            if rows:
                self._db.executemany(self._insert, rows)
                self.rows += len(rows)

    def query(self, sql: str, chunk: int = CHUNK) -> tuple[list[str], Iterator[list[tuple[Any, ...]]]]:
        """The combining query's columns and its rows in chunks; the union is dropped when they are read."""
        if self.columns is None:
            raise MergeError("no operator answered", hint="check the operators with 'test network'")
        try:
            cursor = self._db.execute(sql)
        except sqlite3.Error as exc:
            self.close()
            raise MergeError(f"combining the answers failed: {exc}",
                             hint="the query node combines with SQLite; use functions SQLite knows") from None
        columns = [d[0] for d in cursor.description or ()]

        def chunks() -> Iterator[list[tuple[Any, ...]]]:
            try:
                while batch := cursor.fetchmany(chunk):
                    yield batch
            finally:
                self.close()

        return columns, chunks()

    def close(self) -> None:
        """Drop the union (its temporary file goes with the connection)."""
        self._db.close()
