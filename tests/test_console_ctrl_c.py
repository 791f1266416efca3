"""Ctrl-C at the prompt cancels the command that runs and never stops the node (issue 10, defect 1).

Real pseudo-terminals (pexpect): the node is started as scripts/start does
(``anynode -i -e "process <script>"``) with TCP and REST up, then a long
command is interrupted.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import pytest

from anynode.node import Node
from tests.console_helpers import LONG_SQL, SERVICES_SCRIPT, elapsed_until, spawn
from tests.helpers import wait_until
from tests.scheduler_helpers import task_row

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
        child.sendline("echo still !node_name")
        child.expect_exact("still ctrlc")  # the output: the typed line reads !node_name
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
        child.sendline("echo after !node_name")
        child.expect_exact("after ctrlc")
        assert "never" not in str(child.before)
        child.expect_exact(PROMPT)
        child.sendline("exit node")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_ctrl_c_cancels_a_long_postgresql_query(tmp_path: Path) -> None:
    from anynode.store.catalog import DatabaseCatalog
    from anynode.store.pg_backend import PostgresBackend
    from tests.data_helpers import pg_settings

    pg = pg_settings()
    name = f"cc_{uuid.uuid4().hex[:10]}"
    child = spawn(tmp_path / "home", "-e", "set node name ctrlc", "-i")
    try:
        child.expect_exact(PROMPT)
        child.sendline(f"connect dbms {name} where type = psql and user = {pg['user']} and password = {pg['password']} "
                       f"and ip = {pg['host']} and port = {pg['port']}")
        child.expect_exact("connected")
        child.expect_exact(PROMPT)
        child.sendline(f'sql {name} "SELECT pg_sleep(30)"')
        time.sleep(0.8)
        sent = time.monotonic()
        child.sendcontrol("c")
        took = elapsed_until(child, "(Ctrl-C); the node and its services keep running", sent)
        child.expect_exact(PROMPT)
        assert took < 1.0, f"Ctrl-C took {took:.2f} s to cancel the PostgreSQL query"
        child.sendline(f'sql {name} "SELECT 41 + 1 AS answer"')
        child.expect_exact("42")
        child.sendline("exit node")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
        catalog = DatabaseCatalog(tmp_path / "cleanup")
        try:
            catalog.connect(name, "psql", **pg)
            backend = catalog.get(name).backend
            catalog.disconnect(name)
            assert isinstance(backend, PostgresBackend)
            backend.drop_database()
        finally:
            catalog.close()


def test_a_scheduled_wait_stops_at_its_soft_timeout(node: Node) -> None:
    """`wait` honours the cancel token: the scheduler's soft timeout now ends it (it used to run on)."""
    node.execute('schedule time = 1 hour and name = "long wait" and soft_timeout = 0.3 seconds task wait 30')
    node.execute("run scheduler")
    try:
        row = wait_until(lambda: (r := task_row(node, "long wait"))["Last status"].startswith("Failed") and r, 10)
        assert "wait cancelled: task over its soft timeout of 0.3s" in row["Last status"]
    finally:
        node.execute("exit scheduler")
