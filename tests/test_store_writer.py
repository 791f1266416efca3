"""The per-database writer: one thread, one transaction per job, errors back through the Future."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from anynode.errors import StoreError
from anynode.store.sqlite_backend import SqliteBackend
from anynode.store.writer import Writer
from tests.data_helpers import no_leaked_threads  # noqa: F401


@pytest.fixture
def backend(tmp_path: Path) -> SqliteBackend:
    return SqliteBackend("w", tmp_path / "w.dbms")


@pytest.fixture
def writer(backend: SqliteBackend):
    w = Writer("w", backend)
    w.run(lambda c: c.execute("CREATE TABLE t (x INTEGER)"))
    yield w
    w.close()


def _rows(backend: SqliteBackend) -> list[int]:
    return [r[0] for r in backend.read("SELECT x FROM t ORDER BY x")[1]]


def test_writer_thread_is_named_after_the_database(writer: Writer) -> None:
    name = writer.run(lambda c: threading.current_thread().name)
    assert name == "anynode:writer:w"
    assert threading.current_thread().name != name


def test_job_result_comes_back(writer: Writer, backend: SqliteBackend) -> None:
    assert writer.run(lambda c: c.execute("INSERT INTO t VALUES (1)").rowcount) == 1
    assert _rows(backend) == [1]


def test_failing_job_raises_for_the_caller_and_rolls_back(writer: Writer, backend: SqliteBackend) -> None:
    def job(conn):
        conn.execute("INSERT INTO t VALUES (7)")
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        writer.submit(job).result(5)
    assert _rows(backend) == []
    writer.run(lambda c: c.execute("INSERT INTO t VALUES (8)"))  # the writer lives on
    assert _rows(backend) == [8]


def test_jobs_from_many_threads_are_all_applied(writer: Writer, backend: SqliteBackend) -> None:
    def worker(base: int) -> None:
        for i in range(50):
            writer.run(lambda c, v=base + i: c.execute("INSERT INTO t VALUES (?)", (v,)))

    threads = [threading.Thread(target=worker, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(_rows(backend)) == 200


def test_readers_see_committed_data_while_a_write_is_open(writer: Writer, backend: SqliteBackend) -> None:
    writer.run(lambda c: c.execute("INSERT INTO t VALUES (1)"))
    inside, release = threading.Event(), threading.Event()

    def slow(conn):
        conn.execute("INSERT INTO t VALUES (2)")
        inside.set()
        release.wait(5)

    fut = writer.submit(slow)
    assert inside.wait(5)
    assert _rows(backend) == [1]  # WAL: the reader is not blocked and sees only committed rows
    release.set()
    fut.result(5)
    assert _rows(backend) == [1, 2]


def test_sqlite_writer_uses_wal_and_synchronous_normal(writer: Writer, backend: SqliteBackend) -> None:
    assert backend.read("PRAGMA journal_mode")[1] == [("wal",)]
    assert writer.run(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 1  # NORMAL


def test_close_finishes_queued_jobs_then_ends_the_thread(backend: SqliteBackend) -> None:
    w = Writer("w", backend)
    w.run(lambda c: c.execute("CREATE TABLE t (x INTEGER)"))
    futs = [w.submit(lambda c, i=i: c.execute("INSERT INTO t VALUES (?)", (i,))) for i in range(20)]
    assert w.close(5)
    assert all(f.done() and f.exception() is None for f in futs)
    assert not w.alive
    assert len(_rows(backend)) == 20
    with pytest.raises(StoreError, match="disconnected"):
        w.submit(lambda c: None)


def test_close_times_out_on_a_stuck_job_and_reports_it(backend: SqliteBackend) -> None:
    w = Writer("w", backend)
    release = threading.Event()
    w.submit(lambda c: release.wait(5))
    assert w.close(0.1) is False
    release.set()
    assert w.close(5) is True


def test_a_database_that_cannot_open_fails_the_constructor(tmp_path: Path) -> None:
    bad = SqliteBackend("x", tmp_path / "missing-dir" / "x.dbms")
    with pytest.raises(StoreError, match="failed to open"):
        Writer("x", bad)
