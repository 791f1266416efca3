"""The scheduler as a user drives it: schedule, run/exit scheduler, get scheduler, task ..., on real threads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from anynode.errors import AlreadyRunning, CommandNotFound, CommandSyntaxError, ServiceError
from anynode.node import Node
from anynode.scheduler.tasks import COLUMNS
from tests.helpers import wait_until
from tests.scheduler_helpers import settled_row, task_row

pytestmark = pytest.mark.timeout(30)


def counter(node: Node, name: str) -> int:
    """The value of the counter variable ``name`` (0 while unset)."""
    return int(node.get_var(name) or 0)


@pytest.fixture
def one_worker(tmp_path: Path) -> Iterator[Node]:
    """A node whose user schedulers have a single worker thread."""
    home = tmp_path / "one"
    home.mkdir()
    (home / "anynode.cfg").write_text("scheduler_workers = 1\n")
    node = Node(home)
    yield node
    node.close()


def test_a_task_added_before_the_scheduler_runs_on_time_and_counts(node: Node) -> None:
    node.execute("ticks = 0")
    reply = node.execute('schedule time = 0.2 seconds and name = "tick" task ticks = incr !ticks').to_text()
    assert reply.startswith("task 1 ('tick') added to scheduler 1: every 0:00:00.2, first run now")
    assert "run scheduler 1" in reply  # the scheduler does not run yet: say how to start it
    time.sleep(0.3)
    assert counter(node, "ticks") == 0
    assert node.execute("run scheduler").to_text() == "scheduler 1 running: 1 task(s)"
    started = time.monotonic()
    wait_until(lambda: counter(node, "ticks") >= 6)
    took = time.monotonic() - started
    # due since it was added (0.3 s before the start): runs at once, then on its 0.2 s grid from the
    # moment it was added (0.4, 0.6 ... 1.2 s after it), not rounded to AnyLog's 10 s
    assert 0.75 < took < 2.5
    row = settled_row(node, "tick")
    assert row["Mode"] == "Active" and row["Last status"] == "Success" and row["Runs"] >= 6


def test_get_scheduler_shows_the_columns_in_a_table_and_as_json(node: Node) -> None:
    node.execute('schedule time = 1 hour and name = "hourly" and start = +1h task echo hello')
    node.execute("schedule time = 90 seconds and scheduler = 2 task get status")
    table = node.execute("get scheduler 1")
    assert table.columns == COLUMNS == ("ID", "Mode", "Name", "Runs", "Last status", "Duration", "Start time",
                                        "Repeat time", "Task")
    assert table.title == "Scheduler 1: Not running"
    (row,) = table.rows
    assert row[:5] == (1, "Paused", "hourly", 0, "No runs") and row[7:] == ("1:00:00", "echo hello")
    assert row[6] > time.strftime("%Y-%m-%d %H:%M:%S")  # an hour from now, local time
    both = node.execute("get scheduler").to_text()
    assert "Scheduler 1: Not running" in both and "Scheduler 2: Not running" in both and "0:01:30" in both
    got = node.execute("get scheduler where format = json").to_json()
    assert [(s["Scheduler"], s["Status"]) for s in got] == [(1, "Not running"), (2, "Not running")]
    task = got[0]["Tasks"][0]
    assert {k: task[k] for k in COLUMNS[:5]} == {"ID": 1, "Mode": "Paused", "Name": "hourly", "Runs": 0,
                                                  "Last status": "No runs"}
    assert task["Repeat time"] == "1:00:00" and task["Task"] == "echo hello" and task["Next run"] == row[6]


def test_the_command_is_kept_as_typed_and_its_variables_resolved_at_each_run(node: Node) -> None:
    node.execute("greeting = hello")
    node.execute('schedule time = 1 hour and name = "greet" task echo !greeting world')
    assert task_row(node, "greet")["Task"] == "echo !greeting world"
    assert node.execute('task run where name = "greet"').to_text() == "hello world"
    node.execute("greeting = goodbye")
    assert node.execute('task run where name = greet').to_text() == "goodbye world"
    row = task_row(node, "greet")
    assert row["Runs"] == 2 and row["Last status"] == "Success" and row["Last output"] == "goodbye world"


def test_stop_resume_remove_init_and_run(node: Node) -> None:
    node.execute("n = 0")
    node.execute('schedule time = 0.1 seconds and name = "inc" task n = incr !n')
    node.execute("run scheduler 1")
    wait_until(lambda: counter(node, "n") >= 2)
    assert node.execute('task stop where scheduler = 1 and name = "inc"').to_text() == \
        "task 'inc' of scheduler 1 stopped"
    time.sleep(0.15)  # a run in progress ends
    stopped_at = counter(node, "n")
    time.sleep(0.4)
    assert counter(node, "n") == stopped_at and task_row(node, "inc")["Mode"] == "Stopped"
    node.execute("task resume where id = 1")
    wait_until(lambda: counter(node, "n") >= stopped_at + 2)
    reply = node.execute('task init where name = "inc" and start +1h').to_text()  # AnyLog's doc form
    assert reply.startswith("task 'inc' of scheduler 1 starts at ")
    time.sleep(0.15)
    paused_at = counter(node, "n")
    time.sleep(0.4)
    assert counter(node, "n") == paused_at and task_row(node, "inc")["Mode"] == "Paused"
    runs = task_row(node, "inc")["Runs"]
    node.execute('task run where name = "inc"')  # by hand: now, once, counted
    assert counter(node, "n") == paused_at + 1 and task_row(node, "inc")["Runs"] == runs + 1
    assert node.execute("task remove where name = inc").to_text() == "task 'inc' removed from scheduler 1"
    assert node.execute("get scheduler 1").rows == ()


def test_a_failing_task_keeps_the_others_running(node: Node) -> None:
    node.execute("ok = 0")
    node.execute('schedule time = 0.1 seconds and name = "broken" task sql nosuchdb "select 1"')
    node.execute('schedule time = 0.1 seconds and name = "fine" task ok = incr !ok')
    node.execute("run scheduler")
    wait_until(lambda: counter(node, "ok") >= 5 and task_row(node, "broken")["Runs"] >= 5)
    broken = settled_row(node, "broken")
    assert broken["Mode"] == "Active" and broken["Failures"] >= broken["Runs"] - 1 >= 4
    assert broken["Last status"].startswith("Failed: ") and "nosuchdb" in broken["Last status"]
    assert settled_row(node, "fine")["Last status"] == "Success"
    assert node.services.status("Scheduler").state == "Running"


def test_a_hanging_task_past_its_soft_timeout_is_reported_and_does_not_block_the_next(one_worker: Node) -> None:
    node = one_worker
    node.execute("ok = 0")
    # A command that does not stop when asked (`wait`, `sql` and `run client` do): `blockchain wait`, for 5 s.
    node.execute('schedule time = 0.1 seconds and name = "hang" and soft_timeout = 0.3 seconds '
                 "task blockchain wait where id = never-inserted and timeout = 5 seconds")
    node.execute('schedule time = 0.1 seconds and name = "next" task ok = incr !ok')
    node.execute("run scheduler")
    row = wait_until(lambda: (r := task_row(node, "hang"))["Last status"].startswith("Over its soft timeout")
                     and r)
    assert row["Runs"] == 1 and row["Over soft timeout"] == 1
    before = counter(node, "ok")
    wait_until(lambda: counter(node, "ok") >= before + 5)  # the one worker is stuck: a stand-in runs the others
    assert task_row(node, "hang")["Runs"] == 1  # and the hanging task is not started over itself
    warnings = node.execute("get error log").to_text()
    assert "task 'hang' of scheduler 1 is over its soft timeout of 0.3s" in warnings
    row = wait_until(lambda: (r := task_row(node, "hang"))["Runs"] >= 2 and r)  # once it ends (5 s), it runs again
    assert task_row(node, "hang")["Over soft timeout"] >= 1


def test_exit_scheduler_stops_at_once_though_the_next_run_is_an_hour_away_and_run_scheduler_works_again(
        node: Node) -> None:
    node.execute("n = 0")
    node.execute('schedule time = 1 hour and name = "hourly" task n = incr !n')
    node.execute("run scheduler")
    wait_until(lambda: counter(node, "n") == 1)
    started = time.monotonic()
    assert node.execute("exit scheduler").to_text() == "scheduler 1 stopped"
    assert time.monotonic() - started < 1.0
    assert node.services.status("Scheduler").state == "Stopped"
    assert node.execute("get scheduler 1").title == "Scheduler 1: Not running"
    with pytest.raises(ServiceError, match="no user scheduler is running"):
        node.execute("exit scheduler")
    node.execute('schedule time = 0.1 seconds and name = "fast" task n = incr !n')
    assert node.execute("run scheduler").to_text() == "scheduler 1 running: 2 task(s)"
    wait_until(lambda: counter(node, "n") >= 4)
    assert task_row(node, "hourly")["Runs"] == 1  # still an hour away: its schedule was kept
    with pytest.raises(AlreadyRunning, match="scheduler 1 is already running"):
        node.execute("run scheduler 1")


def test_several_user_schedulers_stop_one_at_a_time(node: Node) -> None:
    node.execute("a = 0")
    node.execute("b = 0")
    node.execute("schedule time = 0.1 seconds and name = a task a = incr !a")
    node.execute("schedule time = 0.1 seconds and scheduler = 2 and name = b task b = incr !b")
    node.execute("run scheduler 1")
    node.execute("run scheduler 2")
    details = node.services.status("Scheduler").details
    assert details.startswith("Schedulers IDs in use: [1 (user)] [2]; 2 task(s)")
    wait_until(lambda: counter(node, "b") >= 2)
    assert node.execute("exit scheduler 2").to_text() == "scheduler 2 stopped"
    time.sleep(0.15)
    b = counter(node, "b")
    a = counter(node, "a")
    time.sleep(0.4)
    assert counter(node, "b") == b and counter(node, "a") > a
    assert node.execute("exit scheduler").to_text() == "scheduler 1 stopped"


def test_schedule_and_task_errors_say_what_would_be_right(node: Node) -> None:
    with pytest.raises(CommandSyntaxError, match="needs 'task <command>'"):
        node.execute("schedule time = 1 minute and name = x")
    with pytest.raises(CommandSyntaxError, match="needs option 'time'"):
        node.execute("schedule name = x task echo hi")
    with pytest.raises(CommandSyntaxError, match="more than 0 seconds"):
        node.execute("schedule time = 0 seconds task echo hi")
    with pytest.raises(CommandNotFound) as err:
        node.execute("schedule time = 1 minute task get processs")
    assert "did you mean" in err.value.one_line()
    with pytest.raises(CommandSyntaxError, match="unknown option 'nme'"):
        node.execute("schedule time = 1 minute and nme = x task echo hi")
    node.execute('schedule time = 1 minute and name = "dup" task echo hi')
    with pytest.raises(CommandSyntaxError, match="has a task named 'dup' already"):
        node.execute('schedule time = 5 minutes and name = "dup" task echo again')
    with pytest.raises(CommandSyntaxError, match="no task named 'nope'") as err:
        node.execute("task stop where name = nope")
    assert "its tasks: 1 (dup)" in err.value.one_line()
    with pytest.raises(CommandSyntaxError, match="give name = <task name> or id = <task id>"):
        node.execute("task run")
    with pytest.raises(CommandSyntaxError, match="not a start time"):
        node.execute("task init where name = dup and start = someday")
    with pytest.raises(ServiceError, match="scheduler 3 is not running"):
        node.execute("exit scheduler 3")


def test_anylog_lines_run_unmodified(node: Node) -> None:
    node.execute("local_scripts = /tmp")
    node.execute('schedule time = 1 day and name = "Sync Devices" and start = "start of day" task process '
                 "!local_scripts/sync.al")
    node.execute("schedule name=nightly and time=1 day and task get status")
    node.execute('if 1 == 1 then schedule time=1 hour and name="Drop" task echo drop')
    names = [t["Name"] for t in node.execute("get scheduler 1 where format = json").to_json()[0]["Tasks"]]
    assert names == ["Sync Devices", "nightly", "Drop"]
    sync = task_row(node, "Sync Devices")
    assert sync["Start time"].endswith("00:00:00") and sync["Task"] == "process !local_scripts/sync.al"


def test_a_scheduled_query_with_time_previous_and_current_reads_only_what_arrived_since(node: Node) -> None:
    from datetime import datetime, timedelta, timezone

    def utc(seconds_ago: float) -> str:
        return (datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%d %H:%M:%S.%f")

    node.execute("connect dbms demo where type = sqlite")
    node.execute('sql demo "create table readings (v int, ts text)"')
    node.execute(f"sql demo \"insert into readings values (1, '{utc(3600)}'), (2, '{utc(10)}')\"")
    node.execute('schedule time = 1 minute and name = "since" task sql demo format = json and stat = false '
                 '"select sum(v) as total from readings where ts >= TIME(PREVIOUS) and ts < TIME(CURRENT)"')
    first = node.execute('task run where name = "since"').to_json()
    assert first == {"Query": [{"total": 2}]}  # the first window is one period: the row of an hour ago is out
    node.execute(f"sql demo \"insert into readings values (30, '{utc(0)}')\"")
    time.sleep(0.01)
    assert node.execute('task run where name = "since"').to_json() == {"Query": [{"total": 30}]}
    assert node.execute('task run where name = "since"').to_json() == {"Query": [{"total": None}]}
