"""The REST `destination` header: the command runs on peers, with a real status when they fail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from anynode.node import Node
from tests.helpers import dead_address, start_tcp
from tests.rest_helpers import ANYLOG, start


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[Node]:
    n = Node(tmp_path / "peer", name="peer9")
    yield n
    n.close()


def test_destination_runs_the_command_on_the_peer(node: Node, peer: Node) -> None:
    addr = start_tcp(peer)
    url = start(node)
    r = httpx.get(url, headers={"command": "get node name", "destination": addr, **ANYLOG}, timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.text == f"[From Node {addr}]\npeer9\n"  # a text answer, as the prompt shows it (and AnyLog)
    r = httpx.get(url, headers={"command": "get status where format = json", "destination": addr, **ANYLOG},
                  timeout=10)
    assert r.headers["content-type"] == "application/json" and r.json()[addr]["status"] == "running"


def test_destination_with_a_dead_peer_is_an_error_status(node: Node) -> None:
    url = start(node)
    r = httpx.get(url, headers={"command": "get status", "destination": dead_address(), "timeout": "3", **ANYLOG},
                  timeout=10)
    assert r.status_code == 502
    assert "refused" in r.json()["error"]


def test_destination_some_dead_gives_each_reply_or_error(node: Node, peer: Node) -> None:
    addr, dead = start_tcp(peer), dead_address()
    url = start(node)
    r = httpx.get(url, headers={"command": "get node name", "destination": f"{addr}, {dead}", **ANYLOG}, timeout=10)
    assert r.status_code == 200
    head, name, second = r.text.splitlines()
    assert (head, name) == (f"[From Node {addr}]", "peer9")
    assert second.startswith(f"[From Node {dead}] error: ") and "refused" in second


@pytest.mark.parametrize("destination", ["network", "Network", "()"])
def test_destination_network_is_for_sql_and_501_for_other_commands(node: Node, destination: str) -> None:
    url = start(node)
    r = httpx.get(url, headers={"command": "get status", "destination": destination, **ANYLOG}, timeout=5)
    assert r.status_code == 501
    body = r.json()
    assert "sql" in body["error"] and "ip:port" in body["hint"]
    assert body["err_code"] == 15  # AnyLog clients read err_code / err_text


def test_destination_network_on_the_json_endpoint_is_501_for_other_commands(node: Node) -> None:
    url = start(node)
    r = httpx.post(f"{url}/command", json={"command": "get status", "destination": "network"}, timeout=5)
    assert r.status_code == 501 and "sql" in r.json()["error"]
