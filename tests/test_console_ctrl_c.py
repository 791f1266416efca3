"""Ctrl-C at the prompt cancels the command that runs and never stops the node (issue 10, defect 1).

Real pseudo-terminals (pexpect): the node is started as scripts/start does
(``anynode -i -e "process <script>"``) with TCP and REST up, then a long
command is interrupted.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.console_helpers import LONG_SQL, SERVICES_SCRIPT, elapsed_until, spawn

pexpect = pytest.importorskip("pexpect")

PROMPT = "AN ctrlc >"


def _running(child: object) -> list[str]:
    """Ask the node for its processes; the names of those Running."""
    child.sendline("get processes")  # type: ignore[attr-defined]
    child.expect_exact("Housekeeping")  # type: ignore[attr-defined]
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", str(child.before))  # type: ignore[attr-defined]
    child.expect_exact(PROMPT)  # type: ignore[attr-defined]
    return re.findall(r"(\w+)\s*│\s*Running", text)


def test_ctrl_c_cancels_wait_and_a_long_sqlite_query_and_every_service_stays_up(tmp_path: Path) -> None:
    script = tmp_path / "node.al"
    script.write_text(SERVICES_SCRIPT.format(name="ctrlc"))
    child = spawn(tmp_path / "home", "-i", "-e", f"process {script}")
    try:
        child.expect_exact(PROMPT)
        child.sendline("wait 30")
        time.sleep(0.6)
        sent = time.monotonic()
        child.sendcontrol("c")
        took = elapsed_until(child, "cancelled: wait 30 (Ctrl-C)", sent)
        child.expect_exact(PROMPT)
        assert took < 1.0, f"Ctrl-C took {took:.2f} s to cancel 'wait 30'"

        child.sendline(LONG_SQL)
        time.sleep(0.8)
        sent = time.monotonic()
        child.sendcontrol("c")
        took = elapsed_until(child, "(Ctrl-C); the node and its services keep running", sent)
        child.expect_exact(PROMPT)
        assert took < 1.0, f"Ctrl-C took {took:.2f} s to cancel the query"

        running = _running(child)
        assert {"TCP", "REST", "Console"} <= set(running), running
        child.sendline("get status")
        child.expect_exact("ctrlc@")
        child.expect_exact("running")
        child.sendline("exit node")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_ctrl_c_at_an_empty_prompt_keeps_the_node_and_ctrl_d_ends_it(tmp_path: Path) -> None:
    child = spawn(tmp_path / "home", "-e", "set node name ctrlc", "-i")
    try:
        child.expect_exact(PROMPT)
        child.sendcontrol("c")
        child.sendline("echo still here")
        child.expect_exact("still here")
        child.expect_exact(PROMPT)
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_ctrl_c_in_a_script_run_at_the_prompt_stops_the_script_not_the_node(tmp_path: Path) -> None:
    script = tmp_path / "slow.al"
    script.write_text("echo first\nwait 30\necho never\n")
    child = spawn(tmp_path / "home", "-e", "set node name ctrlc", "-i")
    try:
        child.expect_exact(PROMPT)
        child.sendline(f"process {script}")
        child.expect_exact("first")
        time.sleep(0.3)
        sent = time.monotonic()
        child.sendcontrol("c")
        took = elapsed_until(child, f"cancelled: process {script}", sent)
        assert took < 1.0
        child.expect_exact(PROMPT)
        child.sendline("echo after")
        child.expect_exact("after")
        assert "never" not in str(child.before)
        child.sendline("exit node")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
