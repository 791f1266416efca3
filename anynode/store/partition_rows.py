"""Rows into partitions: the cut of a batch by period, and SQLite's inserts of one statement size a partition.

Helpers of :class:`anynode.store.partitioned.PartitionedTarget`, kept apart because each is a
measured speed decision (see docs/retention.md, "Measured").
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import chain, compress, islice, pairwise
from operator import le
from typing import Any

from anynode.store.backend import Backend, ColType
from anynode.store.column_rows import ColumnRows

_SQLITE_ROWS = 100  # rows in one INSERT into a SQLite partition (see sqlite_insert)
_SQLITE_PARAMS = 30_000  # parameters in one of them: below SQLite's default limit of 32,766


def first_last(keys: Sequence[Any]) -> tuple[Any, Any, bool]:
    """The smallest and the largest key, and whether the keys are in order: for keys in order (the rule)
    sorted() takes one pass of memcmp (~10 us for 1,000) and leaves each where it was (a comparison of
    identities tells), min() and max() two of generic comparisons (~55 us)."""
    if keys and keys[0] <= keys[len(keys) // 2] <= keys[-1]:
        ordered = sorted(keys)
        return ordered[0], ordered[-1], ordered == keys
    return min(keys), max(keys), False


def sqlite_insert(backend: Backend, conn: Any, name: str, columns: Sequence[str], types: Sequence[ColType],
                   rows: Sequence[tuple[Any, ...]], constants: Sequence[tuple[str, Any]], key: int | None) -> None:
    """Rows into one SQLite partition in statements of :data:`_SQLITE_ROWS` rows: one statement text a partition.

    SQLite parses an INSERT of n rows in about twice the time it inserts them
    (~10,000 instructions a row), reuses a parsed statement only for the same
    text (table and row count), and parses every cached statement again after
    a schema change (a new partition). A plain table keeps taking one text of
    1,000 rows; a partition needs texts of its own, and the rows a batch has
    left for a partition (the end of a period, the start of the next) took
    texts of sizes seen once: two thirds of what SQLite parsed in the bench
    (callgrind). So each statement has the same :data:`_SQLITE_ROWS` rows, the
    last of a group filled up with rows of zeros that ``WHERE <partition
    column> IS NOT 0`` drops: a partition value is a date-time (text), never
    the integer 0, and sqlite3 binds an int as it is where a None costs it a
    failed adapter lookup (~4,000 instructions). ``key`` is the partition
    column's place in ``columns`` (None: a constant, so the batch goes to one
    partition and the backend inserts it).
    """
    if key is None:
        backend.insert_rows(conn, name, columns, types, rows, constants)
        return
    q = backend.quote
    width = len(columns)
    size = max(1, min(_SQLITE_ROWS, _SQLITE_PARAMS // max(width, 1)))
    names = ", ".join([q(c) for c, _ in constants] + [q(c) for c in columns])
    select = ", ".join(["?"] * len(constants) + [f"column{i + 1}" for i in range(width)])
    values = ", ".join([f"({', '.join(['?'] * width)})"] * size)
    sql = f"INSERT INTO {q(name)} ({names}) SELECT {select} FROM (VALUES {values}) WHERE column{key + 1} IS NOT 0"
    head = tuple(v for _, v in constants)
    flat = list(chain.from_iterable(rows))
    step = size * width
    cursor = conn.cursor()  # one for all the statements (conn.execute makes one each)
    for start in range(0, len(flat), step):
        params = head + tuple(flat[start:start + step])
        if len(params) < len(head) + step:
            params += (0,) * (len(head) + step - len(params))
        cursor.execute(sql, params)


def split(rows: Sequence[tuple[Any, ...]], where: list[int], groups: int) -> list[Sequence[tuple[Any, ...]]]:
    """The rows of each group (``where`` gives each row's), in their order: slices when the groups
    follow one another (rows in time order, the usual case), else picked column by column."""
    if isinstance(rows, ColumnRows):
        if all(map(le, where, islice(where, 1, None))):
            cuts = [bisect_left(where, g) for g in range(groups)] + [len(where)]
            return [rows[a:b] for a, b in pairwise(cuts)]
        masks = [list(map(g.__eq__, where)) for g in range(groups)]
        return [ColumnRows([list(compress(col, mask)) for col in rows.columns]) for mask in masks]
    out: list[list[tuple[Any, ...]]] = [[] for _ in range(groups)]
    for i, row in zip(where, rows, strict=True):
        out[i].append(row)
    return list(out)
