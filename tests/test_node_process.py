"""`anynode process FILE` as a real, long-running node: peers, SIGTERM, SIGHUP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sync_helpers import NodeProcess

SCRIPT = """set node name {name}
run tcp server where internal_ip = 127.0.0.1 and internal_port = 0 and bind = true
"""


@pytest.fixture
def node_proc(tmp_path: Path) -> Iterator[NodeProcess]:
    n = NodeProcess(tmp_path / "b", SCRIPT.format(name="procb"))
    yield n
    n.kill()


def ask(address: str, command: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANYNODE_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "anynode", "--format", "json", "-e",
                           f"run client ({address}) {command}"], env=env, capture_output=True, text=True, timeout=30)


def test_process_node_answers_a_peer_in_another_process(node_proc: NodeProcess, tmp_path: Path) -> None:
    out = ask(node_proc.address, "get processes where format = json", tmp_path / "a")
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)[node_proc.address]
    assert reply["TCP"]["Status"] == "Running"
    assert reply["REST"]["Status"] == "Not declared"


def test_sigterm_stops_services_and_exits_zero_within_five_seconds(node_proc: NodeProcess) -> None:
    started = time.monotonic()
    node_proc.proc.send_signal(signal.SIGTERM)
    code = node_proc.proc.wait(10)
    assert time.monotonic() - started < 5
    assert code == 0
    log = (node_proc.home / "logs" / "root.log").read_text()
    assert "SIGTERM received: stopping services" in log
    assert "TCP stopped" in log.split("SIGTERM received")[1]


def test_sighup_keeps_old_settings_when_the_file_is_broken(node_proc: NodeProcess, tmp_path: Path) -> None:
    cfg = node_proc.home / "anynode.cfg"
    cfg.write_text("stats_interval = banana\n")
    node_proc.proc.send_signal(signal.SIGHUP)
    log = node_proc.home / "logs" / "root.log"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "banana" not in log.read_text():
        time.sleep(0.05)
    assert "settings not reloaded, keeping the old ones" in log.read_text()
    out = ask(node_proc.address, "get settings where format = json", tmp_path / "a")
    assert out.returncode == 0, out.stderr
    settings = json.loads(out.stdout)[node_proc.address]
    assert settings["stats_interval"] == {"value": 30.0, "source": "default"}

    cfg.write_text("stats_interval = 45\n")
    node_proc.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = ask(node_proc.address, "get settings where format = json", tmp_path / "a")
        assert out.returncode == 0, out.stderr
        settings = json.loads(out.stdout)[node_proc.address]
        if settings["stats_interval"]["value"] == 45.0:
            break
    assert settings["stats_interval"]["value"] == 45.0
    assert "anynode.cfg" in settings["stats_interval"]["source"]
    assert node_proc.proc.poll() is None
