"""Streaming rows: buffered per table, flushed by time, volume or at once, never lost at exit."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from anynode.node import Node
from anynode.streaming.service import streamer
from tests.rest_helpers import start


def count(node: Node, table: str) -> int:
    try:
        return int(node.execute(f'sql demo "select count(*) from {table}"').rows[0][0])
    except Exception:
        return 0


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def rows(n: int) -> list[dict[str, int]]:
    return [{"i": i} for i in range(n)]


def test_per_table_time_threshold_flushes_that_table_only(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("set buffer threshold where dbms = demo and table = fast and time = 0.2 seconds")
    s = streamer(node)
    s.put("demo", "fast", rows(3), 30)
    s.put("demo", "slow", rows(2), 20)
    wait_until(lambda: count(node, "fast") == 3)
    time.sleep(0.3)
    assert count(node, "slow") == 0
    table = {r[0]: r for r in node.execute("get streaming").rows}
    assert table["demo.slow"][2] == 2 and table["demo.fast"][3] == 3


def test_volume_threshold_flushes_at_once(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("set buffer threshold where volume = 100 and time = 1 hour")
    s = streamer(node)
    s.put("demo", "v", rows(2), 60)
    time.sleep(0.2)
    assert count(node, "v") == 0
    s.put("demo", "v", rows(2), 60)
    wait_until(lambda: count(node, "v") == 4)


def test_write_immediate_ingests_in_the_call(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("set buffer threshold where dbms = demo and write_immediate = true")
    streamer(node).put("demo", "now", rows(5), 50)
    assert count(node, "now") == 5


def test_buffered_rows_are_written_when_the_node_exits(tmp_path: Path) -> None:
    node = Node(tmp_path / "n")
    node.execute("connect dbms demo where type = sqlite")
    streamer(node).put("demo", "late", rows(7), 70)
    assert count(node, "late") == 0
    node.close()
    with sqlite3.connect(tmp_path / "n" / "data" / "dbms" / "demo.dbms") as conn:
        assert conn.execute("select count(*) from late").fetchone()[0] == 7


def test_rest_put_streaming_rows_become_queryable(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("set buffer threshold where time = 0.2 seconds")
    url = start(node)
    body = b'{"sensor": "a", "v": 1}\n{"sensor": "b", "v": 2}\n'
    r = httpx.put(url, content=body, headers={"type": "json", "dbms": "demo", "table": "put_s", "mode": "streaming"},
                  timeout=10)
    assert r.status_code == 200 and r.json()["AnyLog.status"] == "Success"
    wait_until(lambda: count(node, "put_s") == 2)
    assert "flushed_rows" in node.execute("get stats where service = streamer").to_text()


def test_threshold_needs_a_value_and_table_needs_dbms(node: Node) -> None:
    import pytest

    with pytest.raises(Exception, match="give time, volume or write_immediate"):
        node.execute("set buffer threshold where dbms = demo")
    with pytest.raises(Exception, match="table needs dbms"):
        node.execute("set buffer threshold where table = t and time = 1 second")


def test_rows_a_flush_cannot_ingest_are_kept_in_the_error_dir_with_the_reason(node: Node) -> None:
    from anynode.rest.ingest import put_rows

    node.execute("connect dbms demo where type = sqlite")
    put_rows(node, "demo", "clash", "streaming", b'{"A": 1, "a": 2}')  # two keys, one column: refused (27)
    put_rows(node, "demo", "fine", "streaming", b'{"a": 1}')
    assert "2 buffered row(s) flushed" in node.execute("flush buffers").to_text()
    err = Path(node.get_var("err_dir") or "")
    kept = [p for p in err.iterdir() if not p.name.endswith(".err.txt")]
    assert len(kept) == 1 and kept[0].name.startswith("demo.clash.0.") and ".err_27." in kept[0].name
    assert kept[0].read_bytes() == b'{"A":1,"a":2}\n'
    assert "code: 27" in Path(str(kept[0]) + ".err.txt").read_text()
    assert count(node, "fine") == 1
    assert node.execute("get streaming where format = json").to_json()[0]["Last error"]


def test_run_streamer_starts_the_service_once(node: Node) -> None:
    assert "60 seconds and 10,000 bytes" in node.execute("run streamer").to_text()
    node.execute("run streamer where prep_dir = !prep_dir")
    assert "Streamer" in node.services.running()
