"""One shutdown path: `exit node`, SIGTERM and SIGINT stop a real node process the same way, and a
service that will not stop is reported the same way (logged, exit status 1), within one deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 0.5  # shutdown_timeout of the node under test

# The real CLI in a real process, with one extra command that starts a service ignoring its stop event.
CHILD = """
import sys
import anynode.assembly
from anynode.cli import main
from anynode.grammar.registry import command
from anynode.results import Message
from tests.svc_helpers import Stubborn


@command("start stubborn", examples=["start stubborn"])
def start_stubborn(ctx):
    \"\"\"Start a service that does not stop when asked (for the shutdown tests).\"\"\"
    ctx.node.services.start(Stubborn("Stubborn"))
    return Message("stubborn running")


sys.argv = ["anynode", *sys.argv[1:]]
main()
"""


def _start(home: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, ANYNODE_HOME=str(home), ANYNODE_SHUTDOWN_TIMEOUT=str(DEADLINE),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", CHILD, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_line(proc: subprocess.Popen[str], text: str) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if text in line:
            return
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"the node never printed {text!r}: {proc.stderr.read() if proc.stderr else ''}")


def _log(home: Path) -> str:
    return (home / "logs" / "root.log").read_text()


@pytest.mark.parametrize("how", ["exit node", "SIGTERM", "SIGINT"])
def test_a_stuck_service_is_reported_the_same_way_however_the_node_is_stopped(tmp_path: Path, how: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    script = home / "start.al"
    lines = ["run tcp server where internal_ip = 127.0.0.1 and internal_port = 0 and bind = true", "start stubborn",
             "echo started"] + (["exit node"] if how == "exit node" else [])
    script.write_text("\n".join(lines) + "\n")
    proc = _start(home, "process", str(script))
    try:
        _wait_for_line(proc, "started")
        began = time.monotonic()
        if how != "exit node":
            proc.send_signal(getattr(signal, how))
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 1, err
    assert time.monotonic() - began < 3 * DEADLINE + 2.5, "the deadline holds once, not once per stop"
    log = _log(home)
    assert f"{how} received: stopping services" in log if how != "exit node" else "exit node: stopping services" in log
    after = log.split("stopping services (deadline")[1]
    assert "TCP stopped" in after
    assert after.count("services still busy at the shutdown deadline: Stubborn") == 1
    assert "stopped: TCP" in err  # what stopped is said on stderr, whatever stopped the node


def test_exit_node_with_every_service_stopping_exits_zero_and_says_what_stopped(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    script = home / "start.al"
    script.write_text("run tcp server where internal_ip = 127.0.0.1 and internal_port = 0 and bind = true\n"
                      "exit node\n")
    proc = _start(home, "process", str(script))
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "exit node: stopping services" in _log(home)
    assert "stopped: TCP" in err


def test_one_shot_commands_report_a_stuck_service_as_a_script_does(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = _start(home, "-e", "start stubborn", "-e", "exit node")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1, err
    assert "stubborn running" in out
    assert "services still busy at the shutdown deadline: Stubborn" in _log(home)
