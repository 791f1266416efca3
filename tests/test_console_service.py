"""The Console service in-process: requests and answers on the socket, cancel, a client that leaves, stopping."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from anynode.console import client
from anynode.console.server import ConsoleService
from anynode.console.wire import WAITING, Channel, reachable, socket_path
from anynode.node import Node
from tests.helpers import wait_until


@pytest.fixture
def served(node: Node) -> Iterator[Node]:
    """The node with its Console service running."""
    node.services.start(ConsoleService(node), 5)
    yield node
    node.services.stop("Console", 5)


def _channel(node: Node) -> Channel:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with reachable(socket_path(node.home)) as name:
        sock.connect(name)
    return Channel(sock)


def _answers(channel: Channel, limit: float = 5.0) -> list[dict]:
    """Every message up to and including the one with ``done``."""
    got: list[dict] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        message = channel.receive(timeout=0.2)
        if message is WAITING:
            continue
        assert message is not None, f"connection closed after {got}"
        got.append(message)
        if "done" in message:
            return got
    raise AssertionError(f"no done within {limit} s: {got}")


def test_a_line_runs_on_the_node_with_the_clients_format(served: Node) -> None:
    channel = _channel(served)
    try:
        channel.send({"op": "run", "line": "set node name console7", "source": "cli"})
        assert _answers(channel)[-1]["done"] == 0
        channel.send({"op": "run", "line": "get status where format = json", "source": "cli", "fmt": "json"})
        answers = _answers(channel)
        assert answers[-1]["done"] == 0 and '"console7@' in answers[0]["out"]
        channel.send({"op": "run", "line": "get nothing", "source": "cli"})
        answers = _answers(channel)
        assert answers[-1]["done"] == 1 and "unknown command" in answers[0]["err"]
        channel.send({"op": "launch"})
        answers = _answers(channel)
        assert answers[-1]["done"] == 2 and "unknown console request 'launch'" in answers[-1]["err"]
    finally:
        channel.close()
    assert served.name == "console7"


def test_cancel_ends_the_command_at_once_and_the_connection_serves_on(served: Node) -> None:
    channel = _channel(served)
    try:
        channel.send({"op": "run", "line": "wait 30", "source": "repl"})
        time.sleep(0.3)
        channel.send({"op": "run", "line": "echo meanwhile", "source": "repl"})
        assert "still running" in _answers(channel)[-1]["err"]
        started = time.monotonic()
        channel.send({"op": "cancel"})
        answers = _answers(channel)
        assert time.monotonic() - started < 1.0
        assert answers[-1]["done"] == 130 and answers[-1]["cancelled"] == "Ctrl-C"
        assert answers[0]["err"].startswith("cancelled: wait 30 (Ctrl-C)")
        channel.send({"op": "run", "line": "echo after", "source": "repl"})
        assert _answers(channel)[0]["out"] == "after\n"
    finally:
        channel.close()


def test_a_client_that_goes_away_cancels_its_command(served: Node) -> None:
    channel = _channel(served)
    channel.send({"op": "run", "line": "wait 30", "source": "cli"})
    time.sleep(0.3)
    channel.close()
    wait_until(lambda: "wait cancelled: the console client went away" in served.execute("get error log").to_text(),
               3, "the wait to be cancelled")


def test_stopping_the_service_closes_attached_clients_and_removes_the_socket(node: Node) -> None:
    node.services.start(ConsoleService(node), 5)
    attached = client.connect(node.home)
    assert attached.name == node.name and attached.hello["pid"] > 0
    node.services.stop("Console", 5)
    assert attached.channel.receive(timeout=2) is None
    attached.close()
    assert not socket_path(node.home).exists()
    with pytest.raises(client.NoConsole):
        client.connect(node.home)
