"""Rows held as columns: a batch's row tuples are made only as they are read, one at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload


class ColumnRows(Sequence[tuple[Any, ...]]):
    """A read-only sequence of row tuples over equal-length columns (what the ingest hands a backend).

    Iterating zips the columns, and zip reuses its tuple when the reader lets go of
    each row (an insert that flattens them into its parameters does): a batch then
    costs no tuple per row, so neither their memory nor the garbage collector's
    passes over them (measured: most of its collections during an ingest of flat rows).
    """

    __slots__ = ("columns", "_size")

    def __init__(self, columns: Sequence[Sequence[Any]]) -> None:
        self.columns = columns
        self._size = len(columns[0]) if columns else 0

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> tuple[Any, ...]: ...

    @overload
    def __getitem__(self, index: slice) -> ColumnRows: ...

    def __getitem__(self, index: int | slice) -> tuple[Any, ...] | ColumnRows:
        if isinstance(index, slice):
            if index.indices(self._size) == (0, self._size, 1):
                return self
            return ColumnRows([c[index] for c in self.columns])
        return tuple(c[index] for c in self.columns)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return zip(*self.columns, strict=True)

    def __repr__(self) -> str:
        return f"ColumnRows({len(self.columns)} columns x {self._size} rows)"
