"""The prompt: completion, history, rendering, leaving — headless and in a real terminal."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from anynode.node import Node
from anynode.repl.completer import candidates
from anynode.repl.session import build_session, prompt_text, run_interactive, toolbar_text


@pytest.fixture
def pipe() -> Iterator[object]:
    with create_pipe_input() as inp, create_app_session(input=inp, output=DummyOutput()):
        yield inp


@pytest.mark.parametrize("typed, expected", [
    ("get proc\t", "get processes"),
    ("get processes wh\t", "get processes where"),
    ("get processes where f\t", "get processes where format"),
    ("get processes where format = j\t", "get processes where format = json"),
    ("exit sc\t", "exit sc"),  # two candidates (scheduler, scripts): common start only
    ("exit sch\t", "exit scheduler"),
    ("echo !node_n\t", "echo !node_name"),
    ("x = 1 & get statu\t", "x = 1 & get status"),
])
def test_repl_tab_completes(node: Node, pipe, typed: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    session = build_session(node)
    pipe.send_text(typed + "\r")
    assert session.prompt("AN > ") == expected


def test_repl_completion_offers_only_options_not_given(node: Node) -> None:
    found, _ = candidates(node.registry, "get status where format = json and ")
    assert "format" not in found


def test_repl_completion_offers_a_commands_own_option_word(node: Node) -> None:
    """AnyLog writes 'time file rename <file> to dbms = ...': 'to' is offered, then the options."""
    assert candidates(node.registry, "time file rename x.json ")[0] == ["to"]
    assert "table" in candidates(node.registry, "time file rename x.json to dbms = d and ")[0]


def test_repl_history_persists_across_sessions(node: Node, pipe) -> None:  # type: ignore[no-untyped-def]
    first = build_session(node)
    pipe.send_text("echo remembered\r")
    first.prompt("AN > ")
    assert "echo remembered" in (node.home / "history").read_text()
    second = build_session(node)
    pipe.send_text("\x1b[A\r")  # up arrow recalls the line from the file
    assert second.prompt("AN > ") == "echo remembered"


def test_repl_runs_commands_and_leaves_on_exit_node(node: Node, pipe) -> None:  # type: ignore[no-untyped-def]
    out, err = io.StringIO(), io.StringIO()
    pipe.send_text("set node name op7\rget status\rget foo\rexit node\r")
    assert run_interactive(node, build_session(node), out, err) == 0
    out, err = out.getvalue(), err.getvalue()
    assert "op7@" in out and "running" in out
    assert "unknown command 'get foo'" in err
    assert node.exit_event.is_set()


def test_repl_ctrl_d_leaves_and_ctrl_c_drops_the_line(node: Node, pipe) -> None:  # type: ignore[no-untyped-def]
    buf = io.StringIO()
    pipe.send_text("echo half\x03echo kept\r\x04")
    assert run_interactive(node, build_session(node), buf, io.StringIO()) == 0
    out = buf.getvalue()
    assert "kept" in out and "half" not in out


def test_repl_prompt_and_toolbar_name_the_node(node: Node) -> None:
    node.execute("set node name edge9")
    assert prompt_text(node) == "AN edge9 > "
    assert "edge9" in toolbar_text(node) and "no services running" in toolbar_text(node)


pexpect = pytest.importorskip("pexpect")


def test_repl_end_to_end_in_a_real_terminal(tmp_path: Path) -> None:
    env = dict(os.environ, ANYNODE_HOME=str(tmp_path / "home"), TERM="xterm", COLUMNS="100", LINES="30")
    child = pexpect.spawn(sys.executable, ["-m", "anynode"], env=env, encoding="utf-8", timeout=15,
                          dimensions=(30, 100))
    try:
        child.expect_exact("AN anynode >")  # no trailing space: it is drawn with a cursor move
        child.sendline("set node name term1")
        child.expect_exact("AN term1 >")
        child.send("get statu")
        child.send("\t")
        child.expect_exact("status")
        child.send("\r")
        child.expect_exact("term1@")
        child.expect_exact("running")
        child.sendline("get processes")
        child.expect_exact("Blockchain Sync")
        child.sendline("exit node")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
