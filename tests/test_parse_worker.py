"""Small files read and prepared in a worker process: same table, same refusals, and nothing depends on the worker."""

from __future__ import annotations

import gzip
import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anynode.errors import IngestError
from anynode.ingest.naming import FileName
from anynode.ingest.parse_worker import RESTARTS, ParsePool
from anynode.ingest.pipeline import start_file
from anynode.ingest.reader import IngestCancelled
from anynode.ingest.rows import ReadLimits
from anynode.node import Node
from anynode.store.catalog import DatabaseCatalog
from tests.data.bad_files import CASES
from tests.helpers import INGEST_WAIT, drop, errors, wait_for_rows, wait_until, watch

ROOT = Path(__file__).resolve().parent.parent
TWO_CORES = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the operator starts no parse worker on one core")
LIMITS = ReadLimits(max_record_bytes=2000)  # as the bad-file cases expect; files still whole up to 4 MB
GOOD = {
    "array": json.dumps([{"t": "2026-01-02T03:04:05Z", "v": 1.5, "n": 3, "s": "a"},
                         {"t": "2026-01-02T03:04:06.5+02:00", "v": 2, "n": None, "s": ""}]).encode(),
    "lines": b"".join(json.dumps({"ts": f"2026-03-01 00:00:{i % 60:02d}.123456", "v": i, "ok": i % 2 == 0}).encode()
                      + b"\n" for i in range(2500)),
    "nested": b"".join(json.dumps({"ts": "2026-03-01T00:00:00Z", "r": {"temp": i / 3, "hum": i}, "tags": ["a", i]})
                       .encode() + b"\n" for i in range(1200)),
    "mixed": json.dumps([{"v": 1}, {"v": 1.5}, {"v": "x"}, {"v": True}, {"v": None}, {"v": [1]}, {"v": {"k": 1}}])
    .encode(),
    "bom-and-blanks": b"\xef\xbb\xbf\n\n  " + json.dumps({"only": "one", "at": "2026-01-01"}).encode(),
    "late-bad-line": b"".join(json.dumps({"v": i}).encode() + b"\n" for i in range(1500)) + b"{v: 2}\n",
    "late-bad-row": json.dumps([{"v": i} for i in range(1500)] + [{}]).encode(),
}
FILES = [(f"good-{k}", "{d}.sensor.json", v) for k, v in GOOD.items()]
FILES += [("good-gz", "{d}.sensor.json.gz", gzip.compress(GOOD["lines"]))]
FILES += [(c[0], c[1], c[2]) for c in CASES]


@pytest.fixture(scope="module")
def pool() -> Iterator[ParsePool]:
    p = ParsePool(1, min_bytes=0)
    assert p.warm(wait=20) == 1, "the worker did not start"
    yield p
    p.close()


def _outcome(tmp: Path, name: str, content: bytes, parser: ParsePool | None) -> tuple[Any, ...]:
    """What one file does to a fresh database: its rows and file records, or the refusal word for word."""
    with DatabaseCatalog(tmp / "dbms") as cat:
        cat.connect("demo")
        path = tmp / name.format(d="demo")
        path.write_bytes(content)
        try:
            fname = FileName.parse(path)
            start_file(path, cat, name=fname, limits=LIMITS, parser=parser).result(30)
        except IngestError as exc:
            records = cat.query("almgm", "SELECT count(*) FROM tsd_info")[1] if cat.is_connected("almgm") else []
            return ("refused", type(exc).__name__, exc.anylog_code, exc.message, exc.hint, records)
        cols, rows = cat.query("demo", "SELECT * FROM sensor ORDER BY row_id")
        keep = [i for i, c in enumerate(cols) if c not in ("insert_timestamp", "tsd_id")]
        records = cat.query("almgm", "SELECT file_hash, rows FROM tsd_info")[1]
        return ("rows", [cols[i] for i in keep], [tuple(r[i] for i in keep) for r in rows], records)


@pytest.mark.parametrize("case, name, content", FILES, ids=[f[0] for f in FILES])
def test_a_worker_gives_the_table_and_the_refusal_the_thread_gives(pool: ParsePool, tmp_path: Path, case: str,
                                                                   name: str, content: bytes) -> None:
    before = pool.answered
    in_thread = _outcome(tmp_path / "thread", name, content, None)
    in_worker = _outcome(tmp_path / "worker", name, content, pool)
    assert in_worker == in_thread
    reaches_worker = in_thread[0] == "rows" or in_thread[2] not in (10, 119)  # a bad name is refused before
    assert pool.answered == before + reaches_worker
    if case.startswith("good") and not case.startswith("good-late"):
        assert in_thread[0] == "rows" and len(in_thread[2]) >= 1


def test_a_file_bigger_than_whole_file_bytes_stays_in_the_thread(pool: ParsePool, tmp_path: Path) -> None:
    path, packed = tmp_path / "demo.sensor.json", tmp_path / "demo.sensor.json.gz"
    path.write_bytes(GOOD["lines"])
    packed.write_bytes(gzip.compress(GOOD["lines"]))
    small = ReadLimits(whole_file_bytes=len(packed.read_bytes()) + 1)
    asked = pool.answered
    assert pool.parse(path, "demo", "sensor", small, True) is None
    assert pool.answered == asked, "a big plain file is not even sent"
    assert pool.parse(packed, "demo", "sensor", small, True) is None
    assert pool.answered == asked + 1, "small packed, big unpacked: the worker says so"
    assert pool.pids, "the worker stays"


def _warm(pool: ParsePool) -> int:
    assert pool.warm(wait=20) == 1, "no worker"
    return pool.pids[0]


def _gone(pid: int, within: float = 5.0) -> bool:
    """True once ``pid`` has exited (a zombie counts: it runs no more)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


def test_a_killed_worker_costs_nothing_and_is_replaced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pool = ParsePool(1, min_bytes=0)
    try:
        pid = _warm(pool)
        path = tmp_path / "demo.sensor.json"
        path.write_bytes(GOOD["nested"])
        os.kill(pid, signal.SIGKILL)
        with caplog.at_level(logging.WARNING, "anynode.operator"):
            assert pool.parse(path, "demo", "sensor", LIMITS, True) is None  # the caller does it in its thread
        assert any(f"parse worker {pid} lost" in r.getMessage() for r in caplog.records)
        new = _warm(pool)
        assert new != pid
        parsed = pool.parse(path, "demo", "sensor", LIMITS, True)
        assert parsed is not None and sum(b.size for b in parsed.replay()) == 1200
    finally:
        pool.close()


def test_after_repeated_losses_the_pool_stays_in_the_thread(tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    pool = ParsePool(1, min_bytes=0)
    path = tmp_path / "demo.sensor.json"
    path.write_bytes(GOOD["array"])
    try:
        with caplog.at_level(logging.WARNING, "anynode.operator"):
            for _ in range(RESTARTS + 1):
                os.kill(_warm(pool), signal.SIGKILL)
                assert pool.parse(path, "demo", "sensor", LIMITS, True) is None
            assert pool.warm(wait=0.5) == 0 and pool.pids == []
            assert pool.parse(path, "demo", "sensor", LIMITS, True) is None
        assert "in the operator's thread from now on" in caplog.records[-1].getMessage()
    finally:
        pool.close()


def test_a_hung_worker_is_killed_after_its_timeout(tmp_path: Path) -> None:
    pool = ParsePool(1, timeout=0.5, min_bytes=0)
    path = tmp_path / "demo.sensor.json"
    path.write_bytes(GOOD["array"])
    try:
        pid = _warm(pool)
        os.kill(pid, signal.SIGSTOP)
        t0 = time.monotonic()
        assert pool.parse(path, "demo", "sensor", LIMITS, True) is None
        assert time.monotonic() - t0 < 3
        assert _gone(pid) and pid not in pool.pids
    finally:
        pool.close()


def test_a_stop_while_the_worker_is_busy_cancels_the_file_at_once(tmp_path: Path) -> None:
    pool = ParsePool(1, min_bytes=0)
    path = tmp_path / "demo.sensor.json"
    path.write_bytes(GOOD["array"])
    try:
        pid = _warm(pool)
        os.kill(pid, signal.SIGSTOP)  # busy for as long as it takes
        t0 = time.monotonic()
        with pytest.raises(IngestCancelled):
            pool.parse(path, "demo", "sensor", LIMITS, True, cancel=lambda: time.monotonic() - t0 > 0.2)
        assert time.monotonic() - t0 < 2
        assert _gone(pid)
    finally:
        pool.close()


def test_ctrl_c_at_the_node_does_not_reach_the_worker(pool: ParsePool, tmp_path: Path) -> None:
    pid = _warm(pool)
    assert os.getsid(pid) != os.getsid(0)  # its own session: the terminal's Ctrl-C goes to the node's group only
    os.kill(pid, signal.SIGINT)  # and sent to it directly, ignored
    path = tmp_path / "demo.sensor.json"
    path.write_bytes(GOOD["array"])
    assert pool.parse(path, "demo", "sensor", LIMITS, True) is not None
    assert pool.pids == [pid]


def test_the_worker_ends_with_its_node_even_a_killed_one(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import sys, time
        from anynode.ingest.parse_worker import ParsePool
        pool = ParsePool(1, min_bytes=0)
        assert pool.warm(wait=20) == 1
        print(pool.pids[0], flush=True)
        time.sleep(60)
    """)
    node = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert node.stdout is not None
        pid = int(node.stdout.readline())
        assert not _gone(pid, 0.2)
        node.kill()
        node.wait()
        assert _gone(pid), "the worker outlived its node"
    finally:
        node.kill()
        node.wait()


@TWO_CORES
def test_the_operator_uses_a_worker_and_ends_it_when_it_stops(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator")
    sent = 0
    try:
        def parsed_in_worker() -> int:
            nonlocal sent
            sent += 1
            drop(watch(node), f"demo.sensor.f{sent}.json", GOOD["lines"].replace(b'"v": ', f'"f{sent}": 0, "v": '
                                                                                  .encode()))
            wait_for_rows(node, "demo", "sensor", 2500 * sent)
            return int(node.execute("get operator where format = json").to_json()["files_parsed_in_workers"])
        wait_until(parsed_in_worker, INGEST_WAIT, "a file prepared by the worker")
        info = wait_until(lambda: (i := node.execute("get operator where format = json").to_json())["files"] == sent
                          and i, INGEST_WAIT, "every file counted")  # counted just after its commit
        assert len(info["parse_workers"]) == 1
        pid = info["parse_workers"][0]
    finally:
        node.services.stop("Operator")
    assert _gone(pid, 2.0)


def _lines(tag: int, rows: int = 2500) -> bytes:
    return b"".join(json.dumps({"f": tag, "i": i, "t": "2026-03-01T00:00:00Z"}).encode() + b"\n" for i in range(rows))


def _worker_ready(node: Node) -> None:
    """Files until one was prepared by the worker (it starts with the first file and is used from the next)."""
    sent = 0

    def used() -> int:
        nonlocal sent
        sent += 1
        drop(watch(node), f"demo.warm.w{sent}.json", _lines(sent, 1000))  # 60 KB: worth a worker
        wait_for_rows(node, "demo", "warm", 1000 * sent)
        return int(node.execute("get operator where format = json").to_json()["files_parsed_in_workers"])
    wait_until(used, INGEST_WAIT, "a file prepared by the worker")


@TWO_CORES
def test_files_of_one_name_in_a_row_are_each_ingested_once(node: Node) -> None:
    """The next file is taken ahead into .work/ only when its name differs from the one being handed on."""
    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator")
    try:
        _worker_ready(node)
        for tag in range(12):
            drop(watch(node), "demo.same.json", _lines(tag, 1000))
            wait_until(lambda: not (watch(node) / "demo.same.json").exists(), INGEST_WAIT, "the file taken")
        wait_for_rows(node, "demo", "same", 12 * 1000)
        got = node.execute('sql demo format = json "select f, count(*) as n from same group by f order by f"')
        assert got.to_json()["Query"] == [{"f": t, "n": 1000} for t in range(12)]
    finally:
        node.services.stop("Operator")


@TWO_CORES
def test_a_stop_while_files_flow_loses_and_repeats_nothing(node: Node) -> None:
    """Files taken ahead and not yet ingested at the stop stay in .work/ and go in at the next start, once."""
    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator")
    _worker_ready(node)
    staged = watch(node).parent / "staged"
    staged.mkdir()
    for tag in range(40):
        (staged / f"demo.flow.f{tag}.json").write_bytes(_lines(tag, 1000))
    for p in sorted(staged.iterdir()):
        os.replace(p, watch(node) / p.name)
    wait_until(lambda: node.execute("get operator where format = json").to_json()["files"] >= 8, INGEST_WAIT)
    node.services.stop("Operator")
    left = os.listdir(watch(node)) + os.listdir(watch(node) / ".work")
    assert len([n for n in left if n.startswith("demo.flow.")]) >= 5, "stopped too late to test anything"
    node.execute("run operator")
    try:
        wait_for_rows(node, "demo", "flow", 40 * 1000)
        wait_until(lambda: not any(p.is_file() for p in watch(node).rglob("*")), INGEST_WAIT, "all put away")
        got = node.execute('sql demo format = json "select f, count(*) as n from flow group by f order by f"')
        assert got.to_json()["Query"] == [{"f": t, "n": 1000} for t in range(40)]
        assert not [e for e in os.listdir(node.get_var("err_dir") or "")]
    finally:
        node.services.stop("Operator")


def test_without_an_interpreter_to_start_everything_stays_in_the_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    pool = ParsePool(1, min_bytes=0)
    path = tmp_path / "demo.sensor.json"
    path.write_bytes(GOOD["array"])
    with caplog.at_level(logging.WARNING, "anynode.operator"):
        assert pool.parse(path, "demo", "sensor", LIMITS, True) is None
        assert pool.warm(wait=0.2) == 0 and pool.pids == []
    assert "no parse worker" in caplog.text and "operator's thread" in caplog.text
    pool.close()


def test_a_files_batches_are_unpickled_one_at_a_time_as_they_are_taken(pool: ParsePool, tmp_path: Path) -> None:
    """Each batch stays a pickle until the writer's side takes it: the node never holds the GIL to rebuild a
    whole file's rows at once (that stalled the writer between its statements)."""
    path = tmp_path / "demo.sensor.json"
    path.write_bytes(GOOD["lines"])  # 2,500 rows: three batches
    parsed = pool.parse(path, "demo", "sensor", LIMITS, True)
    assert parsed is not None and len(parsed.batches) == 3
    assert all(isinstance(b, bytes) for b in parsed.batches)
    taken = parsed.replay()
    assert next(taken).size == 1000 and [b.size for b in taken] == [1000, 500]


def test_a_batch_that_cannot_be_unpickled_fails_its_file_and_leaves_no_rows(pool: ParsePool, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Unpickled only as the writer takes them, a broken second batch comes after the first went in: the
    whole file is rolled back and refused, with no row of it left in the table."""
    real = pool.parse_file

    def broken(*args: Any, **kwargs: Any) -> Any:
        parsed = real(*args, **kwargs)
        assert parsed is not None and len(parsed.batches) == 3
        parsed.batches[1] = parsed.batches[1][:-20]  # cut short: pickle cannot rebuild it
        return parsed

    monkeypatch.setattr(pool, "parse_file", broken)
    with DatabaseCatalog(tmp_path / "dbms") as cat:
        cat.connect("demo")
        path = tmp_path / "demo.sensor.json"
        path.write_bytes(GOOD["lines"])
        with pytest.raises(pickle.UnpicklingError):
            start_file(path, cat, name=FileName.parse(path), limits=LIMITS, parser=pool).result(30)
        assert not cat.query("demo", "SELECT name FROM sqlite_master WHERE name = 'sensor'")[1]


@TWO_CORES
def test_the_operator_puts_a_file_whose_batch_cannot_be_unpickled_aside_and_goes_on(
        node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    """The path nobody designed for: the file goes to the error directory with the reason beside it, none of
    its rows stay, and the next file goes in."""
    from anynode.ingest import parse_worker

    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator")
    try:
        _worker_ready(node)
        real, broken = parse_worker.Parsed.replay, []

        def replay(self: parse_worker.Parsed) -> Iterator[Any]:
            if broken:
                self.batches[1] = self.batches[1][:-20]
                broken.clear()
            return real(self)

        monkeypatch.setattr(parse_worker.Parsed, "replay", replay)
        broken.append(True)
        drop(watch(node), "demo.bad.b1.json", _lines(1))
        wait_until(lambda: any(e.endswith(".err.txt") for e in errors(node)), INGEST_WAIT, "the file refused")
        reason = next(e for e in errors(node) if e.endswith(".err.txt"))
        assert "unexpected failure" in (Path(node.get_var("err_dir") or "") / reason).read_text()
        drop(watch(node), "demo.bad.b2.json", _lines(2))
        wait_for_rows(node, "demo", "bad", 2500)
        assert node.catalog.query("demo", "SELECT DISTINCT f FROM bad")[1] == [(2,)]
    finally:
        node.services.stop("Operator")


def test_a_node_with_many_open_files_still_reads_its_worker(tmp_path: Path) -> None:
    """A busy node may hold more than 1,024 descriptors; the worker's pipes then get numbers select() cannot take."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        pytest.skip(f"the open-files limit is {soft}")
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    pool = ParsePool(1, min_bytes=0)
    try:
        path = tmp_path / "demo.sensor.json"
        path.write_bytes(GOOD["array"])
        _warm(pool)
        parsed = pool.parse(path, "demo", "sensor", LIMITS, True)
        assert parsed is not None and next(parsed.replay()).size == 2
    finally:
        pool.close()
        for fd in held:
            os.close(fd)


def test_small_files_stay_in_the_thread(tmp_path: Path) -> None:
    """Below min_bytes the round trip costs more than the parsing it saves: the file is not sent."""
    pool = ParsePool(1, min_bytes=1000)
    try:
        _warm(pool)
        small, big = tmp_path / "demo.small.json", tmp_path / "demo.big.json"
        small.write_bytes(GOOD["array"])
        big.write_bytes(GOOD["lines"])
        assert pool.parse(small, "demo", "small", LIMITS, True) is None and pool.answered == 0
        assert pool.parse(big, "demo", "big", LIMITS, True) is not None and pool.answered == 1
    finally:
        pool.close()


def test_one_worker_per_operator_thread_leaving_a_core_for_the_node(monkeypatch: pytest.MonkeyPatch) -> None:
    from anynode.ingest.parse_worker import parse_workers

    for cores, threads, workers in ((1, 1, 0), (1, 4, 0), (2, 1, 1), (2, 4, 1), (8, 3, 3), (8, 10, 7)):
        monkeypatch.setattr(os, "cpu_count", lambda n=cores: n)
        assert parse_workers(threads) == workers, (cores, threads)
