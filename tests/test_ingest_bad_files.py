"""Bad data files: each is refused with AnyLog's status code and one clear line, and leaves no rows behind."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from anynode.errors import IngestError
from anynode.ingest.pipeline import ingest_file
from anynode.ingest.reader import ReadLimits
from anynode.store.catalog import DatabaseCatalog
from tests.data_helpers import catalog, dbms, kind, no_leaked_threads, table_exists, write_bytes  # noqa: F401

TIGHT = ReadLimits(max_record_bytes=2000, whole_file_bytes=500, chunk_bytes=256)


def _gz_truncated() -> bytes:
    packed = gzip.compress(json.dumps([{"v": i} for i in range(500)]).encode())
    return packed[: len(packed) // 2]


# (id, file name ({d} = dbms), content, expected code, fragment of the message)
CASES = [
    ("one-section-name", "onlyonesection.json", b'[{"v": 1}]', 119, "missing dbms.table section"),
    ("empty-section", "{d}..json", b'[{"v": 1}]', 119, "empty section"),
    ("not-a-json-name", "{d}.sensor.txt", b'[{"v": 1}]', 119, "ends with .json"),
    ("six-sections", "{d}.sensor.a.b.c.d.json", b'[{"v": 1}]', 119, "6 sections"),
    ("bad-table-name", "{d}.sen-sor.json", b'[{"v": 1}]', 119, "is not a name"),
    ("reserved-table", "{d}.tsd_info.json", b'[{"v": 1}]', 119, "reserved for file records"),
    ("dbms-not-connected", "other.sensor.json", b'[{"v": 1}]', 10, "Logical DBMS 'other' not connected"),
    ("system-dbms", "almgm.sensor.json", b'[{"v": 1}]', 10, "node's own records"),
    ("empty-file", "{d}.sensor.json", b"", 67, "The file is empty"),
    ("whitespace-file", "{d}.sensor.json", b"\n \n", 67, "The file is empty"),
    ("not-json", "{d}.sensor.json", b"temperature=21", 67, "Not JSON"),
    ("binary", "{d}.sensor.json", bytes(range(256)), 67, "binary data"),
    ("truncated-array", "{d}.sensor.json", b'[{"v": 1}, {"v": 2', 67, "ends early"),
    ("truncated-object", "{d}.sensor.json", b'{"v": "abc', 67, "ends early"),
    ("scalar", "{d}.sensor.json", b"3.14", 67, "holds a number"),
    ("array-of-numbers", "{d}.sensor.json", b"[1, 2]", 67, "not a JSON object"),
    ("empty-array", "{d}.sensor.json", b"[]", 67, "array is empty"),
    ("empty-object-row", "{d}.sensor.json", b'[{"v": 1}, {}]', 67, "empty object"),
    ("invalid-utf8", "{d}.sensor.json", b'[{"v": "\xc3\x28"}]', 67, "Invalid UTF-8"),
    ("nan-literal", "{d}.sensor.json", b'[{"v": NaN}]', 67, "Invalid JSON"),
    ("deep-nesting-parser", "{d}.sensor.json", b'[{"v": ' + b"[" * 3000 + b"]" * 3000 + b"}]", 67,
     "nested too deeply"),
    ("deep-nesting-objects", "{d}.sensor.json",
     json.dumps([{"v": json.loads('{"a": ' * 40 + "1" + "}" * 40)}]).encode(), 67, "nested deeper than 32 levels"),
    ("deep-nesting-arrays", "{d}.sensor.json", json.dumps([{"v": json.loads("[" * 40 + "]" * 40)}]).encode(),
     67, "array nested deeper than 32"),
    ("huge-line", "{d}.sensor.json", b'{"v": 1}\n{"v": "' + b"x" * 5000 + b'"}\n', 67, "longer than 2000 bytes"),
    ("bad-line-in-lines", "{d}.sensor.json", b'{"v": 1}\n{v: 2}\n{"v": 3}\n', 67, "line 2"),
    ("truncated-gzip", "{d}.sensor.json.gz", _gz_truncated(), 67, "damaged or truncated"),
    ("gz-name-plain-content", "{d}.sensor.json.gz", b'[{"v": 1}]', 67, "not gzip-compressed"),
    ("keys-collide-by-case", "{d}.sensor.json", b'[{"Temp": 1}, {"temp": 2}]', 27, "both map to column 'temp'"),
    ("nested-and-flat-collide", "{d}.sensor.json", b'[{"a": {"b": 1}, "a_b": 2}]', 27, "both nested and flat"),
    ("system-column-key", "{d}.sensor.json", b'[{"row_id": 5}]', 27, "system column"),
    ("empty-key", "{d}.sensor.json", b'[{"": 5}]', 27, "empty key"),
    ("too-long-key", "{d}.sensor.json", json.dumps([{"k" * 80: 1}]).encode(), 27, "longer than 63"),
]


@pytest.mark.parametrize("name, content, code, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_file_is_refused_with_its_code(catalog: DatabaseCatalog, dbms: str, tmp_path: Path,
                                           name: str, content: bytes, code: int, fragment: str) -> None:
    path = write_bytes(tmp_path, name.format(d=dbms), b"")
    path.write_bytes(content)  # as given, even for .gz names
    with pytest.raises(IngestError) as e:
        ingest_file(path, catalog, limits=TIGHT)
    err = e.value
    assert (err.anylog_code, fragment in err.message) == (code, True), err.one_line()
    assert err.hint and "\n" not in err.one_line()
    assert not table_exists(catalog, dbms, "sensor")
    if table_exists(catalog, dbms, "tsd_info"):
        assert catalog.query(dbms, "SELECT count(*) FROM tsd_info")[1][0][0] == 0


def test_mixed_types_in_one_file_are_handled_not_refused(catalog: DatabaseCatalog, dbms: str,
                                                         tmp_path: Path) -> None:
    rows = [{"v": 1}, {"v": 1.5}, {"v": "x"}, {"v": True}, {"v": None}, {"v": [1]}, {"v": {"k": 1}}]
    path = write_bytes(tmp_path, f"{dbms}.sensor.json", json.dumps(rows).encode())
    assert ingest_file(path, catalog).rows == 7
    got = [r[0] for r in catalog.query(dbms, "SELECT v FROM sensor ORDER BY row_id")[1]]
    assert got == ["1", "1.5", "x", "true", None, "[1]", None]
    assert [r[0] for r in catalog.query(dbms, "SELECT v_k FROM sensor ORDER BY row_id")[1]][-1] == 1


def test_rows_the_table_cannot_take_are_error_27(catalog: DatabaseCatalog, dbms: str, tmp_path: Path) -> None:
    catalog.execute(dbms, "CREATE TABLE sensor (v INTEGER, must TEXT NOT NULL)")
    path = write_bytes(tmp_path, f"{dbms}.sensor.json", b'[{"v": 1}, {"v": 2}]')
    with pytest.raises(IngestError) as e:
        ingest_file(path, catalog)
    assert e.value.anylog_code == 27
    assert e.value.message.startswith(f"Database {dbms} refused the rows for table sensor:")
    assert catalog.query(dbms, "SELECT count(*) FROM sensor")[1][0][0] == 0
