"""Attached to a running node: Ctrl-C in the client, the attached prompt, `anynode status` and `anynode stop`.

One node is started with ``anynode process`` (as under systemd or in a
container) and every client here is a separate ``anynode`` process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console_helpers import cli, elapsed_until, held_home, spawn

pexpect = pytest.importorskip("pexpect")


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The home of a node started with `anynode process`, named held1, with TCP and REST."""
    with held_home(tmp_path_factory.mktemp("attach")) as (home, _proc):
        yield home


def test_status_names_the_running_node_and_says_when_none_runs(held: Path, tmp_path: Path) -> None:
    out = cli(held, "status")
    assert out.returncode == 0
    assert "node held1 is running" in out.stdout and "REST" in out.stdout
    empty = cli(tmp_path / "nothing", "status")
    assert empty.returncode == 3
    assert "no node is running" in empty.stdout


def test_ctrl_c_in_an_attached_client_cancels_on_the_node_which_keeps_running(held: Path) -> None:
    child = spawn(held, "-e", "wait 30")
    try:
        child.expect_exact("wait 30: running")  # the busy line: the node runs it
        sent = time.monotonic()
        child.sendcontrol("c")
        took = elapsed_until(child, "cancelled: wait 30 (Ctrl-C)", sent)
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert took < 1.0
    assert child.exitstatus == 130
    assert cli(held, "-e", "get status").stdout.startswith("held1@")


def test_an_attached_prompt_runs_lines_on_the_node_and_ctrl_d_detaches(held: Path) -> None:
    child = spawn(held)
    try:
        child.expect_exact("attached to node held1")
        child.expect_exact("AN held1 >")
        child.sendline("get status")
        child.expect_exact("held1@")
        child.sendline("wait 30")
        time.sleep(0.5)
        sent = time.monotonic()
        child.sendcontrol("c")
        assert elapsed_until(child, "cancelled: wait 30", sent) < 1.0
        child.expect_exact("AN held1 >")
        child.sendcontrol("d")
        child.expect_exact("the node keeps running")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert cli(held, "-e", "get status").returncode == 0


def test_stop_ends_the_node_and_frees_the_home(tmp_path: Path) -> None:
    with held_home(tmp_path, name="stopme") as (home, proc):
        out = cli(home, "stop")
        assert out.returncode == 0, out.stderr
        assert "node stopped" in out.stdout
        assert proc.wait(timeout=5) == 0
        assert cli(home, "status").returncode == 3
        again = cli(home, "stop")
        assert again.returncode == 3
        assert not (home / "run" / "console.sock").exists()
