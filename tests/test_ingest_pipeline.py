"""The ingest pipeline end to end on SQLite and PostgreSQL: shapes, schema evolution, types, tsd_info."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from anynode.errors import IngestError
from anynode.ingest.pipeline import ingest_file, ingest_rows
from anynode.ingest.reader import body_hash
from anynode.ingest.rows import ReadLimits
from anynode.store.catalog import DatabaseCatalog
from tests.data_helpers import catalog, count, dbms, kind, write_bytes, write_rows  # noqa: F401

SMALL = ReadLimits(batch_rows=2, whole_file_bytes=64, chunk_bytes=32)  # streamed, several batches


def select(cat: DatabaseCatalog, dbms: str, sql: str) -> list[dict[str, Any]]:
    cols, rows = cat.query(dbms, sql)
    return [{c: (str(v) if isinstance(v, datetime) else v) for c, v in zip(cols, r, strict=True)}
            for r in rows]


@pytest.mark.parametrize("shape", ["array", "lines", "object", "pretty"])
def test_each_shape_lands_in_its_table(catalog: DatabaseCatalog, dbms: str, tmp_path: Path, shape: str) -> None:
    rows = [{"id": 1, "name": "a"}] if shape == "object" else [{"id": i, "name": f"n{i}"} for i in range(5)]
    report = ingest_file(write_rows(tmp_path, f"{dbms}.sensor.json", rows, shape), catalog)
    assert (report.dbms, report.table, report.rows) == (dbms, "sensor", len(rows))
    got = select(catalog, dbms, "SELECT id, name FROM sensor ORDER BY id")
    assert got == rows


def test_gzip_file(catalog: DatabaseCatalog, dbms: str, tmp_path: Path) -> None:
    rows = [{"id": i} for i in range(3)]
    assert ingest_file(write_rows(tmp_path, f"{dbms}.sensor.json.gz", rows), catalog).rows == 3
    assert count(catalog, dbms, "sensor") == 3


def test_system_columns_and_tsd_info(catalog: DatabaseCatalog, dbms: str, tmp_path: Path) -> None:
    path = write_rows(tmp_path, f"{dbms}.sensor.dev1.json", [{"v": 1}, {"v": 2}])
    report = ingest_file(path, catalog, member="193")
    cols = [c for c, _ in catalog.columns(dbms, "sensor")]
    assert cols == ["row_id", "insert_timestamp", "tsd_name", "tsd_id", "v"]
    got = select(catalog, dbms, "SELECT row_id, tsd_name, tsd_id, insert_timestamp FROM sensor ORDER BY row_id")
    assert [(r["row_id"], r["tsd_name"], r["tsd_id"]) for r in got] == [(1, "193", report.file_id)] + [
        (2, "193", report.file_id)]
    assert got[0]["insert_timestamp"][:4] == str(datetime.utcnow().year)
    for where in (dbms, "almgm"):
        rec = select(catalog, where, "SELECT * FROM tsd_info")
        assert len(rec) == 1
        assert (rec[0]["file_id"], rec[0]["dbms_name"], rec[0]["table_name"], rec[0]["source"],
                rec[0]["file_hash"], rec[0]["rows"]) == (report.file_id, dbms, "sensor", "dev1", report.file_hash, 2)
    assert str(report.name).startswith(f"{dbms}.sensor.dev1.{report.file_hash}.0.193.{report.file_id}.")


def test_key_only_in_a_later_row_is_kept(catalog: DatabaseCatalog, dbms: str, tmp_path: Path) -> None:
    """AnyLog quirk 14: it decides from row one and stores NULL for 'extra' in every row."""
    rows = [{"ts": "2026-01-01T00:00:01Z", "value": 1.5, "name": "a"},
            {"ts": "2026-01-01T00:00:02Z", "value": 2, "name": "b", "extra": "x"}]
    ingest_file(write_rows(tmp_path, f"{dbms}.sensor.json", rows), catalog)
    got = select(catalog, dbms, "SELECT value, name, extra FROM sensor ORDER BY row_id")
    assert got == [{"value": 1.5, "name": "a", "extra": None}, {"value": 2.0, "name": "b", "extra": "x"}]


def test_a_later_file_adds_a_column(catalog: DatabaseCatalog, dbms: str, tmp_path: Path) -> None:
    """AnyLog quirk 15: new attributes were dropped. Here they add a column."""
    ingest_file(write_rows(tmp_path, f"{dbms}.sensor.1.json", [{"id": 1}]), catalog)
    report = ingest_file(write_rows(tmp_path, f"{dbms}.sensor.2.json", [{"id": 2, "newcol": 7}]), catalog)
    assert report.columns_added == ("newcol",)
    assert select(catalog, dbms, "SELECT id, newcol FROM sensor ORDER BY id") == [
        {"id": 1, "newcol": None}, {"id": 2, "newcol": 7}]


def test_int_column_meets_a_float_in_a_later_file(catalog: DatabaseCatalog, dbms: str, tmp_path: Path) -> None:
    ingest_file(write_rows(tmp_path, f"{dbms}.sensor.1.json", [{"v": 1}, {"v": 2}]), catalog)
    report = ingest_file(write_rows(tmp_path, f"{dbms}.sensor.2.json", [{"v": 2.5}]), catalog)
    assert report.columns_widened == ("v",)
    got = [r["v"] for r in select(catalog, dbms, "SELECT v FROM sensor ORDER BY row_id")]
    assert got == [1.0, 2.0, 2.5] and all(isinstance(v, float) for v in got)
    assert select(catalog, dbms, "SELECT sum(v) AS s FROM sensor")[0]["s"] == 5.5


def test_float_column_takes_ints_without_widening(catalog: DatabaseCatalog, dbms: str, tmp_path: Path) -> None:
    ingest_file(write_rows(tmp_path, f"{dbms}.sensor.1.json", [{"v": 0.5}]), catalog)
    report = ingest_file(write_rows(tmp_path, f"{dbms}.sensor.2.json", [{"v": 3}]), catalog)
    assert report.columns_widened == ()
    assert [r["v"] for r in select(catalog, dbms, "SELECT v FROM sensor ORDER BY row_id")] == [0.5, 3.0]


@pytest.mark.parametrize("first, later, expected", [
    ([{"v": 5}], [{"v": "high"}], ["5", "high"]),
    ([{"v": True}], [{"v": "x"}], ["true", "x"]),
    ([{"v": 1.5}], [{"v": [1, 2]}], ["1.5", "[1,2]"]),
    ([{"v": "2026-01-01T00:00:00Z"}], [{"v": "soon"}], ["2026-01-01 00:00:00", "soon"]),
])
def test_mixed_types_across_files_widen_to_text(catalog: DatabaseCatalog, dbms: str, tmp_path: Path,
                                                first: list, later: list, expected: list) -> None:
    ingest_file(write_rows(tmp_path, f"{dbms}.sensor.1.json", first), catalog)
    ingest_file(write_rows(tmp_path, f"{dbms}.sensor.2.json", later), catalog)
    got = [r["v"] for r in select(catalog, dbms, "SELECT v FROM sensor ORDER BY row_id")]
    assert got == expected


def test_types_widen_inside_one_streamed_file(catalog: DatabaseCatalog, dbms: str, tmp_path: Path) -> None:
    rows = [{"a": 1, "b": 1}, {"a": 2, "b": 2}, {"a": 3, "b": 2.5}, {"a": 4, "b": "n/a"}, {"a": 5, "c": True}]
    report = ingest_file(write_rows(tmp_path, f"{dbms}.sensor.json", rows, "lines"), catalog, limits=SMALL)
    assert report.rows == 5
    got = select(catalog, dbms, "SELECT a, b, c FROM sensor ORDER BY a")
    assert [r["b"] for r in got] == ["1", "2", "2.5", "n/a", None]
    assert [r["c"] for r in got][-1] in (True, 1)
    assert dict(catalog.columns(dbms, "sensor"))["a"].lower() in ("integer", "bigint")
    # the same rows parsed in one piece give the same table
    ingest_file(write_rows(tmp_path, f"{dbms}.whole.json", rows, "lines"), catalog)
    assert select(catalog, dbms, "SELECT a, b, c FROM whole ORDER BY a") == got
    assert catalog.columns(dbms, "whole") == catalog.columns(dbms, "sensor")


def test_timestamps_are_stored_in_utc(catalog: DatabaseCatalog, dbms: str, tmp_path: Path) -> None:
    rows = [{"ts": "2026-03-01T10:00:00+02:00"}, {"ts": "2026-03-01 10:00:00.25"}, {"ts": "2026-03-01T23:30:00Z"}]
    ingest_file(write_rows(tmp_path, f"{dbms}.sensor.json", rows), catalog)
    got = [r["ts"] for r in select(catalog, dbms, "SELECT ts FROM sensor ORDER BY row_id")]
    assert got == ["2026-03-01 08:00:00", "2026-03-01 10:00:00.250000", "2026-03-01 23:30:00"]
    assert select(catalog, dbms, "SELECT max(ts) AS m FROM sensor")[0]["m"] == "2026-03-01 23:30:00"


def test_nested_objects_are_flattened_and_names_normalised(catalog: DatabaseCatalog, dbms: str,
                                                           tmp_path: Path) -> None:
    rows = [{"Device ID": "d1", "reading": {"Temp": 20.5, "unit": {"name": "C"}}, "tags": ["a", "b"], "40001": 3}]
    ingest_file(write_rows(tmp_path, f"{dbms}.sensor.json", rows), catalog)
    got = select(catalog, dbms, "SELECT device_id, reading_temp, reading_unit_name, tags, _40001 FROM sensor")
    assert got == [{"device_id": "d1", "reading_temp": 20.5, "reading_unit_name": "C", "tags": '["a","b"]',
                    "_40001": 3}]


def test_booleans_and_nulls(catalog: DatabaseCatalog, dbms: str, tmp_path: Path) -> None:
    rows = [{"ok": True, "n": None}, {"ok": False, "n": None}]
    ingest_file(write_rows(tmp_path, f"{dbms}.sensor.json", rows), catalog)
    got = select(catalog, dbms, "SELECT ok, n FROM sensor ORDER BY row_id")
    assert [bool(r["ok"]) for r in got] == [True, False] and [r["n"] for r in got] == [None, None]


def test_duplicate_file_is_refused_with_86_and_inserts_nothing(catalog: DatabaseCatalog, dbms: str,
                                                               tmp_path: Path) -> None:
    path = write_rows(tmp_path, f"{dbms}.sensor.json", [{"v": 1}, {"v": 2}])
    first = ingest_file(path, catalog)
    with pytest.raises(IngestError) as e:
        ingest_file(path, catalog)
    assert e.value.anylog_code == 86
    assert e.value.message == f"Duplicate JSON File: hash {first.file_hash} is already ingested in {dbms}"
    assert count(catalog, dbms, "sensor") == 2
    assert count(catalog, dbms, "tsd_info") == 1


def test_duplicate_content_under_another_name_is_the_same_file(catalog: DatabaseCatalog, dbms: str,
                                                               tmp_path: Path) -> None:
    data = json.dumps([{"v": 1}, {"v": 2}]).encode()
    ingest_file(write_bytes(tmp_path, f"{dbms}.sensor.json", data), catalog)
    with pytest.raises(IngestError) as e:
        ingest_file(write_bytes(tmp_path, f"{dbms}.sensor.dev9.json", data), catalog)
    assert e.value.anylog_code == 86
    assert count(catalog, dbms, "sensor") == 2
    assert count(catalog, "almgm", "tsd_info") == 1


def test_dbms_not_connected_is_error_10(catalog: DatabaseCatalog, tmp_path: Path) -> None:
    with pytest.raises(IngestError) as e:
        ingest_file(write_rows(tmp_path, "nodb.sensor.json", [{"v": 1}]), catalog)
    assert e.value.anylog_code == 10
    assert e.value.hint == "connect dbms nodb where type = sqlite"


def test_ingest_rows_from_a_list_and_from_a_body(catalog: DatabaseCatalog, dbms: str) -> None:
    r1 = ingest_rows([{"v": 1}, {"v": 2}], dbms, "Put_T", catalog)
    assert (r1.table, r1.rows, r1.file_hash, r1.file_id) == ("put_t", 2, None, 0)
    body = b'{"v": 3}\n{"v": 4}\n'
    h = body_hash(body, dbms, "put_t")
    assert ingest_rows(body, dbms, "put_t", catalog, file_hash=h).rows == 2
    with pytest.raises(IngestError) as e:
        ingest_rows(body, dbms, "put_t", catalog, file_hash=h)
    assert e.value.anylog_code == 86
    assert [r["v"] for r in select(catalog, dbms, "SELECT v FROM put_t ORDER BY v")] == [1, 2, 3, 4]


def test_existing_table_made_by_hand_gets_the_system_columns(catalog: DatabaseCatalog, dbms: str,
                                                             tmp_path: Path) -> None:
    catalog.execute(dbms, "CREATE TABLE sensor (v INTEGER)")
    ingest_file(write_rows(tmp_path, f"{dbms}.sensor.json", [{"v": 1}]), catalog)
    assert {"insert_timestamp", "tsd_name", "tsd_id", "v"} <= {c for c, _ in catalog.columns(dbms, "sensor")}


@pytest.mark.parametrize("value", ["2026-13-45T00:00:00Z", "2026-01-01", "20260101T000000", "12:00:00",
                                   "2026-01-01T00:00:00 and more"])
def test_strings_that_are_not_date_times_stay_text(catalog: DatabaseCatalog, dbms: str, tmp_path: Path,
                                                   value: str) -> None:
    ingest_file(write_rows(tmp_path, f"{dbms}.sensor.json", [{"v": value}]), catalog)
    assert select(catalog, dbms, "SELECT v FROM sensor") == [{"v": value}]
    assert dict(catalog.columns(dbms, "sensor"))["v"].lower() == "text"


def test_a_column_of_utc_timestamps_in_the_common_spelling(catalog: DatabaseCatalog, dbms: str,
                                                           tmp_path: Path) -> None:
    rows = [{"ts": f"2026-03-01T10:00:{s:02d}Z"} for s in range(50)]
    rows += [{"ts": "2026-03-01 11:00:00.123456+00:00"}, {"ts": "2026-03-01T12:00:00.000000Z"}, {"ts": None}]
    ingest_file(write_rows(tmp_path, f"{dbms}.sensor.json", rows), catalog)
    got = [r["ts"] for r in select(catalog, dbms, "SELECT ts FROM sensor ORDER BY row_id")]
    assert got[:2] == ["2026-03-01 10:00:00", "2026-03-01 10:00:01"]
    assert got[50:] == ["2026-03-01 11:00:00.123456", "2026-03-01 12:00:00", None]
    assert dict(catalog.columns(dbms, "sensor"))["ts"].lower().startswith("timestamp")


@pytest.mark.parametrize("bad_value", ["2026-02-30T00:00:00Z", "2026-03-01T10:00:00Z\n2026-03-01T10:00:00Z"])
def test_one_impossible_timestamp_keeps_the_column_text(catalog: DatabaseCatalog, dbms: str, tmp_path: Path,
                                                        bad_value: str) -> None:
    rows = [{"ts": "2026-03-01T10:00:00Z"}, {"ts": bad_value}]
    ingest_file(write_rows(tmp_path, f"{dbms}.sensor.json", rows), catalog)
    assert [r["ts"] for r in select(catalog, dbms, "SELECT ts FROM sensor ORDER BY row_id")] == [
        "2026-03-01T10:00:00Z", bad_value]
    assert dict(catalog.columns(dbms, "sensor"))["ts"].lower() == "text"


def test_empty_strings_are_null_as_in_anylog(catalog: DatabaseCatalog, dbms: str, tmp_path: Path) -> None:
    rows = [{"v": 1, "name": "a"}, {"v": "", "name": ""}, {"v": 3, "name": "c"}]
    ingest_file(write_rows(tmp_path, f"{dbms}.sensor.json", rows), catalog)
    got = select(catalog, dbms, "SELECT v, name FROM sensor ORDER BY row_id")
    assert got == [{"v": 1, "name": "a"}, {"v": None, "name": None}, {"v": 3, "name": "c"}]
    assert dict(catalog.columns(dbms, "sensor"))["v"].lower() in ("integer", "bigint")


def test_a_bad_line_deep_in_a_streamed_file_inserts_nothing(catalog: DatabaseCatalog, dbms: str,
                                                            tmp_path: Path) -> None:
    lines = [json.dumps({"v": i}) for i in range(40)] + ["{not json"] + [json.dumps({"v": 99})]
    path = write_bytes(tmp_path, f"{dbms}.sensor.json", "\n".join(lines).encode())
    with pytest.raises(IngestError, match="line 41"):
        ingest_file(path, catalog, limits=SMALL)
    # the batches before it were rolled back with it, the new table too (PostgreSQL and SQLite roll back DDL)
    assert "sensor" not in catalog.tables(dbms)
    ingest_file(write_rows(tmp_path, f"{dbms}.other.json", [{"v": 1}]), catalog)  # the writer goes on
    assert count(catalog, dbms, "other") == 1
