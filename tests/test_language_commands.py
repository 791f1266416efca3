"""incr and wait: the script helpers AnyLog deployment scripts use."""

from __future__ import annotations

import threading
import time

import pytest

from anynode.errors import CommandSyntaxError
from anynode.node import Node


def test_incr_adds_and_an_unset_counter_is_named(node: Node) -> None:
    with pytest.raises(CommandSyntaxError, match="variable '!count' is not defined"):
        node.execute("count = incr !count")
    node.execute("count = 0")
    node.execute("count = incr !count")
    node.execute("count = incr !count 5")
    assert node.get_var("count") == "6"
    with pytest.raises(CommandSyntaxError, match="whole numbers"):
        node.execute("count = incr abc")


def test_wait_for_reads_the_variable_again_at_each_check(node: Node) -> None:
    node.execute("ready = no")
    timer = threading.Timer(0.2, lambda: node.set_var("ready", "yes"))
    timer.start()
    started = time.monotonic()
    node.execute("ok = wait 5 for !ready == yes")
    assert node.get_var("ok") == "true" and time.monotonic() - started < 4
    assert node.execute("wait 0.1 for !ready == never").to_text() == "false"


def test_wait_ends_when_the_node_is_asked_to_exit(node: Node) -> None:
    threading.Timer(0.1, node.request_exit).start()
    started = time.monotonic()
    node.execute("wait 30")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("line, message", [
    ("wait", "needs a number of seconds"), ("wait soon", "is not a number"),
    ("wait 1 until x", "unexpected 'until'"), ("wait 1 for", "needs a condition"),
])
def test_wait_errors(node: Node, line: str, message: str) -> None:
    with pytest.raises(CommandSyntaxError, match=message):
        node.execute(line)


def test_json_normalises_tests_and_points_at_errors(node: Node) -> None:
    assert node.execute('json {"b": 1,   "a": [1,2]}').to_text() == '{"b": 1, "a": [1, 2]}'
    node.execute('p = {"x": 1}')
    assert node.execute("json !p test").to_text() == "true"
    assert node.execute('json {"x": 1,} test').to_text() == "false"
    with pytest.raises(CommandSyntaxError, match="line 1 column"):
        node.execute('json {"x": 1,}')


def test_get_env_var_filters_by_name(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANYLOG_EXAMPLE_X", "42")
    assert ("ANYLOG_EXAMPLE_X", "42") in node.execute("get env var EXAMPLE_X").rows
    assert node.execute("get env var where format = json").to_json()["ANYLOG_EXAMPLE_X"] == "42"
