"""Bad data files: each is refused with AnyLog's status code and one clear line, and leaves no rows behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anynode.errors import IngestError
from anynode.ingest.pipeline import ingest_file
from anynode.ingest.rows import ReadLimits
from anynode.store.catalog import DatabaseCatalog
from tests.data.bad_files import CASES
from tests.data_helpers import catalog, dbms, kind, table_exists, write_bytes  # noqa: F401

TIGHT = ReadLimits(max_record_bytes=2000, whole_file_bytes=500, chunk_bytes=256)


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
