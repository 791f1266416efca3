"""Idle strangers cannot lock peers out of the TCP server (issue 16, item 12).

A connection waits in a small pending pool until its first frame arrives
complete and, on a keyed node, correctly signed; it must do so within a short
first-frame deadline. These tests open bounded numbers of idle sockets (40,
not 1,100) against lowered caps.
"""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from anynode.errors import AnyNodeError
from anynode.net.auth import Authenticator
from anynode.net.client import NetClient
from anynode.net.protocol import FrameCodec
from anynode.node import Node
from tests.helpers import wait_until
from tests.net_helpers import raw_connect, read_until_closed, running_server

pytestmark = pytest.mark.timeout(30)


def idle_sockets(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that never send a byte."""
    return [raw_connect(port, timeout=5) for _ in range(count)]


def closed_with(sock: socket.socket, limit: float) -> str:
    """The error text the server sent before closing ``sock`` ("" if it closed without one)."""
    data = read_until_closed(sock, limit)
    if not data:
        return ""
    codec = FrameCodec()
    head, body = data[12:12 + codec.parse_prefix(data[:12])[0]], b""
    return codec.parse_body(head, body).header["error"]["error"]


def test_idle_strangers_beyond_the_connection_cap_do_not_lock_a_keyed_peer_out():
    """Today's bug at small scale: 40 idle sockets against a cap of 20 refused every peer."""
    key = "k3y"
    with running_server(auth=Authenticator(key), max_connections=20) as server:
        strangers = idle_sockets(server.port, 40)
        try:
            assert wait_until(lambda: server.stats()["connections"] == 40)
            with NetClient(auth=Authenticator(key)) as client:
                began = time.monotonic()
                header, _ = client.request(f"127.0.0.1:{server.port}", {"command": "hello"}, timeout=3)
                assert header["echo"] == "hello" and time.monotonic() - began < 1.0
            stats = server.stats()
            assert stats["refused_connections"] == 0 and stats["pending_connections"] == 40
        finally:
            for sock in strangers:
                sock.close()


def test_idle_connections_are_closed_after_the_first_frame_timeout_with_a_reason():
    with running_server(first_frame_timeout=0.5, idle_timeout=30) as server:
        began = time.monotonic()
        strangers = idle_sockets(server.port, 5)
        try:
            reasons = {closed_with(sock, 3) for sock in strangers}
            assert time.monotonic() - began < 2.0
            assert reasons == {"no complete frame within the first-frame timeout of 0.5 s"}
            assert wait_until(lambda: server.stats()["pending_connections"] == 0)
            assert server.stats()["first_frame_timeouts"] == 5
        finally:
            for sock in strangers:
                sock.close()


def test_a_stranger_dribbling_a_first_frame_is_cut_at_the_first_frame_deadline_not_the_read_timeout():
    with running_server(first_frame_timeout=0.5, read_timeout=20) as server, raw_connect(server.port) as sock:
        began = time.monotonic()
        sock.sendall(b"AN\x01\x00")  # half a prefix, then nothing
        assert "first-frame timeout of 0.5 s" in closed_with(sock, 3)
        assert time.monotonic() - began < 2.0


def test_a_peer_past_its_first_frame_keeps_its_connection_beyond_the_first_frame_deadline():
    with running_server(first_frame_timeout=0.3, idle_timeout=30) as server, raw_connect(server.port) as sock:
        codec = FrameCodec()
        codec.write(sock, {"kind": "command", "id": 1, "command": "one"})
        assert codec.read(sock).header["echo"] == "one"
        assert server.stats()["active_connections"] == 1 and server.stats()["pending_connections"] == 0
        time.sleep(0.8)
        codec.write(sock, {"kind": "command", "id": 2, "command": "two"})
        assert codec.read(sock).header["echo"] == "two"


def test_a_full_pending_pool_drops_its_oldest_connection_for_a_newcomer():
    with running_server(max_pending=3, first_frame_timeout=10) as server:
        strangers = idle_sockets(server.port, 3)
        try:
            assert wait_until(lambda: server.stats()["pending_connections"] == 3)
            newcomer = raw_connect(server.port)
            assert "more than 3 connections were waiting" in closed_with(strangers[0], 3)
            codec = FrameCodec()
            codec.write(newcomer, {"kind": "command", "id": 1, "command": "in"})
            assert codec.read(newcomer).header["echo"] == "in"
            stats = server.stats()
            assert stats["evicted_connections"] == 1 and stats["pending_connections"] == 2
            newcomer.close()
        finally:
            for sock in strangers:
                sock.close()


def test_wrongly_signed_strangers_never_reach_the_main_pool():
    with running_server(auth=Authenticator("right"), max_connections=1) as server:
        for _ in range(3):
            with raw_connect(server.port) as sock:
                FrameCodec(auth=Authenticator("wrong")).write(sock, {"kind": "command", "id": 1, "command": "x"})
                assert "different network key" in closed_with(sock, 3)
        assert server.stats()["active_connections"] == 0
        with NetClient(auth=Authenticator("right")) as client:
            assert client.request(f"127.0.0.1:{server.port}", {"command": "ok"}, timeout=3)[0]["echo"] == "ok"


def test_a_tls_stranger_that_never_shakes_hands_is_dropped_at_the_first_frame_deadline(tmp_path: Path):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=x",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True, timeout=30)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    with running_server(ssl_context=ctx, read_timeout=20, first_frame_timeout=0.5) as server:
        with raw_connect(server.port) as sock:
            began = time.monotonic()
            assert read_until_closed(sock, 3) == b""
            assert time.monotonic() - began < 2.0
        assert server.stats()["tls_errors"] == 1


# -- through the node's commands ---------------------------------------------------


@pytest.fixture
def keyed_pair(tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    nodes = (Node(tmp_path / "a", name="asker"), Node(tmp_path / "b", name="server"))
    for n in nodes:
        n.execute("set network key s3cret")
    yield nodes
    for n in nodes:
        n.close()


def test_run_client_to_a_keyed_node_answers_while_strangers_hold_every_pending_place(keyed_pair):
    asker, server = keyed_pair
    msg = server.execute("run tcp server where internal_ip = 127.0.0.1 and internal_port = 0 and bind = true "
                         "and max_pending = 20 and first_frame_timeout = 1").to_text()
    port = int(re.search(r"127\.0\.0\.1:(\d+)", msg).group(1))  # type: ignore[union-attr]
    assert "Max Connections: 1024, Max Pending: 20, First Frame Timeout: 1 s" in msg
    strangers = idle_sockets(port, 40)
    try:
        began = time.monotonic()
        reply = asker.execute(f"run client (127.0.0.1:{port}, timeout = 3) get node name")
        assert reply.replies[0].result.to_text() == "server" and time.monotonic() - began < 1.0
        reasons = [closed_with(sock, 4) for sock in strangers]
        assert time.monotonic() - began < 3.0
        assert sum("first-frame timeout of 1 s" in r for r in reasons) == 19  # 20 places, 1 taken by the peer
        assert sum("were waiting for theirs" in r for r in reasons) == 21  # 20 by newer strangers, 1 by the peer
    finally:
        for sock in strangers:
            sock.close()
    details = [r for r in server.execute("get processes").rows if r[0] == "TCP"][0][2]
    assert "Max Connections: 1024, Max Pending: 20, First Frame Timeout: 1 s" in details
    stats = server.execute("get stats where service = tcp and format = json").to_json()["TCP"]
    assert stats["evicted_connections"] == 21 and stats["first_frame_timeouts"] == 19
    assert stats["max_pending"] == 20 and stats["first_frame_timeout"] == 1


@pytest.mark.parametrize("option, expected", [
    ("first_frame_timeout = 0", "first_frame_timeout must be more than 0 seconds"),
    ("max_pending = 0", "'max_pending'.*out of range"),
])
def test_bad_limits_are_one_line_errors(node: Node, option: str, expected: str) -> None:
    with pytest.raises(AnyNodeError, match=expected) as info:
        node.execute(f"run tcp server where internal_ip = 127.0.0.1 and internal_port = 0 and {option}")
    assert "\n" not in info.value.one_line() and "Traceback" not in str(info.value)
