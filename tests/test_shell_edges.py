"""The rough edges a new user hit (issue 10, defects 3-11, 13, 14, 17): one test each."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from anynode.errors import AnyNodeError
from anynode.node import Node
from anynode.output.render import error_text, render
from anynode.results import Table
from tests.rest_helpers import start

ROOT = Path(__file__).resolve().parent.parent
ANYNODE = [sys.executable, "-m", "anynode"]


def anynode(*args: str, stdin: str | None = None, home: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, **(env or {}))
    if home is not None:
        full["ANYNODE_HOME"] = str(home)
    return subprocess.run([*ANYNODE, *args], input=stdin, capture_output=True, text=True, timeout=60, env=full,
                          cwd=ROOT)


def error_of(node: Node, line: str) -> tuple[AnyNodeError, list[str]]:
    """The error ``line`` fails with, and the lines a user sees for it."""
    with pytest.raises(AnyNodeError) as info:
        node.execute(line)
    return info.value, error_text(info.value, line).splitlines()


def readme_script() -> str:
    """The README's example script (the block that starts with '# my_node.al')."""
    text = (ROOT / "README.md").read_text()
    return text.split("# my_node.al\n", 1)[1].split("```", 1)[0]


def test_defect3_a_script_piped_in_runs_as_a_script_with_labels_and_on_error(tmp_path: Path) -> None:
    script = readme_script()
    assert "on error goto failed" in script and ":failed:" in script
    out = anynode(stdin=script, home=tmp_path / "home")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "operator one" and "setup failed" not in out.stdout
    failing = script.replace("on error goto failed", "on error goto failed\nget nothing here")
    out = anynode(stdin=failing, home=tmp_path / "home2")
    assert out.stdout.splitlines()[-1] == "setup failed" and out.stderr == ""


def test_defect4_file_copy_copies_a_file_on_this_node(node: Node, tmp_path: Path) -> None:
    source = tmp_path / "rows.json"
    source.write_text('[{"a": 1}]')
    (tmp_path / "into").mkdir()
    assert node.execute(f"file copy {source} {tmp_path}/into/").to_text().startswith("copied")
    assert (tmp_path / "into" / "rows.json").read_text() == '[{"a": 1}]'
    assert "Usage:\n    file copy <source> <destination>" in node.execute("help file copy").to_text()


def test_defect5_check_rejects_a_condition_running_it_rejects(tmp_path: Path) -> None:
    script = tmp_path / "cond.al"
    script.write_text("if !a > then echo y\nif !a > 3 then echo big\nif (!a == 1) or $NOPE then echo z\n")
    checked = anynode("check", str(script))
    assert checked.returncode == 1
    assert checked.stdout.splitlines() == [f"{script}:1: '>' needs a value on each side (write e.g. !x == 5)"]
    ran = anynode("process", str(script), home=tmp_path / "home")
    assert "'>' needs a value on each side" in ran.stderr and ran.returncode != 0


def test_defect7_one_json_shape_for_a_command_over_get_and_post(node: Node) -> None:
    url = start(node)
    line = "get processes where format = json"
    got = httpx.get(url, headers={"command": line}, timeout=5).json()
    posted = httpx.post(url + "/command", json={"command": line}, timeout=5).json()
    plain = httpx.post(url + "/command", json={"command": "get processes"}, timeout=5).json()
    assert got == posted == plain
    assert got["REST"]["Status"] == "Running"  # AnyLog's shape: an object keyed by process


def test_defect8_exit_node_over_rest_is_refused_the_same_way_with_the_reason(node: Node) -> None:
    url = start(node)
    replies = [httpx.get(url, headers={"command": "exit node"}, timeout=5),
               httpx.post(url, headers={"command": "exit node"}, timeout=5),
               httpx.post(url + "/command", json={"command": "exit node"}, timeout=5)]
    assert [r.status_code for r in replies] == [403, 403, 403]
    bodies = [r.json() for r in replies]
    assert {b["err_code"] for b in bodies} == {141}
    assert all("local only" in b["error"] and "send it with" not in b["error"] for b in bodies)
    assert not node.exit_event.is_set()


def test_defect9_a_misspelt_sql_keyword_is_pointed_at(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite and memory = true")
    line = 'sql demo "selec * from readings"'
    _, lines = error_of(node, line)
    assert lines[0] == "error: 'selec' does not start an SQL statement"
    assert lines[2] == "  " + " " * line.index("selec") + "^ did you mean 'select'?"


def test_defect10_an_unknown_command_word_is_pointed_at(node: Node) -> None:
    _, lines = error_of(node, "get proceses")
    assert lines[0] == "error: unknown command 'get proceses'"
    assert lines[2] == "      ^ did you mean 'get processes'?"


def test_defect11_the_row_count_line_of_a_narrow_table_stays_on_one_line() -> None:
    out = io.StringIO()
    render(Table.of(["a"], [(1,), (2,)], title="2 row(s) in 00:00:00"), out, color=True)  # as on a terminal
    assert out.getvalue().splitlines()[0] == "2 row(s) in 00:00:00"


def test_defect13_history_is_private_and_masks_a_value_that_became_secret(node: Node, pipe) -> None:  # type: ignore[no-untyped-def]
    from anynode.repl.session import build_session, run_interactive

    pipe.send_text("k = s3cret-value\rset network key !k\recho done\r\x04")
    run_interactive(node, build_session(node), io.StringIO(), io.StringIO())
    history = node.home / "history"
    assert history.stat().st_mode & 0o777 == 0o600
    text = history.read_text()
    assert "s3cret-value" not in text and "k = ****" in text and "echo done" in text


def test_defect14_an_unusable_home_is_one_line_and_a_sysexits_code() -> None:
    out = anynode("--home", "/proc/anynode-cannot-be-here", "-e", "get status")
    assert out.returncode == 73
    assert out.stderr.splitlines()[0] == ("error: cannot use the node home /proc/anynode-cannot-be-here: "
                                         "No such file or directory")
    assert "internal error" not in out.stderr and "Traceback" not in out.stderr


def test_defect17_rest_client_example_runs_twice_against_one_node_without_a_duplicate(
        node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers import free_port

    rest = free_port()
    monkeypatch.setenv("ANYLOG_SERVER_PORT", str(free_port()))
    monkeypatch.setenv("ANYLOG_REST_PORT", str(rest))
    node.execute(f"process {ROOT / 'commands' / 'standalone.al'}")
    for _ in range(2):
        out = subprocess.run([sys.executable, "examples/rest_client.py", f"http://127.0.0.1:{rest}"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "'AnyLog.status': 'Success'" in out.stdout
    assert list((node.home / "data" / "error").iterdir()) == []


def test_defect17_ingest_example_waits_for_its_log_without_a_grep_error() -> None:
    text = (ROOT / "examples" / "ingest.sh").read_text()
    wait = text.index('until grep -q "Operator running" "$home/node.log"')
    assert 0 <= text.index(': > "$home/node.log"') < wait  # the log exists before anything reads it


def test_defect6_what_rest_md_lists_as_501_answers_501(node: Node) -> None:
    row = next(line for line in (ROOT / "docs" / "rest.md").read_text().splitlines() if line.startswith("| 501 |"))
    headers = [item.split(":", 1) for item in row.split("`")[1::2]]
    assert headers and all(len(h) == 2 for h in headers), f"each 501 item is a header and its value: {row}"
    url = start(node)
    for name, value in headers:
        reply = httpx.get(url, headers={"command": "get status", name: value.strip()}, timeout=5)
        assert reply.status_code == 501, (name, value, reply.text)


def test_defect17_rest_client_example_alone_runs_its_own_throwaway_node(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "examples/rest_client.py"], cwd=ROOT, capture_output=True, text=True,
                         timeout=90, env=dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    assert "standalone@127.0.0.1:" in out.stdout
    assert "[{'sensor': 't1', 'value': 20.5}, {'sensor': 't2', 'value': 22.0}]" in out.stdout
    assert not (tmp_path / ".anynode").exists()
