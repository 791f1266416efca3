"""FrameServer and NetClient over real sockets on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from anynode.errors import NotPermitted, RemoteTimeout, ServiceError, ValidationError
from anynode.net.client import NetClient, parse_dest
from anynode.net.errors import ConnectionLost, PeerError, ProtocolError, Unreachable
from anynode.net.protocol import MAGIC, PREFIX, FrameCodec
from tests.helpers import free_port, wait_until
from tests.net_helpers import echo, hanging_peer, raw_connect, read_until_closed, running_server

pytestmark = pytest.mark.timeout(30)


def assert_still_serves(port: int) -> None:
    with NetClient() as client:
        header, payload = client.request(f"127.0.0.1:{port}", {"command": "after"}, b"ok", timeout=3)
    assert header["echo"] == "after" and payload == b"ok"


def error_reply_of(port: int, data: bytes) -> dict:
    """Send raw bytes; return the error the server answers before closing."""
    with raw_connect(port) as sock:
        sock.sendall(data)
        reply = FrameCodec().read(sock)
        assert read_until_closed(sock) == b"", "server kept the connection open"
    assert reply is not None and reply.kind == "reply" and reply.header["ok"] is False
    return reply.header["error"]


def test_round_trip_with_request_ids_and_payload():
    peers: list[str] = []

    def handler(header, payload):
        peers.append(header["_peer"])
        return echo(header, payload)

    with running_server(handler) as server, NetClient() as client:
        dest = ("localhost", server.port)
        first, _ = client.send_command(dest, "get status", timeout=3, _peer="10.9.9.9:1")
        second, payload = client.request(dest, {"kind": "command", "command": "x"}, b"\x00" * 100_000, 3)
        assert (first["echo"], first["ok"], first["kind"], first["id"]) == ("get status", True, "reply", 1)
        assert second["id"] == 2 and payload == b"\x00" * 100_000
        (conn,) = client._idle[f"127.0.0.1:{server.port}"]
        assert peers == [f"127.0.0.1:{conn.sock.getsockname()[1]}"] * 2  # set by the server, not the peer


def test_pooled_connection_is_reused_for_later_requests():
    ports: list[int] = []

    def local_port_of_peer(header, payload):
        return {}, b""

    with running_server(local_port_of_peer) as server, NetClient() as client:
        dest = f"127.0.0.1:{server.port}"
        for _ in range(10):
            client.request(dest, {"command": "ping"}, timeout=3)
            (conn,) = client._idle[dest]
            ports.append(conn.sock.getsockname()[1])
        assert len(set(ports)) == 1
        assert server.stats()["connections"] == 1 and server.stats()["frames_in"] == 10
        assert client.stats()["connects"] == 1 and client.stats()["reuses"] == 9


def test_connection_closed_by_server_idle_timeout_is_replaced_transparently():
    with running_server(idle_timeout=0.2) as server, NetClient() as client:
        dest = f"127.0.0.1:{server.port}"
        client.request(dest, {"command": "a"}, timeout=3)
        assert wait_until(lambda: server.stats()["idle_closed"] == 1)
        header, _ = client.request(dest, {"command": "b"}, timeout=3)
        assert header["echo"] == "b"
        assert client.stats()["connects"] == 2 and server.stats()["connections"] == 2


def test_fan_out_gives_replies_from_live_peers_and_clear_errors_for_dead_and_hanging():
    with running_server() as one, running_server() as two, hanging_peer() as hang, NetClient() as client:
        dead = free_port()
        dests = [f"127.0.0.1:{one.port}", f"localhost:{two.port}", f"127.0.0.1:{dead}",
                 ("127.0.0.1", hang), f"127.0.0.1:{one.port}"]  # duplicate dropped
        began = time.monotonic()
        replies = client.fan_out_command(dests, "get status", timeout=1.0)
        took = time.monotonic() - began
        assert took < 1.5
        assert [r.dest for r in replies] == [f"127.0.0.1:{one.port}", f"127.0.0.1:{two.port}",
                                             f"127.0.0.1:{dead}", f"127.0.0.1:{hang}"]
        ok = [r for r in replies if r.ok]
        assert [r.header["echo"] for r in ok] == ["get status", "get status"]
        refused, hung = replies[2].error, replies[3].error
        assert isinstance(refused, Unreachable) and "connection refused" in refused.message
        assert isinstance(hung, RemoteTimeout) and f"no reply from 127.0.0.1:{hang} within 1 s" in hung.message
        assert replies[2].elapsed < 0.5


def test_bad_destinations_are_reported_not_raised_in_a_fan_out():
    with NetClient() as client:
        (entry,) = client.fan_out_command(["nowhere"], "get status", timeout=1)
    assert isinstance(entry.error, ValidationError) and "host:port" in entry.error.message


@pytest.mark.parametrize("text, expected", [
    ("10.0.0.1:32148", ("10.0.0.1", 32148)), (" localhost:7 ", ("127.0.0.1", 7)),
    (("LOCALHOST", "9"), ("127.0.0.1", 9)), ("[::1]:80", ("::1", 80)),
])
def test_parse_dest_accepts_host_port_forms(text, expected):
    assert parse_dest(text) == expected


@pytest.mark.parametrize("text", ["10.0.0.1", "host:", ":80", "h:0", "h:70000", "h:abc", 42])
def test_parse_dest_refuses_malformed(text):
    with pytest.raises(ValidationError, match="host:port"):
        parse_dest(text)


def test_handler_errors_come_back_as_peer_errors_and_the_connection_survives():
    def handler(header, payload):
        if header["command"] == "forbidden":
            raise NotPermitted("command 'system' may not run for a peer", "run it locally")
        if header["command"] == "bug":
            raise KeyError("oops")
        return echo(header, payload)

    with running_server(handler) as server, NetClient() as client:
        dest = f"127.0.0.1:{server.port}"
        with pytest.raises(PeerError) as info:
            client.send_command(dest, "forbidden", timeout=3)
        err = info.value
        assert err.remote_kind == "NotPermitted" and err.http_status == 403
        assert err.message == f"peer {dest} failed: command 'system' may not run for a peer"
        assert err.hint == "run it locally"
        with pytest.raises(PeerError, match="internal error on the peer: KeyError"):
            client.send_command(dest, "bug", timeout=3)
        assert client.send_command(dest, "fine", timeout=3)[0]["echo"] == "fine"
        assert server.stats()["connections"] == 1 and server.stats()["handler_errors"] == 2


def test_slow_handler_times_out_the_client_within_its_timeout():
    release = threading.Event()

    def slow(header, payload):
        release.wait(5)
        return {}, b""

    with running_server(slow) as server, NetClient() as client:
        try:
            began = time.monotonic()
            with pytest.raises(RemoteTimeout, match="within 0.3 s"):
                client.send_command(f"127.0.0.1:{server.port}", "sleep", timeout=0.3)
            assert time.monotonic() - began < 0.8
        finally:
            release.set()


def test_unreachable_peer_is_reported_clearly():
    with NetClient() as client:
        with pytest.raises(Unreachable, match=r"cannot reach 127\.0\.0\.1:\d+: connection refused") as info:
            client.send_command(f"127.0.0.1:{free_port()}", "get status", timeout=2)
    assert "run tcp server" in info.value.hint


@pytest.mark.parametrize("data, message", [
    (b"\x16\x03\x01garbage bytes that are not a frame", "not an anynode frame"),
    (PREFIX.pack(MAGIC, 1, 0, 10, 1 << 30), "exceeds the maximum frame size"),
    (PREFIX.pack(MAGIC, 1, 0, 9, 0) + b"{bad json", "not valid JSON"),
    (PREFIX.pack(MAGIC, 7, 0, 2, 0) + b"{}", "version 7.0 refused"),
])
def test_bad_frames_get_an_error_reply_and_the_server_keeps_serving(data, message):
    with running_server(max_frame_size=1 << 20) as server:
        error = error_reply_of(server.port, data)
        assert error["kind"] == "ProtocolError" and message in error["error"]
        assert_still_serves(server.port)
        assert server.stats()["protocol_errors"] == 1


def test_slow_client_dribbling_bytes_is_cut_off_by_the_read_timeout():
    with running_server(read_timeout=0.4) as server:
        head, body = FrameCodec().encode({"kind": "command", "id": 1, "command": "x" * 200})
        data = head + body
        with raw_connect(server.port) as sock:
            began = time.monotonic()
            pause = threading.Event()
            for byte in data:  # one byte every 50 ms: would take 12 s
                try:
                    sock.send(bytes([byte]))
                except OSError:
                    break
                if pause.wait(0.05) or time.monotonic() - began > 0.6:
                    break
            reply = FrameCodec().read(sock)
            assert reply.header["ok"] is False and "read timeout of 0.4 s" in reply.header["error"]["error"]
            assert read_until_closed(sock) == b""
            assert time.monotonic() - began < 1.5
        assert_still_serves(server.port)
        assert server.stats()["timeouts"] == 1


def test_many_concurrent_clients_each_get_their_own_replies():
    failures: list[str] = []

    def caller(n: int, client: NetClient, port: int) -> None:
        for i in range(20):
            header, payload = client.request(f"127.0.0.1:{port}", {"command": f"{n}-{i}"}, str(i).encode(), 5)
            if header["echo"] != f"{n}-{i}" or payload != str(i).encode():
                failures.append(f"{n}-{i}: {header} {payload!r}")

    with running_server(threads=2) as server, NetClient() as client:
        threads = [threading.Thread(target=caller, args=(n, client, server.port)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert failures == []
        assert server.stats()["frames_in"] == 160 and server.stats()["connections"] <= 8


def test_event_frames_reach_the_handler_without_a_reply():
    seen = threading.Event()

    def handler(header, payload):
        if header["kind"] == "event" and payload == b"hello":
            seen.set()
        return echo(header, payload)

    with running_server(handler) as server, NetClient() as client:
        dest = f"127.0.0.1:{server.port}"
        client.send_event(dest, {"topic": "policy"}, b"hello", timeout=2)
        assert seen.wait(3)
        assert client.send_command(dest, "next", timeout=3)[0]["echo"] == "next"  # stream still in step
        assert server.stats()["frames_out"] == 1


def test_stop_is_prompt_with_connected_clients_and_leaves_no_threads():
    with running_server(threads=3) as server:
        idle_peer = raw_connect(server.port)
        with NetClient() as client:
            client.send_command(f"127.0.0.1:{server.port}", "x", timeout=3)
            stop_holder = idle_peer
    # running_server checked that serve() returned in < 1 s; the fixture checks threads
    assert stop_holder.recv(10) == b""
    stop_holder.close()


def test_busy_port_is_a_clear_start_error():
    with running_server() as server:
        from anynode.net.server import FrameServer

        second = FrameServer(echo, "127.0.0.1", server.port)
        with pytest.raises(ServiceError, match=f"cannot listen on 127.0.0.1:{server.port}"):
            second.serve(threading.Event(), lambda: None)


def test_pooled_socket_to_a_stopped_server_is_discarded():
    with NetClient() as client:
        with running_server() as server:
            port = server.port
            client.send_command(f"127.0.0.1:{port}", "x", timeout=3)
        with pytest.raises((Unreachable, ConnectionLost)):
            client.send_command(f"127.0.0.1:{port}", "x", timeout=2)
        assert client.stats()["idle"] == 0


def test_reply_frames_sent_to_a_server_are_refused():
    with running_server() as server, raw_connect(server.port) as sock:
        codec = FrameCodec()
        codec.write(sock, {"kind": "reply", "id": 4})
        reply = codec.read(sock)
        assert reply.id == 4 and "reply frame was sent to a server" in reply.header["error"]["error"]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True, timeout=30)
    return d / "cert.pem", d / "key.pem"


def test_tls_round_trip_and_a_plain_client_is_refused(tls_files):
    cert, key = tls_files
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    with running_server(ssl_context=server_ctx, read_timeout=1) as server:
        dest = f"127.0.0.1:{server.port}"
        with NetClient(ssl_context=client_ctx) as client:
            assert client.send_command(dest, "secure", timeout=3)[0]["echo"] == "secure"
            assert client.send_command(dest, "again", timeout=3)[0]["echo"] == "again"
            assert client.stats()["connects"] == 1
        with NetClient() as plain:
            with pytest.raises((ConnectionLost, ProtocolError, RemoteTimeout)):
                plain.send_command(dest, "clear text", timeout=2)
        with NetClient(ssl_context=client_ctx) as client:
            assert client.send_command(dest, "after", timeout=3)[0]["echo"] == "after"


def test_connect_timeout_is_bounded():
    # a listener with a full accept queue drops further SYNs, so connect() hangs
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        port = full.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
                fillers.append(s)
            with NetClient(connect_timeout=0.3) as client:
                began = time.monotonic()
                with pytest.raises(RemoteTimeout, match=f"connecting to 127.0.0.1:{port} timed out after 0.3 s"):
                    client.send_command(f"127.0.0.1:{port}", "x", timeout=2)
                assert time.monotonic() - began < 1.0
        finally:
            for s in fillers:
                s.close()


def test_a_peer_that_sends_stray_bytes_after_its_reply_is_not_pooled():
    codec = FrameCodec()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def fake_peer() -> None:
        conn, _ = listener.accept()
        with conn:
            request = codec.read(conn, time.monotonic() + 3)
            head, body = codec.encode({"kind": "reply", "id": request.id, "ok": True}, b"fine")
            conn.sendall(head + body + b"stray bytes")
            conn.recv(1)  # hold the connection until the client closes it

    peer = threading.Thread(target=fake_peer)
    peer.start()
    try:
        with NetClient() as client:
            _, payload = client.send_command(f"127.0.0.1:{port}", "x", timeout=3)
            assert payload == b"fine"
            assert client.stats()["idle"] == 0  # out of step: discarded, not reused
    finally:
        peer.join(3)
        listener.close()


def test_a_reply_too_big_for_a_frame_becomes_an_error_and_the_server_goes_on():
    def huge(header, payload):
        return {}, b"x" * (2 << 20) if header["command"] == "huge" else b"small"

    with running_server(huge, max_frame_size=1 << 20) as server, NetClient() as client:
        dest = f"127.0.0.1:{server.port}"
        with pytest.raises(ProtocolError, match="reply could not be sent: frame of 2097.* exceeds"):
            client.send_command(dest, "huge", timeout=3)
        assert client.send_command(dest, "next", timeout=3)[1] == b"small"


def test_a_peer_that_sends_half_a_frame_and_stalls_is_dropped_after_the_read_timeout():
    with running_server(read_timeout=0.3) as server, raw_connect(server.port) as sock:
        head, body = FrameCodec().encode({"kind": "command", "id": 5, "command": "x" * 100})
        sock.sendall((head + body)[:40])
        reply = FrameCodec().read(sock)
        assert reply.header["ok"] is False and "read timeout of 0.3 s" in reply.header["error"]["error"]
        assert read_until_closed(sock) == b""
        assert_still_serves(server.port)


def test_connections_beyond_the_limit_get_an_error_and_are_closed_and_logged(caplog):
    with running_server(max_connections=2) as server:
        first, second = raw_connect(server.port), raw_connect(server.port)
        codec = FrameCodec()
        try:
            for n, sock in enumerate((first, second)):  # both admitted: each is answered
                codec.write(sock, {"kind": "command", "id": n + 1, "command": "hold"})
                assert codec.read(sock).header["echo"] == "hold"
            with caplog.at_level("WARNING", logger="anynode.net.server"):
                with raw_connect(server.port) as third:
                    refusal = codec.read(third)
                    assert refusal.header["ok"] is False
                    assert "too many connections (limit 2)" in refusal.header["error"]["error"]
                    assert read_until_closed(third) == b""
            assert "refused a TCP connection from 127.0.0.1:" in caplog.text
            assert server.stats()["refused_connections"] == 1
        finally:
            first.close()
        assert wait_until(lambda: server.stats()["active_connections"] == 1)
        assert_still_serves(server.port)  # a place freed up
        second.close()


def test_threads_bounds_frames_in_the_handler_at_once_not_connections():
    entered, release, lock = [], threading.Event(), threading.Lock()

    def blocking(header, payload):
        with lock:
            entered.append(header["command"])
        release.wait(5)
        return echo(header, payload)

    codec = FrameCodec()
    with running_server(blocking, threads=2) as server:
        socks = [raw_connect(server.port) for _ in range(3)]
        try:
            for n, sock in enumerate(socks):
                codec.write(sock, {"kind": "command", "id": 1, "command": f"c{n}"})
            assert wait_until(lambda: server.stats()["frames_in"] == 3 and len(entered) == 2)
            assert server.stats()["active_connections"] == 3
            assert len(entered) == 2  # the third frame waits for a free handler
            release.set()
            replies = sorted(codec.read(sock).header["echo"] for sock in socks)
            assert replies == ["c0", "c1", "c2"] and len(entered) == 3
        finally:
            release.set()
            for sock in socks:
                sock.close()


def test_tls_peer_that_never_shakes_hands_is_dropped_and_logged_while_others_are_served(tls_files, caplog):
    cert, key = tls_files
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    with caplog.at_level("WARNING", logger="anynode.net.server"):
        with running_server(ssl_context=server_ctx, read_timeout=0.5) as server:
            with raw_connect(server.port) as silent, NetClient(ssl_context=client_ctx) as client:
                dest = f"127.0.0.1:{server.port}"
                assert client.send_command(dest, "meanwhile", timeout=3)[0]["echo"] == "meanwhile"
                assert read_until_closed(silent) == b""
                assert client.send_command(dest, "after", timeout=3)[0]["echo"] == "after"
            assert server.stats()["tls_errors"] == 1
    assert "TLS handshake with 127.0.0.1:" in caplog.text

