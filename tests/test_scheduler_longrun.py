"""A node's day on a fake clock: 20 user tasks, integrity check, stats and retention for 24 simulated hours.

The schedulers' dispatch (:meth:`SchedulerService.tick`) runs on a clock that
jumps to the next due time plus a random lateness of up to 50 ms, as a real
thread wakes; tasks run inline. Every run of every task must start within
one period of its grid (in fact within the lateness), the run counts must be
those of the period, and the process's resident memory must stay flat.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import pytest

from anynode.node import Node
from anynode.scheduler.housekeeping import system_tasks
from anynode.scheduler.pool import InlinePool
from anynode.scheduler.procstats import rss_bytes
from anynode.scheduler.service import SchedulerService
from anynode.scheduler.tasks import TaskBook
from tests.helpers import wait_until
from tests.scheduler_helpers import FakeClock

pytestmark = pytest.mark.timeout(60)

DAY = 86400.0
PERIODS = [10, 11, 13, 15, 17, 20, 23, 30, 37, 45, 60, 90, 120, 300, 600, 900, 1800, 3600, 7200, 21600]
LATE = 0.05


def simulate(node: Node, clock: FakeClock, book: TaskBook, seconds: float, seed: int = 7) -> dict[str, object]:
    """Drive both schedulers over ``seconds`` of fake time; the figures of the run."""
    services = [SchedulerService(book, system=s, workers=1) for s in (True, False)]
    for service in services:
        service.pool = InlinePool()
    rng = random.Random(seed)
    user = book.tasks([1])
    seen = {t.id: 0 for t in user}
    starts: dict[int, list[float]] = {t.id: [] for t in user}
    end = clock.mono + seconds
    rss_after_hour = None
    while clock.mono < end:
        waits = [w for w in (s.tick() for s in services) if w is not None]
        for task in user:
            if task.runs != seen[task.id]:
                seen[task.id] = task.runs
                starts[task.id].append(task.last_started or 0.0)
        clock.advance(min(waits) + rng.uniform(0.0, LATE))
        if rss_after_hour is None and clock.mono - (end - seconds) > 3600:
            rss_after_hour = rss_bytes()
    drift = {}
    for task in user:
        first = starts[task.id][0]
        drift[task.id] = max(abs(s - (first + k * task.every)) for k, s in enumerate(starts[task.id]))
    return {"runs": {t.id: t.runs for t in user}, "drift": drift, "rss_after_hour": rss_after_hour,
            "rss_end": rss_bytes(), "failures": sum(t.failures for t in user)}


def test_a_simulated_day_with_20_tasks_has_no_drift_and_flat_memory(tmp_path: Path) -> None:
    home = tmp_path / "day"
    home.mkdir()
    (home / "anynode.cfg").write_text("integrity_interval = 1 hour\narchive_retention_days = 30\n"
                                      "error_retention_days = 7\n")
    node = Node(home)
    clock = FakeClock()
    book = node.part("scheduler", lambda: TaskBook(clock))
    try:
        node.execute("create work directories")
        node.execute("connect dbms demo where type = sqlite")
        node.execute("run operator where rescan = 0.3 seconds and compress_json = false")
        watch = Path(node.get_var("watch_dir") or "")
        for i in range(100):
            (watch / f"demo.r.{i}.json.tmp").write_text(json.dumps([{"i": i}]))
            os.replace(watch / f"demo.r.{i}.json.tmp", watch / f"demo.r.{i}.json")
        archive = Path(node.get_var("archive_dir") or "")
        files = wait_until(lambda: len(found := sorted(archive.rglob("*.json"))) == 100 and found, timeout=20)
        node.execute("exit operator")
        data = bytearray(files[50].read_bytes())
        data[5] ^= 1
        files[50].write_bytes(bytes(data))
        for n, period in enumerate(PERIODS):
            node.execute(f"c{n} = 0")
            node.execute(f"schedule time = {period} seconds and name = t{n} task c{n} = incr !c{n}")
        book.replace_system(system_tasks(node, book))
        book.running |= {0, 1}
        started = time.monotonic()
        figures = simulate(node, clock, book, DAY)
        took = time.monotonic() - started
    finally:
        node.close()
    runs, drift = figures["runs"], figures["drift"]
    assert isinstance(runs, dict) and isinstance(drift, dict)
    for n, period in enumerate(PERIODS):
        assert runs[n + 1] in (int(DAY // period), int(DAY // period) + 1), (period, runs[n + 1])
        assert drift[n + 1] < period and drift[n + 1] <= LATE + 1e-3, (period, drift[n + 1])
        assert node.get_var(f"c{n}") == str(runs[n + 1])
    assert figures["failures"] == 0
    integrity = node.part("integrity", lambda: None)
    assert integrity.passes == 24 and [c.path for c in integrity.corrupt.values()] == [str(files[50])]
    assert integrity.corrupt[str(files[50])].count == 24
    growth = int(figures["rss_end"]) - int(figures["rss_after_hour"] or 0)  # type: ignore[call-overload]
    print(f"\n24 h simulated in {took:.1f}s: {sum(runs.values())} user runs; max drift "
          f"{max(drift.values()) * 1000:.1f} ms (lateness up to {LATE * 1000:.0f} ms); RSS after 1 h "
          f"{int(figures['rss_after_hour'] or 0) / 2**20:.1f} MiB, at 24 h {int(figures['rss_end']) / 2**20:.1f} "
          f"MiB ({growth / 2**20:+.2f} MiB)")
    assert growth < 4 * 2**20
