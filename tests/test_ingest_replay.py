"""A file is in the table once: crashes, replays, failures half-way and races."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from anynode.errors import IngestError
from anynode.ingest.pipeline import ingest_file
from anynode.ingest.rows import ReadLimits
from anynode.store.catalog import DatabaseCatalog
from tests.data_helpers import catalog, count, dbms, kind, pg_settings, write_bytes, write_rows  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
ROWS = [{"id": i, "v": i * 1.5, "name": f"r{i}"} for i in range(2000)]
BATCHES = ReadLimits(batch_rows=200, whole_file_bytes=1000, chunk_bytes=4096)

# Runs ingest_file in a child process that dies (os._exit, no cleanup, no rollback) at a chosen point.
CHILD = r"""
import os, sys
from anynode.store.catalog import DatabaseCatalog
from anynode.ingest import pipeline
from anynode.ingest.rows import ReadLimits
from anynode.store import tsd

dbms_dir, path, where, dbms, kind, user, password, host, port = sys.argv[1:]
if where == "mid-transaction":
    real = pipeline.prepare
    seen = []
    def dying_prepare(*args):
        seen.append(1)
        if len(seen) == 4:          # three batches already inserted, uncommitted
            os._exit(9)
        return real(*args)
    pipeline.prepare = dying_prepare
elif where == "after-commit":
    tsd.set_rows = lambda *a: os._exit(9)   # rows committed, almgm not yet updated
cat = DatabaseCatalog(dbms_dir)
if kind == "sqlite":
    cat.connect(dbms)
else:
    cat.connect(dbms, "psql", user=user, password=password, host=host, port=int(port))
pipeline.ingest_file(path, cat, limits=ReadLimits(batch_rows=200, whole_file_bytes=1000, chunk_bytes=4096))
os._exit(0)
"""


def _crash_child(tmp_path: Path, path: Path, where: str, dbms: str, kind: str) -> None:
    pg = pg_settings() if kind == "psql" else {"user": "", "password": "", "host": "", "port": 0}
    args = [sys.executable, "-c", CHILD, str(tmp_path / "dbms"), str(path), where, dbms, kind,
            pg["user"] or "", pg["password"] or "", pg["host"], str(pg["port"])]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9, proc.stderr


@pytest.mark.parametrize("where", ["mid-transaction", "after-commit"])
def test_replay_after_a_crash_inserts_nothing_twice(catalog: DatabaseCatalog, dbms: str, kind: str,
                                                    tmp_path: Path, where: str) -> None:
    path = write_rows(tmp_path, f"{dbms}.sensor.json", ROWS, "lines")
    _crash_child(tmp_path, path, where, dbms, kind)
    if where == "mid-transaction":
        assert "sensor" not in catalog.tables(dbms)  # nothing of the dead transaction is visible
        report = ingest_file(path, catalog, limits=BATCHES)  # the replay loads the file once
        assert report.rows == len(ROWS)
    else:
        with pytest.raises(IngestError) as e:  # the rows and their record committed together
            ingest_file(path, catalog, limits=BATCHES)
        assert e.value.anylog_code == 86
    assert count(catalog, dbms, "sensor") == len(ROWS)
    assert catalog.query(dbms, "SELECT count(DISTINCT id) FROM sensor")[1][0][0] == len(ROWS)
    # almgm's index ends up right either way (the duplicate path repairs its row count)
    assert catalog.query("almgm", "SELECT rows FROM tsd_info")[1] == [(len(ROWS),)]


def test_failure_half_way_leaves_no_rows_and_a_zero_row_record(catalog: DatabaseCatalog, dbms: str,
                                                               tmp_path: Path) -> None:
    text = "".join(f'{{"id": {i}}}\n' for i in range(1000)) + '{"id": oops}\n'
    path = write_bytes(tmp_path, f"{dbms}.sensor.json", text.encode())
    with pytest.raises(IngestError, match="line 1001"):
        ingest_file(path, catalog, limits=BATCHES)
    assert "sensor" not in catalog.tables(dbms)
    assert catalog.query("almgm", "SELECT rows FROM tsd_info")[1] == [(0,)]  # like AnyLog: kept with rows 0
    fixed = write_bytes(tmp_path, f"{dbms}.sensor.json", text.replace("oops", "1000").encode())
    assert ingest_file(fixed, catalog, limits=BATCHES).rows == 1001


def test_a_failed_file_can_be_retried_and_keeps_its_file_id(catalog: DatabaseCatalog, dbms: str,
                                                            tmp_path: Path) -> None:
    path = write_rows(tmp_path, f"{dbms}.sensor.json", [{"v": 1}])
    catalog.execute(dbms, "CREATE TABLE sensor (v INTEGER, must TEXT NOT NULL)")
    with pytest.raises(IngestError):
        ingest_file(path, catalog)
    catalog.execute(dbms, "DROP TABLE sensor")
    report = ingest_file(path, catalog)
    assert report.rows == 1
    assert catalog.query("almgm", "SELECT file_id, rows FROM tsd_info")[1] == [(report.file_id, 1)]


def test_the_same_file_from_two_threads_goes_in_once(catalog: DatabaseCatalog, dbms: str, tmp_path: Path) -> None:
    path = write_rows(tmp_path, f"{dbms}.sensor.json", ROWS)
    outcomes: list[object] = []

    def go() -> None:
        try:
            outcomes.append(ingest_file(path, catalog).rows)
        except IngestError as exc:
            outcomes.append(exc.anylog_code)

    threads = [threading.Thread(target=go) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=str) == sorted([len(ROWS), 86, 86], key=str)
    assert count(catalog, dbms, "sensor") == len(ROWS)
