"""ServiceManager: start/ready, start errors, crash/restart/give up, prompt stop, order."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest

from anynode.errors import AlreadyRunning, ConfigError, ServiceError
from anynode.services.base import RestartPolicy, Service
from anynode.services.manager import SERVICE_NAMES, ServiceManager
from tests.svc_helpers import (
    FAST,
    Crashy,
    FailsToStart,
    NeverReady,
    Sleepy,
    Stubborn,
    anynode_threads,
    assert_no_anynode_threads,
)

pytestmark = pytest.mark.timeout(20)


def test_start_returns_running_status_with_details(manager: ServiceManager) -> None:
    status = manager.start(Sleepy("scheduler"))
    assert status.name == "Scheduler"  # the known spelling, whatever case was used
    assert status.state == "Running"
    assert status.details == "every 3600s, ticks 0"
    assert status.started_at is not None
    assert manager.running() == ["Scheduler"]
    assert [t.name for t in anynode_threads()] == ["anynode:scheduler"]


def test_thread_name_lowercases_and_dashes(manager: ServiceManager) -> None:
    manager.start(Sleepy("Blockchain Sync"))
    assert "anynode:blockchain-sync" in [t.name for t in anynode_threads()]
    assert manager.status("BLOCKCHAIN SYNC").state == "Running"
    assert manager.get("blockchain sync") is not None


def test_statuses_list_every_known_service_then_others(manager: ServiceManager) -> None:
    manager.start(Sleepy("Housekeeping"))
    manager.start(Sleepy("TCP"))
    rows = manager.statuses()
    assert [r.name for r in rows] == list(SERVICE_NAMES) + ["Housekeeping"]
    by_name = {r.name: r for r in rows}
    assert by_name["TCP"].state == "Running"
    assert by_name["REST"].state == "Not declared"
    assert by_name["REST"].details == ""


def test_second_start_is_already_running(manager: ServiceManager) -> None:
    manager.start(Sleepy("TCP"))
    with pytest.raises(AlreadyRunning) as info:
        manager.start(Sleepy("tcp"))
    assert info.value.message == "TCP is already running"
    assert info.value.anylog_code == 136


def test_start_failure_is_reported_with_the_underlying_message(manager: ServiceManager) -> None:
    with pytest.raises(ServiceError) as info:
        manager.start(FailsToStart("REST"))
    assert str(info.value) == "REST failed to start: OSError: [Errno 98] Address already in use: 127.0.0.1:32149"
    assert "\n" not in info.value.one_line()
    status = manager.status("rest")
    assert status.state == "Failed"
    assert status.details.startswith("start failed: OSError")
    assert manager.running() == []
    # It can be started again once the cause is gone.
    assert manager.start(Sleepy("REST")).state == "Running"


def test_start_timeout_is_a_service_error_and_the_thread_ends(manager: ServiceManager) -> None:
    began = time.monotonic()
    with pytest.raises(ServiceError, match="HA failed to start: not ready within 0.2s"):
        manager.start(NeverReady("HA"), timeout=0.2)
    assert time.monotonic() - began < 2
    assert manager.status("HA").state == "Failed"
    assert_no_anynode_threads()


def test_stop_is_prompt_for_a_service_waiting_an_hour(manager: ServiceManager) -> None:
    manager.start(Sleepy("Scheduler", interval=3600))
    began = time.monotonic()
    status = manager.stop("scheduler", timeout=1.0)
    assert time.monotonic() - began < 1.0
    assert status.state == "Stopped"
    assert manager.running() == []
    assert_no_anynode_threads(grace=0)


def test_stop_of_a_service_not_running_says_so(manager: ServiceManager) -> None:
    with pytest.raises(ServiceError, match=r"Operator is not running \(state: Not declared\)"):
        manager.stop("operator")
    with pytest.raises(ServiceError, match="no service named 'nosuch'"):
        manager.status("nosuch")


def test_stop_that_times_out_says_so_and_shows_stopping(manager: ServiceManager) -> None:
    svc = Stubborn("Publisher")
    manager.start(svc)
    with pytest.raises(ServiceError, match="Publisher did not stop within 0.1s"):
        manager.stop("publisher", timeout=0.1)
    assert manager.status("Publisher").state == "Stopping"
    assert "Publisher" not in manager.running()
    with pytest.raises(AlreadyRunning, match="Publisher is still stopping"):
        manager.start(Stubborn("Publisher"))
    svc.release.set()
    assert manager.wait_for("Publisher", {"Stopped"}, timeout=2).state == "Stopped"


def test_stop_all_stops_in_reverse_start_order(manager: ServiceManager) -> None:
    order: list[str] = []
    lock = threading.Lock()

    def record(name: str) -> None:
        with lock:
            order.append(name)

    for name in ("TCP", "REST", "Operator", "Scheduler"):
        manager.start(Sleepy(name, on_stop=record))
    began = time.monotonic()
    stopped = manager.stop_all(timeout=5)
    assert time.monotonic() - began < 1
    assert stopped == ["Scheduler", "Operator", "REST", "TCP"]
    assert order == ["Scheduler", "Operator", "REST", "TCP"]
    assert {s.state for s in manager.statuses() if s.name in stopped} == {"Stopped"}


def test_stop_all_keeps_a_total_deadline_and_still_stops_the_others(manager: ServiceManager) -> None:
    stuck = Stubborn("Publisher")
    manager.start(Sleepy("TCP"))
    manager.start(stuck)
    began = time.monotonic()
    stopped = manager.stop_all(timeout=0.3)
    assert time.monotonic() - began < 1.5
    assert stopped == ["TCP"]  # the stuck one is reported by omission, the next one still stopped
    assert manager.status("Publisher").state == "Stopping"
    stuck.release.set()
    manager.wait_for("Publisher", {"Stopped"}, timeout=2)


def test_crash_then_restart_then_healthy(manager: ServiceManager) -> None:
    svc = Crashy("Operator", heal_after=2)
    manager.start(svc)
    status = manager.wait_for("Operator", {"Running"}, timeout=5)
    # Runs 1 and 2 crashed; run 3 serves. Wait until the third run is ready.
    deadline = time.monotonic() + 5
    while manager.status("Operator").restarts < 2 and time.monotonic() < deadline:
        manager.wait_for("Operator", {"Restarting"}, timeout=0.2)
    status = manager.wait_for("Operator", {"Running"}, timeout=5)
    assert status.state == "Running"
    assert status.restarts == 2
    assert status.last_error == "RuntimeError: disk full on run 2"
    assert svc.runs == 3


def test_crash_shows_restarting_with_backoff_details() -> None:
    slow = RestartPolicy(backoff=30, max_backoff=60, give_up_after=5, window=60)
    m = ServiceManager()
    try:
        m.start(Crashy("Operator", policy=slow))
        status = m.wait_for("Operator", {"Restarting"}, timeout=5)
        assert status.state == "Restarting"
        assert status.details == ("restart in 30s (failure 1 of 5 within 60s): RuntimeError: disk full on run 1")
        assert status.policy == "restart, backoff 30-60s, give up after 5 in 60s"
        began = time.monotonic()
        assert m.stop("Operator", timeout=1).state == "Stopped"  # the 30 s backoff is interrupted
        assert time.monotonic() - began < 1
    finally:
        m.stop_all(1)
    assert_no_anynode_threads()


def test_gives_up_after_repeated_quick_failures(manager: ServiceManager, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="test.manager")
    svc = Crashy("Operator", policy=FAST)
    manager.start(svc)
    status = manager.wait_for("Operator", {"Failed"}, timeout=5)
    assert status.state == "Failed"
    assert status.details == "gave up after 3 failures within 60s; last: RuntimeError: disk full on run 3"
    assert status.restarts == 2
    assert svc.runs == 3
    assert manager.running() == []
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 3 and "disk full" in caplog.text
    assert_no_anynode_threads()


def test_no_restart_policy_leaves_it_crashed() -> None:
    m = ServiceManager()
    try:
        m.start(Crashy("HA", policy=RestartPolicy(restart=False)))
        status = m.wait_for("HA", {"Crashed"}, timeout=5)
        assert status.details == "crashed: RuntimeError: disk full on run 1"
        assert status.policy == "no restart"
        assert_no_anynode_threads()
    finally:
        m.stop_all(1)


def test_configuration_error_is_not_restarted(manager: ServiceManager) -> None:
    svc = Crashy("Publisher", error=ConfigError("unknown destination 'x'"))
    manager.start(svc)
    status = manager.wait_for("Publisher", {"Failed"}, timeout=5)
    assert status.details.startswith("gave up: configuration error")
    assert svc.runs == 1


def test_failures_outside_the_window_do_not_count() -> None:
    now = [1000.0]
    policy = RestartPolicy(backoff=0.01, max_backoff=0.01, give_up_after=2, window=10)
    m = ServiceManager(clock=lambda: now[0])
    svc = Crashy("Operator", policy=policy, crash_at_once=False)
    try:
        m.start(svc)
        for run in (1, 2, 3):
            svc.crash.set()
            m.wait_for("Operator", {"Restarting"}, timeout=5)
            svc.crash.clear()
            now[0] += 60  # each crash happens a minute after the previous one
            assert m.wait_for("Operator", {"Running"}, timeout=5).restarts == run
    finally:
        m.stop_all(2)
    assert svc.runs == 4


def test_wake_is_called_on_stop(manager: ServiceManager) -> None:
    class Queue(Service):
        name = "Operator"

        def __init__(self) -> None:
            self.item = threading.Event()

        def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
            ready()
            while not stop.is_set():
                self.item.wait()  # waits on something else than stop

        def wake(self) -> None:
            self.item.set()

    manager.start(Queue())
    assert manager.stop("operator", timeout=1).state == "Stopped"


def test_run_returning_by_itself_is_stopped_not_restarted(manager: ServiceManager) -> None:
    class Once(Service):
        name = "Scheduler"

        def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
            ready()

    manager.start(Once())
    status = manager.wait_for("Scheduler", {"Stopped"}, timeout=2)
    assert status.details == "run() returned by itself"


def test_get_processes_picture_with_every_state() -> None:
    m = ServiceManager(known=("TCP", "REST", "Operator", "Publisher", "Blockchain Sync", "Scheduler", "HA"))
    try:
        m.start(Sleepy("TCP"))
        with pytest.raises(ServiceError):
            m.start(FailsToStart("REST"))
        m.start(Crashy("Operator", policy=RestartPolicy(backoff=30, max_backoff=30, give_up_after=5, window=60)))
        m.start(Sleepy("Publisher"))
        m.stop("Publisher")
        m.start(Crashy("HA", policy=RestartPolicy(restart=False)))
        m.wait_for("Operator", {"Restarting"}, timeout=5)
        m.wait_for("HA", {"Crashed"}, timeout=5)
        picture = {s.name: (s.state, s.details) for s in m.statuses()}
        assert picture == {
            "TCP": ("Running", "every 3600s, ticks 0"),
            "REST": ("Failed", "start failed: OSError: [Errno 98] Address already in use: 127.0.0.1:32149"),
            "Operator": ("Restarting", "restart in 30s (failure 1 of 5 within 60s): RuntimeError: disk full on run 1"),
            "Publisher": ("Stopped", ""),
            "Blockchain Sync": ("Not declared", ""),
            "Scheduler": ("Not declared", ""),
            "HA": ("Crashed", "crashed: RuntimeError: disk full on run 1"),
        }
        assert m.running() == ["TCP", "Operator"]  # Restarting still counts: its thread waits to run again
    finally:
        assert sorted(m.stop_all(2)) == ["Operator", "TCP"]
    assert_no_anynode_threads()
