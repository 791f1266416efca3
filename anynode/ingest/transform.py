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
  Stored as ``YYYY-MM-DD HH:MM:SS[.ffffff]`` text (SQLite) or ``timestamp`` (PostgreSQL).
* ``null``, a missing key and an empty string are NULL (as in AnyLog), so
  ``""`` among numbers does not turn the column into text.

The work is column-wise (one list per column, types by ``set(map(type, ...))``)
so that most of it runs in C: this is the hot path of ingest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import Any

import orjson

from anynode.codes import Code
from anynode.errors import IngestError
from anynode.ingest.timestamps import timestamps
from anynode.store.backend import MAX_IDENT, RESERVED_COLUMNS, ColType
from anynode.store.column_rows import ColumnRows

_NONE = type(None)
_UNSAFE = re.compile(r"[^a-z0-9_]")
_INT64 = (-(2**63), 2**63 - 1)


def _map_error(message: str, hint: str) -> IngestError:
    return IngestError(message, hint=hint, code=Code.JSON_TO_SQL)


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
class ColumnBatch:
    """Rows of one batch in columns: names in first-seen order, inferred types, values."""

    columns: list[str]
    types: dict[str, ColType | None]
    values: dict[str, Sequence[Any]]
    size: int
    timestamps: dict[str, Sequence[Any]] = field(default_factory=dict)
    kinds: dict[str, set[type]] = field(default_factory=dict)

    def rows(self, values: list[Sequence[Any]]) -> ColumnRows:
        """The rows of the final column ``values`` for an insert: each tuple made as it is read."""
        return ColumnRows(values)

    def tuples(self, values: list[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """The rows of the final column ``values`` as a list of tuples."""
        return list(zip(*values, strict=True))


def _depth(v: Any) -> int:
    if isinstance(v, dict):
        return 1 + max(map(_depth, v.values()), default=0)
    if isinstance(v, list):
        return 1 + max(map(_depth, v), default=0)
    return 0


def _list_depth(vals: Sequence[Any], kinds: set[type]) -> int:
    """The deepest nesting of the column's arrays; arrays of plain values are told apart in C."""
    lists = vals if kinds == {list} else [v for v in vals if type(v) is list]
    inner = set(map(type, chain.from_iterable(lists)))
    if list not in inner and dict not in inner:
        return 1
    return max(map(_depth, lists))


def _walk(obj: dict[str, Any], prefix: str, depth: int, flat: dict[str, Any], n: int, max_depth: int) -> None:
    if depth > max_depth:
        raise IngestError(f"Row {n} is nested deeper than {max_depth} levels at {prefix[:60]!r}",
                          hint="flatten the data or raise the nesting limit", code=Code.BAD_JSON_FILE)
    for k, v in obj.items():
        key = f"{prefix}_{k}" if prefix else k
        if type(v) is dict and v:
            _walk(v, key, depth + 1, flat, n, max_depth)
        elif key in flat:
            raise _map_error(f"Row {n}: key {key!r} appears both nested and flat", hint="rename one of them")
        else:
            flat[key] = None if type(v) is dict else v


def _flatten_columns(keys: list[str], cols: dict[str, Sequence[Any]], kinds: dict[str, set[type]], max_depth: int,
                     depth: int = 1, prefix: str = "") -> tuple[list[str], dict[str, Sequence[Any]],
                                                               dict[str, set[type]]] | None:
    """Flatten column by column when the nested objects share their keys (the usual case), else None.

    Gives what :func:`_flatten` then :func:`_columns` give, names and order alike,
    without a Python loop per row; anything unusual (objects mixed with other
    values, empty or differently keyed objects, a name met twice, too deep)
    returns None so the row-wise path decides (and words the error).
    """
    out_keys: list[str] = []
    out_cols: dict[str, Sequence[Any]] = {}
    out_kinds: dict[str, set[type]] = {}
    for k in keys:
        name = f"{prefix}_{k}" if prefix else k
        if dict not in kinds[k]:
            out_keys.append(name)
            out_cols[name], out_kinds[name] = cols[k], kinds[k]
            continue
        objs = cols[k]
        if kinds[k] != {dict} or depth >= max_depth or not all(objs):
            return None
        shared = _shared(objs)
        if shared is None:  # not every object has every key
            return None
        sub_keys, sub_cols = shared
        sub = _flatten_columns(sub_keys, sub_cols, {sk: set(map(type, v)) for sk, v in sub_cols.items()},
                               max_depth, depth + 1, name)
        if sub is None:
            return None
        out_keys.extend(sub[0])
        out_cols.update(sub[1])
        out_kinds.update(sub[2])
    if len(out_cols) != len(out_keys):  # a flattened name met a flat one
        return None
    return out_keys, out_cols, out_kinds


def _flatten(rows: list[dict[str, Any]], max_depth: int) -> list[dict[str, Any]]:
    """Rows with nested objects replaced by ``parent_child`` keys (in the order they appear)."""
    out = []
    for n, row in enumerate(rows, 1):
        flat: dict[str, Any] = {}
        _walk(row, "", 1, flat, n, max_depth)
        out.append(flat)
    return out


def _infer(vals: Sequence[Any], kinds: set[type], batch: ColumnBatch, col: str, as_text: bool) -> ColType | None:
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
        ts = timestamps(vals, has_none, as_text)
        if ts is not None:
            batch.timestamps[col] = ts
            return ColType.TIMESTAMP
    return ColType.TEXT


def _columns(rows: list[dict[str, Any]]) -> tuple[list[str], dict[str, Sequence[Any]]]:
    """The keys in first-seen order and each key's values (None where a row lacks it)."""
    shared = _shared(rows)
    if shared is not None:
        return shared
    keys = list(dict.fromkeys(chain.from_iterable(rows)))
    return keys, {k: [r.get(k) for r in rows] for k in keys}


def _shared(rows: Sequence[dict[str, Any]]) -> tuple[list[str], dict[str, Sequence[Any]]] | None:
    """Each key's values when every row has exactly the first row's keys (the usual case), else None.

    One C-level pass per key and no tuple per row: the insert makes its rows from the
    columns as it reads them (:class:`~anynode.store.column_rows.ColumnRows`).
    """
    keys = list(rows[0])
    if set(map(len, rows)) != {len(keys)}:
        return None
    try:
        return keys, {k: list(map(itemgetter(k), rows)) for k in keys}
    except KeyError:  # same sizes, other keys
        return None


def _json_texts(name: str, vals: Sequence[Any], max_depth: int) -> list[str]:
    """A column of arrays as the JSON text it is stored as, its nesting checked (in C when the arrays are plain).

    Raises:
        IngestError: 67 for an array nested deeper than ``max_depth``.
    """
    try:
        texts = list(map(bytes.decode, map(orjson.dumps, vals)))
    except orjson.JSONEncodeError:  # nested past orjson's own limit: the check below words it
        texts = []
    joined = "".join(texts)
    # one '[' per value and no '{': no array or object inside any; else (or a string holds a bracket) measured
    if not texts or joined.count("[") != len(texts) or "{" in joined:
        if _list_depth(vals, {list}) > max_depth:
            raise IngestError(f"Column {name!r} holds an array nested deeper than {max_depth} levels",
                              hint="flatten the data or raise the nesting limit", code=Code.BAD_JSON_FILE)
        if not texts:
            texts = list(map(bytes.decode, map(orjson.dumps, vals)))
    return texts


def prepare(rows: list[dict[str, Any]], max_depth: int = 32, ts_as_text: bool = True) -> ColumnBatch:
    """Turn a batch of row dicts into columns with inferred types.

    ``ts_as_text`` gives timestamps as text (SQLite) rather than naive UTC datetimes.

    Raises:
        IngestError: 27 for keys that cannot be columns, 67 for too deep nesting.
    """
    if not all(rows):
        raise IngestError("A row is an empty object {}", hint="every row needs at least one value",
                          code=Code.BAD_JSON_FILE)
    shared = _shared(rows)
    raw_keys, cols = shared if shared is not None else _columns(rows)
    kinds_of = {k: set(map(type, v)) for k, v in cols.items()}
    if any(dict in kinds for kinds in kinds_of.values()):
        flat = _flatten_columns(raw_keys, cols, kinds_of, max_depth) if shared is not None else None
        if flat is not None:
            raw_keys, cols, kinds_of = flat
        else:
            rows = _flatten(rows, max_depth)
            raw_keys, cols = _columns(rows)
            kinds_of = {k: set(map(type, v)) for k, v in cols.items()}
    names: dict[str, str] = {}
    for k in raw_keys:
        name = column_name(k)
        if name in names:
            raise _map_error(f"Keys {names[name]!r} and {k!r} both map to column {name!r}",
                             hint="rename one of them in the data")
        names[name] = k
    batch = ColumnBatch(list(names), {}, {}, len(rows))
    for name, key in names.items():
        vals = cols[key]
        kinds = kinds_of[key]
        if str in kinds and "" in vals:  # AnyLog stores an empty string as NULL
            vals = [None if v == "" else v for v in vals]
            kinds = set(map(type, vals))
        batch.kinds[name] = kinds
        batch.types[name] = _infer(vals, kinds, batch, name, ts_as_text)
        batch.values[name] = vals
        if kinds == {list}:  # arrays: stored as JSON text whatever the column's type, so made text here
            batch.values[name] = _json_texts(name, vals, max_depth)
            batch.kinds[name] = {str}
        elif list in kinds:
            deepest = _list_depth(vals, kinds)
            if deepest > max_depth:
                raise IngestError(f"Column {name!r} holds an array nested deeper than {max_depth} levels",
                                  hint="flatten the data or raise the nesting limit", code=Code.BAD_JSON_FILE)
    return batch


def _as_text(v: Any) -> Any:
    if v is None or type(v) is str:
        return v
    if type(v) is bool:
        return "true" if v else "false"
    if type(v) in (list, dict):
        return orjson.dumps(v).decode()
    return str(v)


def column_values(batch: ColumnBatch, name: str, final: ColType) -> Sequence[Any]:
    """The values of one column converted for a column of type ``final`` (never narrower than the batch's)."""
    vals = batch.values[name]
    inferred = batch.types[name]
    if inferred is None:
        return vals
    if final is ColType.TIMESTAMP and inferred is ColType.TIMESTAMP:
        return batch.timestamps[name]
    kinds = batch.kinds[name]
    if final is ColType.TEXT and kinds - {str, _NONE}:
        if kinds == {list}:  # arrays as JSON text, in C
            return list(map(bytes.decode, map(orjson.dumps, vals)))
        return list(map(_as_text, vals))
    if final is ColType.FLOAT and int in kinds:
        return [None if v is None else float(v) for v in vals]
    return vals
