"""run tcp server / run client / set network key between real nodes on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from anynode.errors import AnyNodeError, NotPermitted, RemoteError
from anynode.grammar.dispatch import Source
from anynode.node import Node
from anynode.results import Replies
from tests.helpers import dead_address, start_tcp


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[list[Node]]:
    nodes = [Node(tmp_path / f"n{i}", name=f"peer{i}") for i in range(3)]
    yield nodes
    for n in nodes:
        n.close()


def test_run_client_round_trip_returns_the_peers_reply(peers: list[Node]) -> None:
    a, b, _ = peers
    addr = start_tcp(b)
    result = a.execute(f"run client ({addr}) get status")
    assert isinstance(result, Replies)
    assert result.to_text() == f"[From Node {addr}]\npeer1@127.0.0.1:{addr.split(':')[1]} running"
    assert result.to_json() == {addr: f"peer1@{addr} running"}


def test_run_client_fan_out_with_one_dead_peer_gives_two_replies_and_one_error(peers: list[Node]) -> None:
    a, b, c = peers
    live = [start_tcp(b), start_tcp(c)]
    dead = dead_address()
    started = time.monotonic()
    result = a.execute(f"run client ({live[0]}, {dead}, {live[1]}, timeout = 3) get node name")
    assert time.monotonic() - started < 3.5
    by_dest = {r.dest: r for r in result.replies}
    assert by_dest[live[0]].result.to_text() == "peer1"
    assert by_dest[live[1]].result.to_text() == "peer2"
    assert not by_dest[dead].ok and "refused" in by_dest[dead].text()


def test_run_client_to_a_single_dead_peer_is_an_error(peers: list[Node]) -> None:
    with pytest.raises(RemoteError, match="refused"):
        peers[0].execute(f"run client ({dead_address()}, timeout = 2) get status")


def test_peer_may_not_run_local_only_commands(peers: list[Node]) -> None:
    a, b, _ = peers
    addr = start_tcp(b)
    with pytest.raises(RemoteError, match="may not be run by a peer"):
        a.execute(f"run client ({addr}) exit node")
    assert not b.exit_event.is_set()
    with pytest.raises(NotPermitted):
        b.execute("x = 5", Source.REMOTE)


def test_assignment_collects_replies_as_list_and_object(peers: list[Node]) -> None:
    a, b, c = peers
    addrs = [start_tcp(b), start_tcp(c)]
    a.execute(f"names[] = run client ({addrs[0]}, {addrs[1]}) get node name")
    assert sorted(json.loads(a.get_var("names") or "")) == sorted([[addrs[0], "peer1"], [addrs[1], "peer2"]])
    a.execute(f"names{{}} = run client ({addrs[0]}) get node name")
    assert json.loads(a.get_var("names") or "") == {addrs[0]: "peer1"}


def test_deferred_variable_is_expanded_by_the_peer(peers: list[Node]) -> None:
    a, b, _ = peers
    addr = start_tcp(b)
    a.execute("set node name sender")
    result = a.execute(f"run client ({addr}) echo !node_name !!node_name")
    assert result.replies[0].result.to_text() == "sender peer1"


def test_network_key_refuses_peers_without_it(peers: list[Node]) -> None:
    a, b, _ = peers
    b.execute("set network key s3cret")
    addr = start_tcp(b)
    with pytest.raises(RemoteError):
        a.execute(f"run client ({addr}, timeout = 3) get status")
    a.execute("set network key wrong")
    with pytest.raises(RemoteError):
        a.execute(f"run client ({addr}, timeout = 3) get status")
    a.execute("set network key s3cret")
    assert "running" in a.execute(f"run client ({addr}) get status").to_text()
    errors = " ".join(e.text for e in b.logs.errors.entries())
    assert "refused a frame from 127.0.0.1" in errors
    assert "s3cret" not in (a.home / "logs" / "root.log").read_text()


def test_file_copy_lands_verified_in_the_peers_watch_dir(peers: list[Node], tmp_path: Path) -> None:
    a, b, _ = peers
    addr = start_tcp(b)
    src = tmp_path / "rows.json"
    src.write_bytes(b'{"a": 1}\n' * 100_000)
    result = a.execute(f"run client ({addr}) file copy {src} !!watch_dir/demo.t.0.json")
    assert "delivered" in result.to_text()
    landed = Path(b.get_var("watch_dir") or "") / "demo.t.0.json"
    assert landed.read_bytes() == src.read_bytes()


def test_file_copy_refuses_a_path_outside_the_known_directories(peers: list[Node], tmp_path: Path) -> None:
    a, b, _ = peers
    addr = start_tcp(b)
    src = tmp_path / "x.json"
    src.write_text("{}")
    with pytest.raises(Exception, match="not a place a peer accepts files"):
        a.execute(f"run client ({addr}) file copy {src} /etc/x.json")


def test_tcp_server_shows_in_processes_and_stops_within_a_second(peers: list[Node]) -> None:
    _, b, _ = peers
    addr = start_tcp(b)
    row = [r for r in b.execute("get processes").rows if r[0] == "TCP"][0]
    assert row[1] == "Running" and f"Listening on: {addr}" in row[2]
    started = time.monotonic()
    b.execute("exit tcp")
    assert time.monotonic() - started < 1.0
    assert [r for r in b.execute("get processes").rows if r[0] == "TCP"][0][1] == "Stopped"


def test_second_tcp_server_says_already_running(peers: list[Node]) -> None:
    start_tcp(peers[1])
    with pytest.raises(Exception, match="already running"):
        start_tcp(peers[1])


@pytest.mark.parametrize("line, words", [
    ('run client () sql demo "select 1"', "one table"),  # the table names the operators: no table, no route
    ('run client () sql demo "select * from sensor"', "ledger|blockchain_file|metadata"),  # no metadata here
    ("run client ( ) get status", "only for sql"),
])
def test_run_client_empty_destination_is_for_sql_over_the_metadata(peers: list[Node], line: str, words: str) -> None:
    with pytest.raises(AnyNodeError, match=words):
        peers[0].execute(line)


def test_get_connections_shows_where_the_tcp_server_listens(peers: list[Node]) -> None:
    _, b, _ = peers
    addr = start_tcp(b)
    tcp = b.execute("get connections where format = json").to_json()["TCP"]
    assert tcp == {"External Address": addr, "Internal Address": addr, "Bind Address": addr}
    b.execute("exit tcp")
    assert b.execute("get connections where format = json").to_json()["TCP"]["Internal Address"] == "Not declared"
