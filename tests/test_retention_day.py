"""A simulated day of retention on a fake clock: rows every 5 minutes into a table partitioned by the hour,
'drop partition ... keep = 6' scheduled every hour, a count every 10 minutes. The drops keep the table at
6 or 7 hourly partitions all day, no run drifts, and the memory stays flat.

The user scheduler's dispatch (:meth:`SchedulerService.tick`) runs on a clock that jumps to the next due
time (or the next delivery of rows) plus a random lateness of up to 50 ms; tasks run inline.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone
from pathlib import Path

import pytest

from anynode.ingest.pipeline import ingest_rows
from anynode.node import Node
from anynode.scheduler.pool import InlinePool
from anynode.scheduler.procstats import rss_bytes
from anynode.scheduler.service import SchedulerService
from anynode.scheduler.tasks import TaskBook
from tests.scheduler_helpers import FakeClock

pytestmark = pytest.mark.timeout(60)
DAY = 86400.0
HOUR = 3600.0
EVERY = 300.0  # rows arrive every 5 minutes
LATE = 0.05
START = datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp()


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_simulated_day_of_hourly_partitions_keeps_six_hours(tmp_path: Path) -> None:
    node = Node(tmp_path / "day")
    clock = FakeClock(wall=START)
    book = node.part("scheduler", lambda: TaskBook(clock))
    rng = random.Random(11)
    try:
        node.execute("connect dbms demo where type = sqlite")
        node.execute("partition demo readings using timestamp by 1 hour")
        ingest_rows([{"timestamp": stamp(START), "value": 0.0}], "demo", "readings", node.catalog)
        node.execute('schedule time = 1 hour and name = "Drop Partitions" task drop partition where dbms = demo '
                     "and table = readings and keep = 6")
        node.execute("schedule time = 10 minutes and name = Parts task parts = info table demo readings "
                     "partitions count")
        service = SchedulerService(book, system=False, workers=1)
        service.pool = InlinePool()
        book.running |= {1}
        drop, parts_task = (next(t for t in book.tasks([1]) if t.name == n) for n in ("Drop Partitions", "Parts"))
        starts: list[float] = []
        seen_runs = 0
        most = 0
        delivered = START + EVERY
        end = clock.mono + DAY
        rss_after_hour = None
        while clock.mono < end:
            wait = service.tick()
            if drop.runs != seen_runs:
                seen_runs = drop.runs
                starts.append(drop.last_started or 0.0)
            while delivered <= clock.wall:  # the rows of the last 5 minutes, one every 10 s
                rows = [{"timestamp": stamp(delivered - EVERY + s), "value": rng.uniform(0, 50)}
                        for s in range(0, int(EVERY), 10)]
                ingest_rows(rows, "demo", "readings", node.catalog)
                delivered += EVERY
            most = max(most, int(node.get_var("parts") or 0))
            step = min(wait if wait is not None else EVERY, delivered - clock.wall)
            clock.advance(max(step, 0.0) + rng.uniform(0.0, LATE))
            if rss_after_hour is None and clock.wall - START > HOUR:
                rss_after_hour = rss_bytes()
        rss_end = rss_bytes()
        found = node.execute("get partitions where dbms = demo and table = readings and format = json").to_json()
        names = [p["partition"] for p in found["readings"]]
        oldest = node.execute('sql demo format = json "select min(timestamp) as m, count(*) as n from readings"'
                              ).to_json()["Query"][0]
    finally:
        node.close()
    assert drop.failures == 0 and parts_task.failures == 0
    assert drop.runs in (24, 25) and parts_task.runs in (144, 145)
    drift = max(abs(s - (starts[0] + k * HOUR)) for k, s in enumerate(starts))
    assert drift <= LATE + 1e-3
    assert most <= 7, most  # six kept by the last drop, and the hour that began since
    newest = datetime.fromtimestamp(delivered - EVERY - 10, timezone.utc)  # the last row delivered
    assert names[-1] == f"par_readings_{newest:%Y_%m_%d_%H}_h01_timestamp"
    assert len(names) in (6, 7)
    first_hour = datetime.strptime(names[0][len("par_readings_"):][:13], "%Y_%m_%d_%H")
    assert str(oldest["m"]).startswith(first_hour.strftime("%Y-%m-%d %H:00:00"))
    growth = rss_end - (rss_after_hour or 0)
    print(f"\n24 h simulated: {drop.runs} drops, {parts_task.runs} counts, drift {drift * 1000:.1f} ms, "
          f"at most {most} partitions; RSS after 1 h {(rss_after_hour or 0) / 2**20:.1f} MiB, "
          f"at 24 h {rss_end / 2**20:.1f} MiB ({growth / 2**20:+.2f} MiB)")
    assert growth < 4 * 2**20
