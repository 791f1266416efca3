"""`anynode` on a home held by a running node attaches to it (issue 10, defect 2).

One node is started with ``anynode process`` (as under systemd or in a
container) and every client here is a separate ``anynode`` process.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console_helpers import ANYNODE, cli, env, held_home

pexpect = pytest.importorskip("pexpect")


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The home of a node started with `anynode process`, named held1, with TCP and REST."""
    with held_home(tmp_path_factory.mktemp("attach")) as (home, _proc):
        yield home


def test_execute_against_a_held_home_answers_from_the_running_node(held: Path) -> None:
    out = cli(held, "-e", "get status")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("held1@") and "running" in out.stdout
    processes = cli(held, "-e", "get processes", "--format", "json")
    assert processes.returncode == 0, processes.stderr
    rows = json.loads(processes.stdout)
    items = rows.items() if isinstance(rows, dict) else ((row["Process"], row) for row in rows)
    running = {name for name, row in items if row["Status"] == "Running"}
    assert {"TCP", "REST", "Console"} <= running


def test_variables_set_through_the_console_live_in_the_running_node(held: Path) -> None:
    assert cli(held, "-e", "console_marker = 42").returncode == 0
    out = cli(held, "-e", "!console_marker")
    assert out.stdout.strip() == "42"


def test_errors_come_back_with_their_exit_code_and_the_node_stays(held: Path) -> None:
    out = cli(held, "-e", "get proceses")
    assert out.returncode == 1  # its AnyLog code, as a REST client gets it (errors.exit_status)
    assert "unknown command" in out.stderr and out.stdout == ""
    assert cli(held, "-e", "get status").returncode == 0


def test_a_pipe_attaches_and_runs_every_line(held: Path) -> None:
    out = cli(held, stdin="echo one\n# a comment\necho two\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["one", "two"]


def test_process_on_a_held_home_still_fails_and_says_how_to_reach_the_node(held: Path, tmp_path: Path) -> None:
    script = tmp_path / "x.al"
    script.write_text("echo x\n")
    out = cli(held, "process", str(script))
    assert out.returncode == 75
    assert "is in use by process" in out.stderr


def test_a_script_run_through_the_console_streams_each_line_back_as_it_runs(held: Path, tmp_path: Path) -> None:
    script = tmp_path / "steps.al"
    script.write_text("echo step one\nwait 1\necho step two\n")
    proc = subprocess.Popen([*ANYNODE, "-e", f"process {script}"], stdout=subprocess.PIPE, text=True, env=env(held))
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "step one\n"
        first = time.monotonic()
        assert proc.stdout.readline() == "step two\n"
        assert time.monotonic() - first > 0.7  # the first line came while the script still waited
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_result_of_megabytes_comes_back_whole_through_the_console(held: Path) -> None:
    query = ('sql demo "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 120000) '
             "SELECT x, 'some padding to make it wide' AS pad FROM c\"")
    out = cli(held, "-e", query, timeout=60)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout) > 4_000_000  # several 1 M-character pieces on the wire
    lines = out.stdout.splitlines()
    assert lines[-1].split()[0] == "120000"
    assert sum(1 for line in lines if line.endswith("some padding to make it wide")) == 120000
