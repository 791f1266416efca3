"""The `anynode` command as a user runs it: real processes, exit codes, stdout/stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ANYNODE = [sys.executable, "-m", "anynode"]


def run(*args: str, stdin: str | None = None, home: Path | None = None,
        timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if home is not None:
        env["ANYNODE_HOME"] = str(home)
    return subprocess.run([*ANYNODE, *args], input=stdin, capture_output=True, text=True, timeout=timeout, env=env)


def test_cli_execute_prints_result_and_exits_zero() -> None:
    out = run("-e", "get status")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("running")
    assert out.stdout.startswith("anynode@")


def test_cli_get_processes_json_lists_the_services_that_exist() -> None:
    out = run("-e", "get processes", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert list(data) == ["TCP", "REST", "Operator", "Blockchain Sync", "Scheduler"]
    assert all(v["Status"] == "Not declared" for v in data.values())


def test_cli_format_json_equals_where_format_json() -> None:
    a = run("-e", "get processes", "--format", "json")
    b = run("-e", "get processes where format = json")
    assert json.loads(a.stdout) == json.loads(b.stdout)


def test_cli_unknown_command_suggests_and_points_at_word() -> None:
    out = run("-e", "get prosesses")
    assert out.returncode == 1  # the AnyLog code a REST client gets: 1, unrecognized command
    lines = out.stderr.splitlines()
    assert lines[0] == "error: unknown command 'get prosesses'"
    assert lines[1] == "  get prosesses"
    assert lines[2].startswith("      ^ did you mean 'get processes'")  # under the word that is wrong
    assert "Traceback" not in out.stderr


def test_cli_bad_option_value_names_option_value_and_choices() -> None:
    out = run("-e", "get processes where format = xml")
    assert out.returncode == 2
    assert "option 'format' of 'get processes': 'xml' is not accepted" in out.stderr
    assert "expected one of: table, json" in out.stderr
    caret = out.stderr.splitlines()[2]
    assert caret.index("^") == len("  get processes where format = ")


def test_cli_commands_run_in_order_and_stop_at_first_error() -> None:
    out = run("-e", "echo one", "-e", "nonsense here", "-e", "echo three")
    assert out.returncode == 1
    assert out.stdout.split() == ["one"]


def test_cli_debug_shows_traceback_only_when_asked() -> None:
    plain = run("-e", "get foo")
    debug = run("--debug", "-e", "get foo")
    assert "Traceback" not in plain.stderr
    assert "Traceback" in debug.stderr and "CommandNotFound" in debug.stderr


def test_cli_reads_plain_commands_from_a_pipe_without_prompt_noise() -> None:
    out = run(stdin="echo hi\nx = 3\nif !x > 2 then echo yes\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "hi\nyes\n"


def test_cli_pipe_with_failing_line_exits_non_zero_but_runs_the_rest() -> None:
    out = run(stdin="echo a\nget foo\necho b\n")
    assert out.returncode == 1
    assert out.stdout == "a\nb\n"
    assert "unknown command 'get foo'" in out.stderr


def test_cli_version() -> None:
    from anynode import __version__

    out = run("--version")
    assert out.returncode == 0 and __version__ in out.stdout


def test_cli_check_reports_each_bad_line(tmp_path: Path) -> None:
    script = tmp_path / "node.al"
    script.write_text("set node name op1\nget prosesses\n# fine\nget processes where format = xml\ngoto nowhere\n")
    out = run("check", str(script))
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"{script}:2: unknown command 'get prosesses'")
    assert lines[1].startswith(f"{script}:4: option 'format'")
    assert lines[2].startswith(f"{script}:5: no label 'nowhere'")
    assert len(lines) == 3


def test_cli_check_passes_good_script_with_variables(tmp_path: Path) -> None:
    script = tmp_path / "ok.al"
    script.write_text("name = op1\nset node name !name\nif !x > 3 then echo big\n:end:\ngoto end\n")
    out = run("check", str(script))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout == ""


def test_cli_process_reports_file_and_line_of_failure(tmp_path: Path) -> None:
    script = tmp_path / "bad.al"
    script.write_text("echo starting\n\n<echo a\n b>\nget foo\necho never\n")
    out = run("process", str(script))
    assert out.returncode == 1  # the failing line's code
    assert out.stdout == "starting\na b\n"
    assert out.stderr.startswith(f"error: {script}:5: unknown command 'get foo'")


def test_cli_second_node_on_same_home_fails_naming_the_holder(tmp_path: Path) -> None:
    home = tmp_path / "shared"
    script = tmp_path / "hold.al"
    script.write_text("echo up\n")
    env = dict(os.environ, ANYNODE_HOME=str(home))
    holder = subprocess.Popen([*ANYNODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write("echo ready\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "ready"
        out = run("-e", "get status", home=home)
        assert out.returncode == 75
        assert f"is in use by process {holder.pid}" in out.stderr
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)


def test_process_waits_for_a_one_shot_that_holds_the_home_as_it_starts(tmp_path: Path) -> None:
    """`anynode -e ...` sent while a node starts holds the home a moment; the node starting then must not die of it."""
    home = tmp_path / "home"
    script = tmp_path / "start.al"
    script.write_text("echo started\n")
    brief = ("import sys, time\nfrom anynode.lock import HomeLock\nlock = HomeLock(sys.argv[1]).acquire()\n"
             "print('locked', flush=True)\ntime.sleep(1.0)\nlock.release()\n")
    holder = subprocess.Popen([sys.executable, "-c", brief, str(home)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        out = run("process", str(script), home=home)
        assert (out.returncode, out.stdout.strip()) == (0, "started"), out.stderr
    finally:
        holder.wait(timeout=10)


def test_cli_one_shot_does_not_load_the_servers_or_databases() -> None:
    """Start-up stays fast: a one-shot command loads no server, network or database stack."""
    code = ("import sys, anynode.cli, anynode.node, anynode.assembly; "
            "print(sorted(m for m in ('asyncio', 'uvicorn', 'uvloop', 'sqlite3', 'psycopg', 'prompt_toolkit', "
            "'rich', 'watchdog') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
