"""What an ingest costs beside the rows it reads: the garbage collector runs about as often as parsing the rows
makes it run (no tuple per row held for the insert), a file is read while almgm is busy (its record is made
beside), and arrays become their JSON text exactly whatever their strings hold."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from anynode.errors import IngestError
from anynode.ingest.naming import FileName
from anynode.ingest.pipeline import ingest_file, ingest_rows, start_file
from anynode.ingest.transform import column_values, prepare
from anynode.store.backend import ColType
from anynode.store.catalog import DatabaseCatalog
from tests.data_helpers import catalog, count  # noqa: F401

ROWS = 20_000


def _collections(work: Any) -> int:
    """Young-generation collections while ``work()`` runs (the count every tracked allocation moves)."""
    gc.collect()
    before = gc.get_stats()[0]["collections"]
    work()
    return int(gc.get_stats()[0]["collections"] - before)


@pytest.mark.parametrize("shape", ["flat", "nested"])
def test_the_collector_runs_about_as_often_as_parsing_the_rows_makes_it(catalog: DatabaseCatalog,  # noqa: F811
                                                                         tmp_path: Path, shape: str) -> None:
    if shape == "flat":
        rows = [{"ts": f"2026-01-01 00:00:{i % 60:02d}.{i:06d}", "v": i * 0.5, "d": f"dev{i % 10}"}
                for i in range(ROWS)]
    else:
        rows = [{"ts": f"2026-01-01T00:00:{i % 60:02d}Z", "r": {"t": i * 0.5, "h": i}, "tags": ["a", "b"]}
                for i in range(ROWS)]
    body = b"\n".join(map(orjson.dumps, rows))
    path = tmp_path / f"demo.{shape}.json"
    path.write_bytes(body)
    catalog.connect("demo")
    catalog.connect("almgm")
    parsing = _collections(lambda: list(map(orjson.loads, body.splitlines())))
    ingesting = _collections(lambda: ingest_file(path, catalog))
    assert count(catalog, "demo", shape) == ROWS
    # before: a tuple per row for the insert (and per nested row twice more): 56 vs 28 flat, 119 vs 86 nested
    assert ingesting <= parsing * 1.25 + 4, (ingesting, parsing)


def test_a_file_is_read_while_almgm_is_busy_and_gets_its_record(catalog: DatabaseCatalog,  # noqa: F811
                                                               tmp_path: Path) -> None:
    catalog.connect("demo")
    catalog.connect("almgm")
    mgm = catalog.get("almgm")
    release = threading.Event()
    held = mgm.writer.submit(lambda conn: release.wait(10))  # almgm's writer busy with something else
    path = tmp_path / "demo.t.json"
    path.write_bytes(b"\n".join(orjson.dumps({"v": i}) for i in range(3000)))
    started: list[Any] = []
    reader = threading.Thread(target=lambda: started.append(start_file(path, catalog, name=FileName.parse(path))))
    try:
        reader.start()
        reader.join(5)
        # before: the operator waited for almgm's writer to make the record before it read a row
        assert started, "the file was not read while almgm was busy"
    finally:
        release.set()
        reader.join(10)
        held.result(10)
    report = started[0].result(10)
    assert (report.rows, count(catalog, "demo", "t")) == (3000, 3000)
    recorded = catalog.query("almgm", "SELECT file_id, rows FROM tsd_info")[1]
    assert recorded == [(report.file_id, 3000)] and report.file_id > 0
    assert catalog.query("demo", "SELECT DISTINCT tsd_id FROM t")[1] == [(report.file_id,)]


def test_a_refused_file_still_gets_its_record_before_the_error(catalog: DatabaseCatalog,  # noqa: F811
                                                              tmp_path: Path) -> None:
    catalog.connect("demo")
    path = tmp_path / "demo.t.json"
    path.write_bytes(b'[{"v": 1}, {"v": }]')
    with pytest.raises(IngestError):
        ingest_file(path, catalog)
    assert catalog.query("almgm", "SELECT rows FROM tsd_info")[1] == [(0,)]  # like AnyLog: kept with rows 0


def _stored(rows: list[dict[str, Any]], max_depth: int = 32) -> list[Any]:
    batch = prepare(rows, max_depth)
    return list(column_values(batch, "a", batch.types["a"] or ColType.TEXT))


@pytest.mark.parametrize("arrays", [
    [["x", 1], [2.5, None, True]],
    [["a]b", "[c"], ["{d}"]],  # brackets inside strings
    [[[1, 2], [3]], [{"k": [4]}]],  # arrays and objects inside
    [[], ["é", "\n"]],
])
def test_arrays_are_stored_as_their_json_text(arrays: list[Any]) -> None:
    assert _stored([{"a": a} for a in arrays]) == [orjson.dumps(a).decode() for a in arrays]


def test_an_array_nested_too_deep_is_refused_whatever_its_strings_hold() -> None:
    deep: Any = ["[x"]
    for _ in range(5):
        deep = [deep]
    assert _stored([{"a": deep}], max_depth=6) == [orjson.dumps(deep).decode()]
    with pytest.raises(IngestError, match="nested deeper than 5 levels"):
        _stored([{"a": deep}, {"a": ["plain"]}], max_depth=5)


def test_rows_without_a_shared_layout_still_line_up(catalog: DatabaseCatalog) -> None:  # noqa: F811
    catalog.connect("demo")
    rows = [{"a": 1, "b": "x"}, {"b": "y", "a": 2}, {"a": 3}, {"c": [1], "a": 4, "b": "z"}]
    ingest_rows(rows, "demo", "t", catalog)
    got = catalog.query("demo", "SELECT a, b, c FROM t ORDER BY a")[1]
    assert got == [(1, "x", None), (2, "y", None), (3, None, None), (4, "z", "[1]")]
