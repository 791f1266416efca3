"""PeriodicTask on a fake clock, and PeriodicService on a real thread."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator

import pytest

from anynode.services.manager import ServiceManager
from anynode.services.periodic import CancelTask, PeriodicService, PeriodicTask

pytestmark = pytest.mark.timeout(20)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_run_at_start_is_due_at_once_then_every_period_after_the_end() -> None:
    clock = FakeClock()
    done: list[int] = []

    def work(expired: object) -> int:
        clock.advance(2)  # the run takes 2 s
        done.append(1)
        return 1

    task = PeriodicTask("sync", 10, call=work, clock=clock)
    assert task.next_due() == 1000.0
    assert task.run_due(clock()) is True
    assert task.next_due() == 1012.0  # fixed delay: 10 s after the end
    assert task.run_due(1011.9) is False
    assert task.run_due(1012.0) is True
    assert len(done) == 2 and task.runs == 2 and task.items == 2
    assert task.last_duration == 2


def test_not_run_at_start_waits_one_period() -> None:
    clock = FakeClock()
    task = PeriodicTask("clean", 300, call=lambda expired: 0, run_at_start=False, clock=clock)
    assert task.next_due() == 1300.0
    assert task.run_due(1299.0) is False
    assert task.runs == 0


def test_fixed_rate_measures_from_the_start_but_never_schedules_in_the_past() -> None:
    clock = FakeClock()

    def slow(expired: object) -> int:
        clock.advance(3)
        return 0

    task = PeriodicTask("ha", 10, call=slow, fixed_rate=True, clock=clock)
    task.run_now()
    assert task.next_due() == 1010.0
    task.every = 2  # a run longer than the period: next is its end, not a burst of catch-ups
    task.run_now()
    assert task.next_due() == clock()


@pytest.mark.parametrize("seed", range(20))
def test_jitter_delays_only_the_first_run_within_bounds(seed: int) -> None:
    clock = FakeClock()
    task = PeriodicTask("sync", 60, call=lambda expired: 0, jitter=30, clock=clock, rng=random.Random(seed))
    first = task.next_due()
    assert first is not None and 1000.0 <= first <= 1030.0
    clock.now = first
    task.run_now()
    assert task.next_due() == first + 60


def test_jitter_spreads_nodes_started_together() -> None:
    clock = FakeClock()
    firsts = {PeriodicTask("sync", 60, call=lambda e: 0, jitter=30, clock=clock).next_due() for _ in range(10)}
    assert len(firsts) > 1


def test_soft_timeout_stops_between_items_and_the_next_run_resumes() -> None:
    clock = FakeClock()
    seen: list[int] = []
    made: list[int] = []

    def files() -> Iterator[int]:
        made.append(1)
        yield from range(10)

    def process(item: int) -> None:
        clock.advance(1)  # each item takes a second
        seen.append(item)

    task = PeriodicTask("ingest", 5, items=files, process=process, soft_timeout=3, clock=clock)
    task.run_now()
    assert seen == [0, 1, 2]  # checked before item 3: 3 s used
    assert task.overruns == 1
    task.run_now()
    assert seen == [0, 1, 2, 3, 4, 5]  # resumed where it left off
    task.run_now()
    task.run_now()
    assert seen == list(range(10))
    assert len(made) == 1  # one iterator until it was exhausted
    task.run_now()
    assert len(made) == 2  # then a fresh pass
    assert task.items == 10 + 3


def test_items_per_run_caps_a_run_and_resumes() -> None:
    seen: list[str] = []
    task = PeriodicTask("publish", 5, items=lambda: iter("abcde"), process=seen.append, items_per_run=2,
                        clock=FakeClock())
    task.run_now()
    assert seen == ["a", "b"]
    task.run_now()
    task.run_now()
    assert seen == list("abcde")


def test_items_without_process_do_the_work_while_iterating() -> None:
    clock = FakeClock()
    log: list[int] = []

    def work() -> Iterator[None]:
        for i in range(4):
            log.append(i)
            clock.advance(2)
            yield None

    task = PeriodicTask("dump", 5, items=work, soft_timeout=3, clock=clock)
    task.run_now()
    assert log == [0, 1]
    task.run_now()
    assert log == [0, 1, 2, 3]


def test_call_style_gets_a_deadline_check() -> None:
    clock = FakeClock()
    done = []

    def work(expired: callable) -> int:  # type: ignore[valid-type]
        n = 0
        while not expired():
            clock.advance(1)
            n += 1
        done.append(n)
        return n

    task = PeriodicTask("integrity", 60, call=work, soft_timeout=4, clock=clock)
    task.run_now()
    assert done == [4] and task.items == 4


def test_an_item_that_raises_is_isolated_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[int] = []

    def process(item: int) -> None:
        if item == 2:
            raise ValueError("bad json in file 2")
        seen.append(item)

    task = PeriodicTask("ingest", 5, items=lambda: range(5), process=process, clock=FakeClock())
    with caplog.at_level(logging.ERROR):
        assert task.run_now() is True
    assert seen == [0, 1, 3, 4]
    assert task.errors == 1 and task.items == 4
    assert task.last_error == "2: ValueError: bad json in file 2"
    assert "bad json in file 2" in caplog.text


def test_a_failing_run_is_counted_and_the_task_runs_again(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    calls = []

    def flaky(expired: object) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("master 10.0.0.1:32048 refused")
        return 3

    task = PeriodicTask("sync", 10, call=flaky, clock=clock)
    with caplog.at_level(logging.ERROR):
        task.run_due(clock())
    assert task.errors == 1 and task.last_error == "ConnectionError: master 10.0.0.1:32048 refused"
    assert task.next_due() == 1010.0  # rescheduled as usual
    assert task.run_due(1010.0) is True
    assert task.items == 3 and task.runs == 2
    assert any(r.exc_info for r in caplog.records)


def test_a_task_never_overlaps_itself() -> None:
    entered = threading.Event()
    release = threading.Event()
    runs = []

    def slow(expired: object) -> int:
        runs.append(1)
        entered.set()
        release.wait(5)
        return 0

    task = PeriodicTask("scan", 1, call=slow)
    first = threading.Thread(target=task.run_now, name="test-first")
    first.start()
    assert entered.wait(5)
    assert task.run_now() is False  # a second caller while the first runs
    release.set()
    first.join(5)
    assert len(runs) == 1 and task.skipped == 1


def test_cancel_task_removes_it_for_good() -> None:
    def misconfigured(expired: object) -> int:
        raise CancelTask("no store named 'sdcard'; please update the configuration")

    task = PeriodicTask("clone", 5, call=misconfigured, clock=FakeClock())
    task.run_now()
    assert task.next_due() is None
    assert task.cancelled == "no store named 'sdcard'; please update the configuration"
    assert task.run_now() is False and task.runs == 1


def test_bad_declarations_are_refused() -> None:
    with pytest.raises(ValueError, match="exactly one of items= or call="):
        PeriodicTask("x", 5)
    with pytest.raises(ValueError, match="every must be a positive"):
        PeriodicTask("x", 0, call=lambda e: 0)


def test_service_runs_tasks_and_stops_promptly_during_an_hour_wait(manager: ServiceManager) -> None:
    ran = threading.Event()
    task = PeriodicTask("hourly", 3600, call=lambda expired: ran.set() or 1)
    svc = PeriodicService("Scheduler", [task])
    manager.start(svc)
    assert ran.wait(5)
    assert svc.details() in {"1 task, next in 3600s", "1 task, next in 3599s"}
    began = time.monotonic()
    manager.stop("scheduler", timeout=1)
    assert time.monotonic() - began < 1
    assert svc.info()["hourly"]["runs"] == 1


def test_service_schedules_a_task_added_while_it_waits(manager: ServiceManager) -> None:
    svc = PeriodicService("Scheduler", [PeriodicTask("hourly", 3600, call=lambda e: 0, run_at_start=False)])
    manager.start(svc)
    ran = threading.Event()
    svc.add(PeriodicTask("now", 3600, call=lambda e: ran.set() or 0))
    assert ran.wait(5)
    assert [t.name for t in svc.tasks] == ["hourly", "now"]
    assert svc.remove("now") is True and svc.remove("now") is False


def test_service_stop_ends_a_long_run_between_items(manager: ServiceManager) -> None:
    started = threading.Event()
    seen: list[int] = []

    def process(item: int) -> None:
        seen.append(item)
        started.set()
        time.sleep(0.01)  # a real item of work

    svc = PeriodicService("Operator", [PeriodicTask("files", 5, items=lambda: range(100_000), process=process)])
    manager.start(svc)
    assert started.wait(5)
    began = time.monotonic()
    manager.stop("operator", timeout=1)
    assert time.monotonic() - began < 0.5
    assert 0 < len(seen) < 100_000
