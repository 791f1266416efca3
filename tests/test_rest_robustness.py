"""Bad and slow clients get errors, and the server keeps answering everyone else."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from anynode.rest.server import RestService
from tests.rest_helpers import (
    port_of,
    raw_exchange,
    read_response,
    read_until_close,
    rest_config,
    start,
)

GET_STATUS = b"GET / HTTP/1.1\r\nHost: x\r\ncommand: get status\r\n\r\n"


def _still_serves(url: str) -> None:
    r = httpx.get(url, headers={"command": "get status"}, timeout=3)
    assert r.status_code == 200 and r.text.endswith(" running")


@pytest.fixture
def url(node):  # type: ignore[no-untyped-def]
    return start(node, "and max_body = 1KB")


@pytest.mark.parametrize("garbage", [
    b"\x00\x01\x02\xff garbage\r\n\r\n",
    b"HELLO\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Header Without Colon\r\n\r\n",
    b"PUT / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
])
def test_garbage_gets_400_and_the_server_lives(url: str, garbage: bytes) -> None:
    reply = raw_exchange(port_of(url), garbage)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:80]
    _still_serves(url)


def test_client_that_hangs_up_mid_request(url: str) -> None:
    with socket.create_connection(("127.0.0.1", port_of(url))) as sock:
        sock.sendall(b"PUT / HTTP/1.1\r\nHost: x\r\ndbms: a\r\ntable: b\r\nContent-Length: 500\r\n\r\n{\"a\":")
    _still_serves(url)


def test_keep_alive_reuses_one_connection(url: str) -> None:
    with socket.create_connection(("127.0.0.1", port_of(url)), timeout=3) as sock:
        local = sock.getsockname()
        for _ in range(25):
            sock.sendall(GET_STATUS)
            status, headers, body = read_response(sock)
            assert status == 200 and body.endswith(b" running")
            assert headers.get("connection", "keep-alive").lower() != "close"
        assert sock.getsockname() == local


def test_httpx_client_keeps_its_connection(url: str) -> None:
    with httpx.Client() as client:
        ports = set()
        for _ in range(10):
            r = client.get(url, headers={"command": "get status"})
            assert r.status_code == 200
            stream = r.extensions["network_stream"]
            ports.add(stream.get_extra_info("socket").getsockname()[1])
        assert len(ports) == 1


def test_body_over_the_limit_is_413(url: str) -> None:
    big = b'{"value": "' + b"x" * 4000 + b'"}'
    r = httpx.put(url, headers={"dbms": "d", "table": "t"}, content=big, timeout=5)
    assert r.status_code == 413 and "1024" in r.json()["error"]

    def chunks() -> Iterator[bytes]:  # no content-length: counted while it arrives
        for _ in range(8):
            yield b" " * 512

    r = httpx.put(url, headers={"dbms": "d", "table": "t"}, content=chunks(), timeout=5)
    assert r.status_code == 413
    _still_serves(url)


@pytest.fixture
def slow_url(node):  # type: ignore[no-untyped-def]
    service = RestService(node, rest_config(node, internal_ip="127.0.0.1", internal_port=0, bind=True,
                                            client_timeout=0.5))
    node.services.start(service)
    return f"http://127.0.0.1:{service.port}"


def test_dribbling_headers_do_not_block_others_and_time_out(slow_url: str) -> None:
    with socket.create_connection(("127.0.0.1", port_of(slow_url)), timeout=3) as slow:
        began = time.monotonic()
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        slow.sendall(b"command: get")
        for _ in range(3):
            _still_serves(slow_url)
        assert time.monotonic() - began < 0.5
        reply = read_until_close(slow)
        assert reply.startswith(b"HTTP/1.1 408")
        assert 0.4 < time.monotonic() - began < 2.5


def test_silent_connection_is_closed(slow_url: str) -> None:
    with socket.create_connection(("127.0.0.1", port_of(slow_url)), timeout=3) as idle:
        began = time.monotonic()
        assert read_until_close(idle).startswith(b"HTTP/1.1 408")
        assert time.monotonic() - began < 2.5


def test_dribbling_body_times_out(slow_url: str, node) -> None:  # type: ignore[no-untyped-def]
    node.execute("create work directories")
    with socket.create_connection(("127.0.0.1", port_of(slow_url)), timeout=3) as slow:
        slow.sendall(b"PUT / HTTP/1.1\r\nHost: x\r\ndbms: a\r\ntable: b\r\nContent-Length: 100\r\n\r\n{\"a\":")
        _still_serves(slow_url)
        status, _, body = read_response(slow)
        assert status == 408 and b"did not arrive" in body


def test_head_reply_has_no_body_and_the_connection_goes_on(url: str) -> None:
    with socket.create_connection(("127.0.0.1", port_of(url)), timeout=3) as sock:
        sock.sendall(b"HEAD /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(65536)
            assert chunk, head
            head += chunk
        assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n")  # nothing after the head
        sock.sendall(GET_STATUS)
        status, _, body = read_response(sock)
        assert status == 200 and body.endswith(b" running")


def test_expect_100_continue_is_answered_before_the_body(url: str, node) -> None:  # type: ignore[no-untyped-def]
    node.execute("create work directories")
    rows = b'{"value": 1}'
    with socket.create_connection(("127.0.0.1", port_of(url)), timeout=3) as sock:
        sock.sendall(b"PUT / HTTP/1.1\r\nHost: x\r\ndbms: d\r\ntable: t\r\nExpect: 100-continue\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(rows))
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100"), interim
        sock.sendall(rows)
        status, _, body = read_response(sock)
        assert status == 200, body


def test_pipelined_requests_get_their_replies_in_order(url: str) -> None:
    last = b"GET / HTTP/1.1\r\nHost: x\r\ncommand: get status\r\nConnection: close\r\n\r\n"
    reply = raw_exchange(port_of(url), GET_STATUS + b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n" + last)
    assert reply.count(b"HTTP/1.1 200") == 3
    first, second, third = reply.split(b"HTTP/1.1 200")[1:]
    assert first.endswith(b" running") and second.endswith(b'{"status":"live"}') and third.endswith(b" running")


def test_connection_close_gets_the_whole_reply(url: str) -> None:
    reply = raw_exchange(port_of(url), b"GET / HTTP/1.1\r\nHost: x\r\ncommand: get status\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200") and b"connection: close" in reply.lower()
    assert reply.endswith(b" running")


def test_idle_keep_alive_connection_is_not_a_slow_request(slow_url: str) -> None:
    """The header deadline (0.5 s here) runs from a request's first byte; an idle
    connection between requests is the keep-alive timeout's business (5 s)."""
    with socket.create_connection(("127.0.0.1", port_of(slow_url)), timeout=3) as sock:
        sock.sendall(GET_STATUS)
        assert read_response(sock)[0] == 200
        time.sleep(1.2)
        sock.sendall(GET_STATUS)
        status, _, body = read_response(sock)
        assert status == 200 and body.endswith(b" running")
