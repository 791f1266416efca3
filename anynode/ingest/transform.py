"""Map JSON rows to columns: names, flattening, types and values.

Rules (documented for users in the operator docs):

* **Names**: lower-cased; every character other than ``a-z0-9_`` becomes
  ``_``; a leading digit gets a ``_`` prefix (AnyLog's ``_40001``). Two keys
  of one file that end up with the same name are refused rather than mixed.
* **Nested objects** are flattened, parts joined with ``_``:
  ``{"a": {"b": 1}}`` is column ``a_b``. (AnyLog stores the object as a JSON
  string; flattening makes the values queryable.) Arrays are kept as JSON text.
* **Types** come from *all* rows, not the first (AnyLog quirk 14, fixed):
  bool, int, float, timestamp (ISO 8601 strings), text. Mixed values widen by
  :func:`anynode.store.backend.widen`: int + float = float, anything else
  mixed = text. Integers outside 64 bits become float (as orjson reads them).
* **Timestamps** with an offset are converted to UTC; without one they are
  taken as UTC already (a node's local zone says nothing about the data).
  Stored as ``YYYY-MM-DD HH:MM:SS.ffffff`` text (SQLite) or ``timestamp`` (PostgreSQL).
* ``null`` is NULL; an empty string stays an empty string.

The work is column-wise (one list per column, types by ``set(map(type, ...))``)
so that most of it runs in C: this is the hot path of ingest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import chain
from typing import Any

import orjson

from anynode.errors import IngestError
from anynode.store.backend import MAX_IDENT, RESERVED_COLUMNS, ColType

MAP_FAILED = 27  # AnyLog: "Failed to map JSON to SQL insert"
_NONE = type(None)
_UNSAFE = re.compile(r"[^a-z0-9_]")
_TS = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?")
_INT64 = (-(2**63), 2**63 - 1)


def _map_error(message: str, hint: str) -> IngestError:
    return IngestError(message, hint=hint, code=MAP_FAILED)


def column_name(key: str) -> str:
    """The column a JSON key maps to (see the module rules)."""
    name = _UNSAFE.sub("_", key.strip().lower())
    if not name:
        raise _map_error(f"A row has an empty key {key!r}", hint="give every value a name")
    if name[0].isdigit():
        name = "_" + name
    if len(name) > MAX_IDENT:
        raise _map_error(f"Key {key[:40]!r}... is longer than {MAX_IDENT} characters as a column name",
                         hint="use shorter keys (or flatter objects)")
    if name in RESERVED_COLUMNS:
        raise _map_error(f"Key {key!r} is a system column name ({', '.join(sorted(RESERVED_COLUMNS))})",
                         hint="rename the key in the data")
    return name


@dataclass
class Batch:
    """Rows of one batch in columns: names in first-seen order, inferred types, values."""

    columns: list[str]
    types: dict[str, ColType | None]
    values: dict[str, list[Any]]
    size: int
    timestamps: dict[str, list[datetime | None]] = field(default_factory=dict)
    kinds: dict[str, set[type]] = field(default_factory=dict)


def _depth(v: Any) -> int:
    if isinstance(v, dict):
        return 1 + max(map(_depth, v.values()), default=0)
    if isinstance(v, list):
        return 1 + max(map(_depth, v), default=0)
    return 0


def _flatten(rows: list[dict[str, Any]], max_depth: int) -> list[dict[str, Any]]:
    """Rows with nested objects replaced by ``parent_child`` keys (in the order they appear)."""
    out = []
    for n, row in enumerate(rows, 1):
        flat: dict[str, Any] = {}

        def walk(obj: dict[str, Any], prefix: str, depth: int) -> None:
            if depth > max_depth:
                raise IngestError(f"Row {n} is nested deeper than {max_depth} levels at {prefix[:60]!r}",
                                  hint="flatten the data or raise the nesting limit", code=67)
            for k, v in obj.items():
                key = f"{prefix}_{k}" if prefix else k
                if type(v) is dict and v:
                    walk(v, key, depth + 1)
                elif key in flat:
                    raise _map_error(f"Row {n}: key {key!r} appears both nested and flat",
                                     hint="rename one of them")
                else:
                    flat[key] = None if type(v) is dict else v

        walk(row, "", 1)
        out.append(flat)
    return out


def _timestamps(strs: list[Any]) -> list[datetime | None] | None:
    """The values as naive UTC datetimes when all non-null ones are ISO timestamps, else None."""
    if not all(_TS.fullmatch(s) for s in strs if s is not None):
        return None
    out: list[datetime | None] = []
    utc = timezone.utc
    try:
        for s in strs:
            if s is None:
                out.append(None)
                continue
            dt = datetime.fromisoformat(s)
            if dt.tzinfo is not None:
                dt = dt.astimezone(utc).replace(tzinfo=None)
            out.append(dt)
    except ValueError:
        return None
    return out


def _infer(vals: list[Any], kinds: set[type], ts_cache: dict[str, list[datetime | None]],
           col: str) -> ColType | None:
    has_none = _NONE in kinds
    kinds = kinds - {_NONE}
    if not kinds:
        return None
    if kinds == {int}:
        nums = [v for v in vals if v is not None] if has_none else vals
        if min(nums) < _INT64[0] or max(nums) > _INT64[1]:
            return ColType.FLOAT
        return ColType.INT
    if kinds <= {int, float}:
        return ColType.FLOAT
    if kinds == {bool}:
        return ColType.BOOL
    if kinds == {str}:
        ts = _timestamps(vals)
        if ts is not None:
            ts_cache[col] = ts
            return ColType.TIMESTAMP
    return ColType.TEXT


def prepare(rows: list[dict[str, Any]], max_depth: int = 32) -> Batch:
    """Turn a batch of row dicts into columns with inferred types.

    Raises:
        IngestError: 27 for keys that cannot be columns, 67 for too deep nesting.
    """
    if not all(rows):
        raise IngestError("A row is an empty object {}", hint="every row needs at least one value", code=67)
    raw_keys = list(dict.fromkeys(chain.from_iterable(rows)))
    cols: dict[str, list[Any]] = {k: [r.get(k) for r in rows] for k in raw_keys}
    if any(dict in set(map(type, v)) for v in cols.values()):
        rows = _flatten(rows, max_depth)
        raw_keys = list(dict.fromkeys(chain.from_iterable(rows)))
        cols = {k: [r.get(k) for r in rows] for k in raw_keys}
    names: dict[str, str] = {}
    for k in raw_keys:
        name = column_name(k)
        if name in names:
            raise _map_error(f"Keys {names[name]!r} and {k!r} both map to column {name!r}",
                             hint="rename one of them in the data")
        names[name] = k
    batch = Batch(list(names), {}, {}, len(rows))
    for name, key in names.items():
        vals = cols[key]
        kinds = set(map(type, vals))
        batch.kinds[name] = kinds
        batch.types[name] = _infer(vals, kinds, batch.timestamps, name)
        batch.values[name] = vals
        if list in kinds:
            deepest = max((_depth(v) for v in vals if type(v) is list), default=0)
            if deepest > max_depth:
                raise IngestError(f"Column {name!r} holds an array nested deeper than {max_depth} levels",
                                  hint="flatten the data or raise the nesting limit", code=67)
    return batch


def _as_text(v: Any) -> Any:
    if v is None or type(v) is str:
        return v
    if type(v) is bool:
        return "true" if v else "false"
    if type(v) in (list, dict):
        return orjson.dumps(v).decode()
    return str(v)


def _ts_text(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat(" ", "microseconds")


def column_values(batch: Batch, name: str, final: ColType, ts_as_text: bool) -> list[Any]:
    """The values of one column converted for a column of type ``final`` (never narrower than the batch's)."""
    vals = batch.values[name]
    inferred = batch.types[name]
    if inferred is None:
        return vals
    if final is ColType.TIMESTAMP and inferred is ColType.TIMESTAMP:
        ts = batch.timestamps[name]
        return list(map(_ts_text, ts)) if ts_as_text else ts
    kinds = batch.kinds[name]
    if final is ColType.TEXT and kinds - {str, _NONE}:
        return list(map(_as_text, vals))
    if final is ColType.FLOAT and int in kinds:
        return [None if v is None else float(v) for v in vals]
    return vals
