"""Errors people can act on and assignments that fail loudly (issue 10, items 4 and 5)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from anynode.errors import AnyNodeError, CommandNotFound
from anynode.grammar.dispatch import Source
from anynode.node import Node
from tests.rest_helpers import start

ROOT = Path(__file__).resolve().parent.parent
ANYNODE = [sys.executable, "-m", "anynode"]


def anynode(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ANYNODE, *args], input=stdin, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, **(env or {})), cwd=ROOT)


# -- item 4: errors ------------------------------------------------------------------------------
def test_errors_are_coloured_on_a_terminal_only(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    env = dict(os.environ, ANYNODE_HOME=str(tmp_path / "home"), TERM="xterm")
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(sys.executable, ["-m", "anynode", "-e", "get foo"], env=env, encoding="utf-8", timeout=30)
    child.expect(pexpect.EOF)
    child.close()
    assert "\x1b[31m\x1b[1merror:\x1b[0m" in child.before
    piped = anynode("-e", "get foo")
    assert piped.stderr.startswith("error: unknown command") and "\x1b[" not in piped.stderr
    env["NO_COLOR"] = "1"
    child = pexpect.spawn(sys.executable, ["-m", "anynode", "-e", "get foo"], env=env, encoding="utf-8", timeout=30)
    child.expect(pexpect.EOF)
    child.close()
    assert "error: unknown command" in child.before and "\x1b[31m" not in child.before


@pytest.mark.parametrize("line", ["get proceses", "get processes where format = xml",
                                  'sql nowhere "select 1"', "exit node"])
def test_cli_exit_status_and_json_error_are_what_a_rest_client_gets(node: Node, line: str) -> None:
    url = start(node)
    method = "POST" if line == "exit node" else "GET"
    rest = httpx.request(method, url, headers={"command": line}, timeout=5).json()
    out = anynode("--format", "json", "-e", line, env={"ANYNODE_HOME": str(node.home.parent / "cli")})
    if line == "exit node":  # the console may stop its own node: nothing to compare but the code REST gets
        assert out.returncode == 0 and rest["code"] == 141
        return
    cli = json.loads(out.stderr)
    assert out.returncode == rest["code"] == rest["err_code"] == cli["code"] == cli["err_code"]
    assert {k: v for k, v in rest.items() if k not in ("method", "node")} == cli


def test_exit_and_quit_alone_say_how_to_leave(node: Node) -> None:
    for word in ("exit", "quit"):
        with pytest.raises(AnyNodeError) as info:
            node.execute(word)
        assert "'exit node'" in info.value.one_line() and "Ctrl-D" in info.value.one_line()
    assert not node.exit_event.is_set()


def test_a_bare_family_word_lists_its_commands_at_the_prompt_not_in_a_script(node: Node) -> None:
    listed = node.execute("get").to_json()
    names = [row["Command"] for row in listed]
    assert "get status" in names and "get processes" in names and all(n.startswith("get ") for n in names)
    assert {r["Command"] for r in node.execute("run tcp").to_json()} == {"run tcp server"}
    with pytest.raises(CommandNotFound):
        node.execute("get", Source.SCRIPT)


def test_a_block_in_angle_brackets_works_at_the_prompt(node: Node, pipe) -> None:  # type: ignore[no-untyped-def]
    from anynode.repl.session import build_session, run_interactive

    out = io.StringIO()
    pipe.send_text("<echo one\rtwo\rthree>\r<echo same line>\r\x04")
    run_interactive(node, build_session(node), out, io.StringIO())
    assert out.getvalue().splitlines() == ["one two three", "same line"]


def test_usage_lines_show_the_real_syntax_of_raw_commands(node: Node) -> None:
    assert node.execute("help sql").to_text().splitlines()[1] == \
        '    sql DBMS [format = json|table and stat = true|false] "query"'
    for name in ("if", "wait", "on error", "blockchain get", "schedule"):
        usage = node.execute(f"help {name}").to_text().splitlines()[1].strip()
        assert usage != name and usage.startswith(name + " "), usage


def test_anynode_help_is_complete_and_dash_v_gives_the_version() -> None:
    from anynode import __version__

    out = anynode("--help", env={"COLUMNS": "80"})
    assert out.returncode == 0 and not any(line.endswith("...") for line in out.stdout.splitlines()[1:])
    assert "Run a node script, then keep the node up while services run (until" in out.stdout
    assert "Exit status" in out.stdout
    version = anynode("-V")
    assert version.returncode == 0 and __version__ in version.stdout


# -- item 5: assignments that fail loudly ----------------------------------------------------------
@pytest.mark.parametrize("line", ["config_id = blockchain gte config", "x = job nobody knows",
                                  "conn = get stauts where format = json", "set mode = run"])
def test_an_assignment_that_looks_like_a_command_but_is_none_fails(node: Node, line: str) -> None:
    if line == "set mode = run":  # one word is text
        node.execute(line)
        assert node.get_var("mode") == "run"
        return
    with pytest.raises(CommandNotFound) as info:
        node.execute(line)
    assert "starts like a command" in info.value.message and "double quotes" in (info.value.hint or "")
    name = line.split()[0]
    assert node.get_var(name) is None


def test_plain_text_and_quoted_values_are_still_stored(node: Node) -> None:
    node.execute("company_name = New Company")
    node.execute('note = "get well soon"')
    node.execute("y = get status")
    assert node.get_var("company_name") == "New Company"
    assert node.get_var("note") == "get well soon"
    assert node.get_var("y").endswith(" running")


def test_check_reports_an_assignment_that_is_no_command(tmp_path: Path) -> None:
    script = tmp_path / "deploy.al"
    script.write_text("company_name = New Company\nconfig_id = blockchain gte config\nok = get status\n")
    out = anynode("check", str(script))
    assert out.returncode == 1
    [problem] = out.stdout.splitlines()
    assert problem.startswith(f"{script}:2: unknown command 'blockchain gte config': the value starts like a "
                              "command, so it is not stored as text (did you mean ")
    assert problem.endswith("(did you mean 'blockchain get'? (to store it as text, put it in double quotes))")
