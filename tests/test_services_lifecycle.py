"""Signals: SIGTERM graceful stop in reverse order, second signal forces exit, SIGHUP reload."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from anynode import lifecycle
from anynode.logs import NodeLogs
from anynode.services.manager import ServiceManager
from anynode.settings import SETTINGS, Settings
from tests.svc_helpers import Sleepy, Stubborn, assert_no_anynode_threads

pytestmark = pytest.mark.timeout(30)
ROOT = Path(__file__).resolve().parent.parent


class Seen(logging.Handler):
    """Sets an event when a record containing ``text`` is logged."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


def test_sigterm_stops_services_in_reverse_order_then_calls_on_exit(manager: ServiceManager) -> None:
    order: list[str] = []
    for name in ("TCP", "REST", "Operator"):
        manager.start(Sleepy(name, on_stop=order.append))
    exits: list[int] = []
    previous = signal.getsignal(signal.SIGTERM)
    lc = lifecycle.install(manager, on_exit=exits.append, on_hup=lambda: None,
                           logger=logging.getLogger("test.lifecycle"), timeout=5)
    try:
        assert signal.getsignal(signal.SIGTERM) != previous
        os.kill(os.getpid(), signal.SIGTERM)
        assert lc.wait(5) == 0
        assert order == ["Operator", "REST", "TCP"]
        assert exits == [0]
        assert manager.running() == []
    finally:
        lc.close()
    assert signal.getsignal(signal.SIGTERM) == previous
    assert_no_anynode_threads()


def test_second_signal_while_stopping_forces_exit(manager: ServiceManager) -> None:
    stuck = Stubborn("Publisher")
    manager.start(stuck)
    forced: list[int] = []
    forced_event = threading.Event()

    def force(code: int) -> None:
        forced.append(code)
        forced_event.set()

    started = Seen("stopping services")
    logger = logging.getLogger("test.lifecycle.force")
    logger.setLevel(logging.INFO)
    logger.addHandler(started)
    lc = lifecycle.install(manager, on_exit=lambda code: None, on_hup=lambda: None, logger=logger, timeout=10,
                           force_exit=force)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        assert started.event.wait(5)
        assert not forced
        os.kill(os.getpid(), signal.SIGINT)
        assert forced_event.wait(5)
        assert forced == [130]
    finally:
        stuck.release.set()
        lc.wait(10)
        lc.close()
        logger.removeHandler(started)


def test_request_exit_takes_the_same_path_once(manager: ServiceManager) -> None:
    manager.start(Sleepy("Scheduler"))
    exits: list[int] = []
    lc = lifecycle.install(manager, on_exit=exits.append, on_hup=lambda: None, logger=logging.getLogger("t"))
    try:
        lc.request_exit("exit node")
        lc.request_exit("exit node")
        assert lc.wait(5) == 0
        assert exits == [0]
    finally:
        lc.close()


def test_shutdown_with_a_service_busy_past_the_deadline_exits_1(manager: ServiceManager) -> None:
    stuck = Stubborn("Publisher")
    manager.start(stuck)
    exits: list[int] = []
    lc = lifecycle.install(manager, on_exit=exits.append, on_hup=lambda: None, logger=logging.getLogger("t"),
                           timeout=0.2)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert lc.wait(5) == 1
        assert exits == [1]
    finally:
        stuck.release.set()
        lc.close()


def test_sighup_reopens_logs_and_reloads_only_valid_settings(tmp_path: Path, manager: ServiceManager) -> None:
    cfg = tmp_path / "anynode.cfg"
    cfg.write_text("log_level = INFO\n")
    logs = NodeLogs(tmp_path)
    holder = [Settings.load(tmp_path, env={})]
    reloaded = Seen("settings reloaded")
    refused = Seen("settings not reloaded")
    logs.logger.addHandler(reloaded)
    logs.logger.addHandler(refused)
    hup = lifecycle.reload_on_hup(logs, lambda: holder[0], lambda new: holder.__setitem__(0, new), logs.logger)
    lc = lifecycle.install(manager, on_exit=lambda code: None, on_hup=hup, logger=logs.logger)
    try:
        cfg.write_text("log_level = DEBUG\nnode_name = renamed\n")
        logs.root_path.rename(tmp_path / "logs" / "root.log.1")
        os.kill(os.getpid(), signal.SIGHUP)
        assert reloaded.event.wait(5)
        assert holder[0].log_level == "DEBUG"
        assert logs.logger.level == logging.DEBUG
        assert "log files reopened" in logs.root_path.read_text()  # a new root.log after the rename
        assert [e.text for e in logs.events.entries()][-1] == (
            "settings reloaded; changed: node_name, log_level; a restart is needed for: node_name")

        cfg.write_text("log_level = INFO\nlog_levl = ERROR\n")
        os.kill(os.getpid(), signal.SIGHUP)
        assert refused.event.wait(5)
        assert holder[0].log_level == "DEBUG"  # the old settings stay
        assert logs.errors.entries()[-1].text == (
            f"SIGHUP: settings not reloaded, keeping the old ones: {cfg}:2: unknown setting 'log_levl' "
            "(did you mean 'log_level'? valid settings: " + ", ".join(s.name for s in SETTINGS) + ")")
    finally:
        lc.close()
        logs.close()


CHILD = """
import logging, sys, threading
from anynode import lifecycle
from anynode.services.manager import ServiceManager
from tests.svc_helpers import Sleepy, Stubborn

logging.basicConfig(level=logging.INFO, stream=sys.stderr)
manager = ServiceManager()
say = lambda name: print("stopped", name, flush=True)
for name in ("TCP", "REST", "Scheduler"):
    manager.start(Sleepy(name, on_stop=say))
if sys.argv[1] == "stuck":
    manager.start(Stubborn("Publisher"))
lc = lifecycle.install(manager, on_exit=lambda code: print("on_exit", code, flush=True), on_hup=lambda: None,
                       logger=logging.getLogger("node"), timeout=20)
print("ready", flush=True)
code = lc.wait()
lc.close()
sys.exit(code)
"""


def run_child(mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, mode], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.slow
def test_real_process_exits_0_on_sigterm_after_an_ordered_stop() -> None:
    proc = run_child("normal")
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert time.monotonic() - began < 3
    assert out.splitlines() == ["stopped Scheduler", "stopped REST", "stopped TCP", "on_exit 0"]


@pytest.mark.slow
def test_real_process_second_sigterm_forces_exit_143() -> None:
    proc = run_child("stuck")
    assert proc.stderr is not None
    proc.send_signal(signal.SIGTERM)
    for line in proc.stderr:  # wait until the shutdown started
        if "stopping services" in line:
            break
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 143
    assert time.monotonic() - began < 3
    assert "received again while stopping: exiting now with code 143" in err
    assert "on_exit" not in out
