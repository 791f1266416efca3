"""NodeLogs: files, rotation, reopen, rings, stats lines, isolation between nodes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from anynode.logs import NodeLogs, RingLog, service_stats
from anynode.services.manager import ServiceManager
from anynode.settings import Settings
from tests.svc_helpers import Sleepy, assert_no_anynode_threads


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[NodeLogs]:
    node_logs = NodeLogs(tmp_path, "node1", error_log_size=5, event_log_size=5)
    yield node_logs
    node_logs.close()


def test_events_and_errors_reach_root_log_and_rings(logs: NodeLogs) -> None:
    logs.logger.info("TCP running")
    try:
        raise RuntimeError("disk full")
    except RuntimeError:
        logs.logger.getChild("operator").error("Operator failed: RuntimeError: disk full", exc_info=True)
    text = logs.root_path.read_text()
    assert "INFO [MainThread] TCP running" in text
    assert "Traceback (most recent call last)" in text  # the traceback goes to the file
    assert [e.text for e in logs.events.entries()] == ["TCP running", "Operator failed: RuntimeError: disk full"]
    errors = logs.errors.entries()
    assert [(e.type, e.text) for e in errors] == [("Error", "Operator failed: RuntimeError: disk full")]
    assert errors[0].thread == "MainThread"


def test_rings_are_bounded_and_repeats_are_counted(logs: NodeLogs) -> None:
    for i in range(8):
        logs.logger.warning("peer %d unreachable", i)
    assert [e.text for e in logs.errors.entries()] == [f"peer {i} unreachable" for i in range(3, 8)]
    assert [e.id for e in logs.errors.entries()] == [4, 5, 6, 7, 8]
    for _ in range(3):
        logs.logger.error("master not answering")
    last = logs.errors.entries(last=1)[0]
    assert last.text == "master not answering" and last.count == 3
    logs.errors.clear()
    assert logs.errors.entries() == []


def test_level_filters_file_and_event_ring(logs: NodeLogs) -> None:
    logs.logger.debug("noise")
    logs.set_level("DEBUG")
    logs.logger.debug("detail")
    texts = [e.text for e in logs.events.entries()]
    assert texts == ["detail"]
    assert "noise" not in logs.root_path.read_text()


def test_root_log_rotates_by_size(tmp_path: Path) -> None:
    node_logs = NodeLogs(tmp_path, max_bytes=2000, backups=2)
    try:
        for i in range(200):
            node_logs.logger.info("line %04d %s", i, "x" * 40)
    finally:
        node_logs.close()
    names = sorted(p.name for p in (tmp_path / "logs").glob("root.log*"))
    assert names == ["root.log", "root.log.1", "root.log.2"]
    assert all(p.stat().st_size <= 2000 for p in (tmp_path / "logs").glob("root.log*"))
    assert "line 0199" in (tmp_path / "logs" / "root.log").read_text()


def test_reopen_after_logrotate_renamed_the_files(logs: NodeLogs) -> None:
    logs.logger.info("before rotation")
    logs.write_stats("TCP", {"requests": 1})
    logs.root_path.rename(logs.dir / "root.log.old")
    logs.stats_path.rename(logs.dir / "stats.log.old")
    logs.reopen()
    logs.logger.info("after rotation")
    logs.write_stats("TCP", {"requests": 2})
    assert "before rotation" in (logs.dir / "root.log.old").read_text()
    assert "after rotation" not in (logs.dir / "root.log.old").read_text()
    assert "after rotation" in logs.root_path.read_text()
    assert json.loads(logs.stats_path.read_text())["requests"] == 2


def test_two_nodes_do_not_share_files_or_rings(tmp_path: Path) -> None:
    a = NodeLogs(tmp_path / "a", "a")
    b = NodeLogs(tmp_path / "b", "b")
    try:
        a.logger.error("only in a")
        assert [e.text for e in a.errors.entries()] == ["only in a"]
        assert b.errors.entries() == [] and b.events.entries() == []
        assert "only in a" not in b.root_path.read_text()
    finally:
        a.close()
        b.close()


def test_stats_task_writes_one_json_line_per_service(tmp_path: Path) -> None:
    node_logs = NodeLogs(tmp_path, "edge-1")
    manager = ServiceManager(logger=node_logs.logger)
    now = [0.0]
    try:
        svc = Sleepy("Scheduler")
        manager.start(svc)
        manager.start(Sleepy("TCP"))
        manager.stop("TCP")
        task = node_logs.stats_task(service_stats(manager), every=30, clock=lambda: now[0])
        assert task.run_due(now[0]) is False  # first line after one interval
        now[0] = 30
        assert task.run_due(now[0]) is True
    finally:
        manager.stop_all(2)
        node_logs.close()
    lines = [json.loads(x) for x in node_logs.stats_path.read_text().splitlines()]
    assert [(x["service"], x["state"]) for x in lines] == [("TCP", "Stopped"), ("Scheduler", "Running")]
    scheduler = lines[1]
    assert scheduler["node"] == "edge-1" and scheduler["ticks"] == 0 and scheduler["runs"] == 1
    assert scheduler["time"].endswith("Z")
    assert_no_anynode_threads()


def test_from_settings(tmp_path: Path) -> None:
    settings = Settings.load(None, env={}, overrides={"log_level": "warning", "error_log_size": 2})
    node_logs = NodeLogs.from_settings(tmp_path, settings)
    try:
        node_logs.logger.info("hidden")
        for i in range(3):
            node_logs.logger.warning("w%d", i)
        assert [e.text for e in node_logs.errors.entries()] == ["w1", "w2"]
        assert "hidden" not in node_logs.root_path.read_text()
    finally:
        node_logs.close()


def test_ring_is_thread_safe() -> None:
    ring = RingLog(10_000)

    def fill(n: int) -> None:
        for i in range(1000):
            ring.add("Info", f"{n}-{i}", "t", 0.0)

    threads = [threading.Thread(target=fill, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    ids = [e.id for e in ring.entries()]
    assert len(ids) == 4000 and len(set(ids)) == 4000
