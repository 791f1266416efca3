"""Tasks on a fake clock: grid timing, start times, TIME(PREVIOUS)/TIME(CURRENT), soft timeouts, the pool."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any

import pytest

from anynode.cancel import Cancel
from anynode.errors import CommandSyntaxError, QueryCancelled, ValidationError
from anynode.results import Message, Result
from anynode.scheduler.pool import InlinePool, WorkerPool
from anynode.scheduler.service import SchedulerService
from anynode.scheduler.tasks import Task, TaskBook
from anynode.scheduler.when import repeat_text, resolve_start
from anynode.services.periodic import PeriodicTask
from tests.helpers import wait_until
from tests.scheduler_helpers import FakeClock

pytestmark = pytest.mark.timeout(20)


def command_task(clock: FakeClock, every: float, seen: list[str], *, fail: bool = False, **kwargs: Any) -> Task:
    def execute(line: str, cancel: Cancel) -> Result:
        seen.append(line)
        if fail:
            raise QueryCancelled("the database refused")
        return Message(line)

    return Task(1, "t", 1, every, clock=clock, command=kwargs.pop("command", "echo hi"), execute=execute, **kwargs)


def test_anchored_runs_stay_on_their_grid_when_the_runner_is_late() -> None:
    clock = FakeClock()
    task = PeriodicTask("grid", 10, call=lambda e: 0, anchored=True, clock=clock.monotonic)
    starts = []
    for _ in range(1000):
        due = task.next_due()
        assert due is not None
        clock.mono = due + 0.4  # the runner always wakes 0.4 s late
        starts.append(clock.mono)
        task.run_now()
    assert starts[-1] == pytest.approx(1000.0 + 999 * 10 + 0.4)  # no drift after 1000 runs
    plain = PeriodicTask("plain", 10, call=lambda e: 0, fixed_rate=True, clock=clock.monotonic)
    clock.mono = 0.0
    for _ in range(1000):
        clock.mono = (plain.next_due() or 0) + 0.4
        plain.run_now()
    assert clock.mono > 999 * 10 + 300  # what anchoring avoids: 0.4 s per run adds up


def test_anchored_run_that_outlasts_slots_skips_to_the_next_free_one_and_early_hand_runs_keep_the_grid() -> None:
    clock = FakeClock()

    def slow(expired: object) -> int:
        clock.advance(25)
        return 0

    task = PeriodicTask("slow", 10, call=slow, anchored=True, clock=clock.monotonic)
    task.run_now()  # due 1000, ends 1025
    assert task.next_due() == 1030.0
    quick = PeriodicTask("quick", 10, call=lambda e: 0, anchored=True, clock=clock.monotonic)
    quick.reschedule(2000.0)
    clock.mono = 1500.0
    quick.run_now()  # by hand, before it is due
    assert quick.next_due() == 2000.0


def test_a_start_in_the_future_waits_and_a_past_start_puts_later_runs_on_its_grid() -> None:
    clock = FakeClock(wall=1_700_000_000.0)
    seen: list[str] = []
    later = command_task(clock, 60, seen, start=clock.wall + 3600)
    assert later.mode == "Paused" and not later.is_due(clock.mono)
    clock.advance(3600)
    assert later.is_due(clock.mono)
    daily = Task(2, "d", 1, 86400, clock=clock, command="echo day", execute=lambda cmd, c: Message(cmd),
                 start=clock.wall - 5 * 3600)  # "start of day" five hours ago
    assert daily.is_due(clock.mono)  # a start that passed runs at once
    daily.run()
    assert daily.mode == "Active"
    assert daily.periodic.next_due() == pytest.approx(clock.mono + 19 * 3600)  # then on the start's grid


def test_time_previous_and_current_are_the_last_successful_window_and_now() -> None:
    clock = FakeClock(wall=datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc).timestamp())
    seen: list[str] = []
    task = command_task(clock, 300, seen, command='sql d "select 1 where t >= TIME(PREVIOUS) and t < TIME(CURRENT)"')
    task.run()
    assert seen[-1] == ("sql d \"select 1 where t >= '2026-05-01 11:55:00.000000' "
                        "and t < '2026-05-01 12:00:00.000000'\"")
    clock.advance(300)
    task.run()
    assert "t >= '2026-05-01 12:00:00.000000' and t < '2026-05-01 12:05:00.000000'" in seen[-1]
    failing = command_task(clock, 300, seen, fail=True, command="echo TIME(PREVIOUS)")
    failing.run()
    first = seen[-1]
    clock.advance(300)
    failing.run()
    assert seen[-1] == first  # a failed window is read again, not lost
    assert failing.failures == 2 and failing.last_status.startswith("Failed: the database refused")


def test_a_run_past_its_soft_timeout_is_reported_once_and_its_query_asked_to_stop() -> None:
    clock = FakeClock()
    seen: list[str] = []
    task = command_task(clock, 10, seen, soft_timeout=5)
    assert task.claim() and not task.claim()  # never twice at once
    clock.advance(4)
    assert not task.check_overrun(clock.mono)
    clock.advance(2)
    assert task.check_overrun(clock.mono) and not task.check_overrun(clock.mono)
    assert task._cancel is not None and task._cancel.cancelled
    assert task.status().startswith("Over its soft timeout: running for 6.0s")
    task.run_claimed()
    assert task.overruns == 1 and task.last_status == "Success (over its soft timeout of 5s)"


@pytest.mark.parametrize("text,offset", [
    ("+2h", 7200), ("+ 1d", 86400), ("+30t", 1800), ("+1w", 604800), ("now()", 0), ("+ 10 seconds", 10),
])
def test_start_forward_forms(text: str, offset: float) -> None:
    assert resolve_start(text, 1000.0) == 1000.0 + offset


def test_start_dates_and_start_of() -> None:
    now = datetime(2026, 5, 1, 15, 30, 12).astimezone().timestamp()
    assert resolve_start("start of day", now) == datetime(2026, 5, 1).astimezone().timestamp()
    assert resolve_start("start of hour", now) == datetime(2026, 5, 1, 15).astimezone().timestamp()
    assert resolve_start("2026-06-01 06:00", now) == datetime(2026, 6, 1, 6).astimezone().timestamp()
    assert resolve_start("2026-06-01T06:00:00Z", now) == datetime(2026, 6, 1, 6, tzinfo=timezone.utc).timestamp()
    with pytest.raises(ValidationError) as err:
        resolve_start("tomorrow", now)
    assert "start of day" in err.value.one_line() and "+2h" in err.value.one_line()
    with pytest.raises(ValidationError, match="unknown unit"):
        resolve_start("+2q", now)


def test_repeat_time_is_hours_minutes_seconds() -> None:
    assert repeat_text(10) == "0:00:10" and repeat_text(86400) == "24:00:00" and repeat_text(0.3) == "0:00:00.3"


def test_book_refuses_a_second_task_of_the_same_name_and_names_the_tasks_it_has() -> None:
    clock = FakeClock()
    book = TaskBook(clock)
    book.add(1, "a", lambda tid: Task(tid, "a", 1, 5, clock=clock, command="echo", execute=lambda cmd, c: Message(cmd)))
    with pytest.raises(CommandSyntaxError, match="has a task named 'A' already"):
        book.add(1, "A", lambda tid: Task(tid, "A", 1, 5, clock=clock, command="echo",
                                          execute=lambda cmd, c: Message(cmd)))
    with pytest.raises(CommandSyntaxError) as err:
        book.find(1, name="b")
    assert "its tasks: 1 (a)" in err.value.one_line()


def test_service_tick_runs_due_tasks_and_a_failing_one_does_not_stop_the_other() -> None:
    clock = FakeClock()
    book = TaskBook(clock)
    good: list[str] = []
    bad: list[str] = []
    book.add(1, "good", lambda tid: command_task(clock, 1, good))
    book.add(1, "bad", lambda tid: Task(tid, "bad", 1, 1, clock=clock, command="x",
                                        execute=lambda cmd, c: (bad.append(cmd), 1 / 0)[1]))  # type: ignore[func-returns-value]
    book.running.add(1)
    service = SchedulerService(book, system=False, workers=1)
    service.pool = InlinePool()
    for _ in range(10):
        wait = service.tick()
        assert wait == pytest.approx(1.0)
        clock.advance(wait or 0)
    assert len(good) == 10 and len(bad) == 10
    assert book.find(1, name="bad").last_status == "Failed: internal error: ZeroDivisionError: division by zero"


def test_pool_gives_a_stuck_job_a_stand_in_so_the_next_job_runs() -> None:
    pool = WorkerPool(1, "test")
    release = threading.Event()
    done = threading.Event()
    try:
        pool.submit(release.wait)
        wait_until(lambda: pool.stats()["idle"] == 0 and pool.stats()["workers"] == 1)
        pool.submit(done.set)
        assert not done.wait(0.2)  # one worker, and it is stuck
        pool.stuck()
        assert done.wait(2)
        assert pool.stats()["workers"] == 2
    finally:
        release.set()
        pool.unstuck()
        assert pool.close(2) == []
    start = time.monotonic()
    WorkerPool(2, "idle").close(1)
    assert time.monotonic() - start < 0.5
