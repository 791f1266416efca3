"""Rows that share their keys are turned into columns column by column: the same columns, names, order,
types and values as row by row, and the same errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from anynode.errors import IngestError
from anynode.ingest import transform
from anynode.ingest.transform import column_values, prepare
from anynode.store.backend import ColType


def _row_by_row(rows: list[dict[str, Any]], max_depth: int = 32) -> transform.ColumnBatch:
    """The reference: every row flattened on its own (the general path), then put in columns."""
    return prepare(transform._flatten(rows, max_depth), max_depth)


def _table(batch: transform.ColumnBatch) -> tuple[list[str], dict[str, Any], list[tuple[Any, ...]]]:
    values = [column_values(batch, c, batch.types[c] or ColType.TEXT) for c in batch.columns]
    return batch.columns, batch.types, batch.tuples(values)


_SCALAR = st.one_of(st.integers(-1000, 1000), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=5),
                    st.booleans(), st.none(), st.lists(st.integers(-2**63, 2**63 - 1), max_size=3))
_KEY = st.sampled_from(["a", "b", "c", "d_e"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(_KEY, st.one_of(_SCALAR, st.dictionaries(_KEY, st.one_of(
    _SCALAR, st.dictionaries(_KEY, _SCALAR, min_size=1, max_size=2)), max_size=3)), min_size=1, max_size=4),
    min_size=1, max_size=12), st.booleans())
def test_columns_from_nested_rows_match_row_by_row(rows: list[dict[str, Any]], same_keys: bool) -> None:
    if same_keys:  # the usual case: every row spelled like the first
        rows = [dict(rows[0], **{k: v for k, v in r.items() if k in rows[0]}) for r in rows]
    try:
        want = _table(_row_by_row(rows))
    except IngestError as exc:
        with pytest.raises(IngestError) as got:
            prepare(rows)
        assert (got.value.message, got.value.anylog_code) == (exc.message, exc.anylog_code)
        return
    assert _table(prepare(rows)) == want


def test_nested_objects_with_shared_keys_become_columns_in_order() -> None:
    rows = [{"ts": f"2026-03-01T10:00:{i:02d}.5Z", "readings": {"temp": 20.5 + i, "hum": 40 + i,
                                                                "at": {"x": i, "y": "n"}}, "tags": ["s1", "a"]}
            for i in range(50)]
    batch = prepare(rows)
    assert batch.columns == ["ts", "readings_temp", "readings_hum", "readings_at_x", "readings_at_y", "tags"]
    assert [batch.types[c] for c in batch.columns] == [ColType.TIMESTAMP, ColType.FLOAT, ColType.INT, ColType.INT,
                                                       ColType.TEXT, ColType.TEXT]
    first = _table(batch)[2][0]
    assert first == ("2026-03-01 10:00:00.500000", 20.5, 40, 0, "n", '["s1","a"]')


@pytest.mark.parametrize("rows, message", [
    ([{"a": {"b": 1}, "a_b": 2}, {"a": {"b": 3}, "a_b": 4}], "appears both nested and flat"),
    ([{"a": {"b": {"c": 1}}}, {"a": {"b": {"c": 2}}}], "nested deeper than 2 levels"),
])
def test_the_column_path_keeps_the_row_errors(rows: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(IngestError, match=message):
        prepare(rows, max_depth=2)


def test_deep_arrays_are_still_refused_and_flat_ones_are_text() -> None:
    deep: Any = 1
    for _ in range(5):
        deep = [deep]
    with pytest.raises(IngestError, match="array nested deeper than 3"):
        prepare([{"v": [1, 2]}, {"v": deep}], max_depth=3)
    batch = prepare([{"v": [1, {"a": [2]}]}, {"v": ["x"]}], max_depth=3)
    assert list(column_values(batch, "v", ColType.TEXT)) == ['[1,{"a":[2]}]', '["x"]']
