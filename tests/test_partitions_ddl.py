"""What a partitioned SQLite table costs its writer: each partition takes its rows through statements of one
shape (SQLite parses each shape once per partition, the bulk of what partitioning added), and those
statements put every row, NULLs and all, where an unpartitioned table's would be."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from anynode.ingest.pipeline import ingest_rows
from anynode.store.catalog import DatabaseCatalog
from anynode.store.partitions import PartitionSpec
from tests.data_helpers import catalog, connect  # noqa: F401

DAY0 = datetime(2026, 3, 1)
_TEXT = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"\b(?:NULL|-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)\b")
_INSERT = re.compile(r'^INSERT INTO "(par_\w+)"')


@pytest.fixture
def traced(catalog: DatabaseCatalog) -> Iterator[tuple[str, list[str]]]:  # noqa: F811
    """A SQLite database whose writer connection reports every statement it runs (values written in)."""
    name = connect(catalog, "sqlite")
    seen: list[str] = []
    writer = catalog.get(name).writer
    writer.run(lambda conn: conn.set_trace_callback(seen.append))
    try:
        yield name, seen
    finally:
        writer.run(lambda conn: conn.set_trace_callback(None))


def _shape(sql: str) -> str:
    """A statement with its values taken out: what SQLite has to parse."""
    return _NUMBER.sub("?", _TEXT.sub("?", sql))


def _rows() -> list[dict[str, Any]]:
    """2,600 rows over three days, cut by the day at rows 700 and 1,900 (neither a batch's edge nor round),
    with NULLs in every column but the partition column, and one row that has nothing else."""
    rows: list[dict[str, Any]] = []
    for i in range(2_600):
        ts = DAY0 + timedelta(seconds=i * 86_400 / 1_200 + 86_400 * 5 / 12)  # day 1 ends after row 699
        rows.append({"ts": ts.isoformat(sep=" "), "v": None if i % 7 == 0 else i * 0.1,
                     "tag": None if i % 5 == 0 else f"t{i % 13}", "n": None if i % 3 == 0 else i})
    rows[1_234] = {"ts": rows[1_234]["ts"]}
    return rows


def test_each_partition_takes_its_rows_in_statements_of_one_shape(
        catalog: DatabaseCatalog, traced: tuple[str, list[str]]) -> None:  # noqa: F811
    db, seen = traced
    catalog.partitions.declare(db, "t", PartitionSpec.parse("ts", "1 day"))
    rows = _rows()
    assert ingest_rows(rows, db, "t", catalog).rows == 2_600
    shapes: dict[str, set[str]] = defaultdict(set)
    for sql in seen:
        m = _INSERT.match(sql)
        if m:
            shapes[m.group(1)].add(_shape(sql))
    assert sorted(shapes) == [f"par_t_2026_03_0{d}_d01_ts" for d in (1, 2, 3)]
    assert {name: len(s) for name, s in shapes.items()} == dict.fromkeys(shapes, 1)

    ingest_rows(rows, db, "plain", catalog)  # the same rows into a table that is not partitioned
    cols = "ts, v, tag, n"
    got = catalog.query(db, f"SELECT {cols} FROM t ORDER BY ts, row_id")[1]
    want = catalog.query(db, f"SELECT {cols} FROM plain ORDER BY ts, row_id")[1]
    assert got == want and len(got) == 2_600
    per_day = catalog.query(db, "SELECT count(*) FROM par_t_2026_03_01_d01_ts UNION ALL "
                                "SELECT count(*) FROM par_t_2026_03_02_d01_ts UNION ALL "
                                "SELECT count(*) FROM par_t_2026_03_03_d01_ts")[1]
    assert [r[0] for r in per_day] == [700, 1_200, 700]
    alone = catalog.query(db, "SELECT v, tag, n FROM t WHERE ts = ?", [rows[1_234]["ts"]])[1]
    assert [tuple(r) for r in alone] == [(None, None, None)]


def test_rows_in_order_are_cut_at_each_period_start_and_skip_empty_periods(
        catalog: DatabaseCatalog, traced: tuple[str, list[str]]) -> None:  # noqa: F811
    db, _ = traced
    catalog.partitions.declare(db, "t", PartitionSpec.parse("ts", "1 day"))
    times = ["2026-03-01 23:59:59", "2026-03-01 23:59:59", "2026-03-02 00:00:00", "2026-03-02 00:00:00",
             "2026-03-02 23:59:59.999", "2026-03-04 00:00:00", "2026-03-04 00:00:01"]  # nothing on 3 March
    ingest_rows([{"ts": t, "v": i} for i, t in enumerate(times)], db, "t", catalog)
    got = catalog.query(db, "SELECT 1, group_concat(v) FROM par_t_2026_03_01_d01_ts UNION ALL "
                            "SELECT 2, group_concat(v) FROM par_t_2026_03_02_d01_ts UNION ALL "
                            "SELECT 4, group_concat(v) FROM par_t_2026_03_04_d01_ts")[1]
    assert [tuple(r) for r in got] == [(1, "0,1"), (2, "2,3,4"), (4, "5,6")]
    assert "par_t_2026_03_03_d01_ts" not in catalog.tables(db)
