"""Fuzz of the frame protocol against a running node's TCP server (issue 16).

Random bytes, truncated frames, wrong and huge declared lengths, bad
signatures and valid frames with garbage headers and payloads go over real
sockets to `run tcp server` on a keyed and an unkeyed node. Whatever arrives,
the server answers with whole frames or closes within the client's timeout,
no reply carries a traceback or an internal error, the service never
crashes, and a real peer's `run client` is answered afterwards. Bounded:
a few hundred examples in all, so the file runs in well under 20 s.
"""

from __future__ import annotations

import hashlib
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from anynode.net.auth import Authenticator
from anynode.net.protocol import MAGIC, PREFIX, PREFIX_SIZE, FrameCodec
from anynode.node import Node

pytestmark = pytest.mark.timeout(60)

KEY = "fuzz-network-key"
CLIENT_TIMEOUT = 3.0  # seconds a fuzz connection may stay open before the server is said to hang
FUZZ = settings(max_examples=100, deadline=None, database=None, derandomize=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@dataclass
class Target:
    """A node serving TCP, the address of its server, and a second node that asks it things."""

    server: Node
    asker: Node
    port: int
    keyed: bool

    def codec(self) -> FrameCodec:
        """A codec that signs as a peer with the key does (a fresh nonce cache each time)."""
        return FrameCodec(auth=Authenticator(KEY) if self.keyed else None)


@pytest.fixture(params=["keyed", "unkeyed"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    server, asker = Node(tmp_path / "server", name="fuzzed"), Node(tmp_path / "asker", name="asker")
    keyed = request.param == "keyed"
    if keyed:
        for n in (server, asker):
            n.execute(f"set network key {KEY}")
    msg = server.execute("run tcp server where internal_ip = 127.0.0.1 and internal_port = 0 and bind = true "
                         "and first_frame_timeout = 2").to_text()
    port = int(re.search(r"127\.0\.0\.1:(\d+)", msg).group(1))  # type: ignore[union-attr]
    yield Target(server, asker, port, keyed)
    try:
        assert_node_is_well(Target(server, asker, port, keyed))
    finally:
        asker.close()
        server.close()


def assert_node_is_well(t: Target) -> None:
    """The service never crashed, no handler or connection bug was logged, and a real peer is answered."""
    status = t.server.services.status("TCP")
    assert status.state == "Running" and status.restarts == 0
    began = time.monotonic()
    reply = t.asker.execute(f"run client (127.0.0.1:{t.port}, timeout = 3) get node name")
    assert reply.replies[0].result.to_text() == "fuzzed" and time.monotonic() - began < 2.0
    log = (t.server.home / "logs" / "root.log").read_text(errors="replace")
    assert "Traceback" not in log and "failed unexpectedly" not in log and "TCP handler failed" not in log


def exchange(t: Target, data: bytes) -> bytes:
    """Send ``data`` on a new connection, half-close, and return all the server sends until it closes.

    Fails if the server keeps the connection open past CLIENT_TIMEOUT (a hang).
    """
    received = bytearray()
    with socket.create_connection(("127.0.0.1", t.port), timeout=CLIENT_TIMEOUT) as sock:
        deadline = time.monotonic() + CLIENT_TIMEOUT
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):  # the server refused early and closed
            pass
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"the server kept the connection open for {CLIENT_TIMEOUT} s after {data[:60]!r}"
            sock.settimeout(left)
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            except TimeoutError:
                continue  # the assert above reports the hang
            if not chunk:
                break
            received += chunk
    return bytes(received)


def check_replies(t: Target, data: bytes, fuzzing: bool = True) -> list[dict[str, Any]]:
    """Every byte the server sent is a whole, correctly signed reply frame with no traceback in it.

    While ``fuzzing``, each reply is recorded for hypothesis' statistics (--hypothesis-show-statistics).
    """
    assert b"Traceback" not in data and b'File "' not in data
    codec, headers, pos = t.codec(), [], 0
    while pos < len(data):
        hlen, plen = codec.parse_prefix(data[pos:pos + PREFIX_SIZE])
        end = pos + PREFIX_SIZE + hlen + plen
        assert end <= len(data), "the server sent part of a frame"
        frame = codec.parse_body(data[pos + PREFIX_SIZE:pos + PREFIX_SIZE + hlen], data[pos + PREFIX_SIZE + hlen:end])
        assert frame.kind == "reply"
        error = frame.header.get("error")
        if error is not None:
            text = error["error"]
            assert isinstance(text, str) and text and "\n" not in text
            assert "internal error" not in text, text  # a handler bug, even without its traceback
        if fuzzing:
            event("answered" if error is None else "refused: " + " ".join(error["error"].split()[:3]))
        headers.append(frame.header)
        pos = end
    return headers


def prefix(hlen: int, plen: int, major: int = 1, minor: int = 0, magic: bytes = MAGIC) -> bytes:
    return PREFIX.pack(magic, major, minor, hlen, plen)


# -- strategies ---------------------------------------------------------------------

json_scalars = (st.none() | st.booleans() | st.integers(min_value=-2**63, max_value=2**64 - 1)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
EMPTY_SHA = hashlib.sha256(b"").hexdigest()
COMMANDS = ["get status", "get node name", "echo", "sql", "sql demo", "get columns", "help", "json", "incr",
            "get stats where service =", "time file get", "run client (1.2.3.4:5)", "exit node", "system ls",
            "set network key", "get tsd", "get dictionary", "x =", "process", "file copy"]
commands = st.one_of(st.sampled_from(COMMANDS), st.text(max_size=80),
                     st.builds(lambda a, b: f"{a} {b}", st.sampled_from(COMMANDS), st.text(max_size=60)))


def mostly(likely: st.SearchStrategy[Any], other: st.SearchStrategy[Any] = json_values) -> st.SearchStrategy[Any]:
    """Draws from ``likely`` nine times in ten, else from ``other`` (garbage of any JSON type)."""
    return st.sampled_from((True,) * 9 + (False,)).flatmap(lambda yes: likely if yes else other)


headers = st.fixed_dictionaries(
    {"kind": mostly(st.sampled_from(["command", "command", "command", "file", "file", "event", "reply"])),
     "id": mostly(st.integers(min_value=0, max_value=2**63)), "command": mostly(commands)},
    optional={"transfer": mostly(st.sampled_from(["ab" * 8, "0" * 64])),
              "op": mostly(st.sampled_from(["chunk", "abort"])), "offset": mostly(st.sampled_from([0, 0, 1, -1])),
              "name": mostly(st.sampled_from(["x.json", "../x", "/etc/passwd", "", ".", "a\0b", "é" * 200])),
              "target": mostly(st.sampled_from(["watch", "prep", "bkup", "blobs", "tmp", "/", "nowhere"])),
              "sha256": mostly(st.sampled_from([EMPTY_SHA, "0" * 64])), "last": json_values,
              "file_size": mostly(st.integers(0, 10)), "file_sha256": mostly(st.sampled_from([EMPTY_SHA])),
              "_peer": json_values})
payloads = st.binary(max_size=300)


def encode(t: Target, header: dict[str, Any], payload: bytes) -> bytes:
    """The frame a peer would send (signed on the keyed node)."""
    head, body = t.codec().encode(header, payload)
    return head + body


# -- the fuzz tests ---------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=600) | st.builds(lambda rest: MAGIC + b"\x01\x00" + rest, st.binary(max_size=600)))
def test_random_bytes_are_refused_or_ignored_and_the_node_stays_up(target: Target, data: bytes) -> None:
    check_replies(target, exchange(target, data))


@FUZZ
@given(hlen=st.one_of(st.integers(0, 64), st.integers(0, 2**32 - 1), st.sampled_from([2**32 - 1, 16 * 2**20])),
       plen=st.one_of(st.integers(0, 64), st.integers(0, 2**32 - 1), st.sampled_from([2**31, 16 * 2**20 + 1])),
       major=st.sampled_from([1, 1, 1, 0, 2, 255]), minor=st.integers(0, 255),
       magic=st.sampled_from([MAGIC, MAGIC, b"AX", b"\0\0"]),
       body=st.binary(max_size=200) | st.builds(orjson.dumps, st.dictionaries(st.text(max_size=6), json_values)),
       cut=st.none() | st.integers(0, 250), repeat=st.integers(1, 3))
def test_wrong_huge_and_truncated_lengths_are_refused_and_the_node_stays_up(
        target: Target, hlen: int, plen: int, major: int, minor: int, magic: bytes, body: bytes,
        cut: int | None, repeat: int) -> None:
    frame = prefix(hlen, plen, major, minor, magic) + body
    data = (frame * repeat)[:cut] if cut is not None else frame * repeat
    check_replies(target, exchange(target, data))


@FUZZ
@given(frames=st.lists(st.tuples(headers, payloads), min_size=1, max_size=3))
def test_valid_frames_with_garbage_headers_and_payloads_get_clean_replies(
        target: Target, frames: list[tuple[dict[str, Any], bytes]]) -> None:
    data = b"".join(encode(target, dict(h), p) for h, p in frames)
    check_replies(target, exchange(target, data))


@pytest.mark.parametrize("target", ["keyed"], indirect=True)
@FUZZ
@given(header=headers, payload=payloads, auth=st.one_of(
    st.none(), json_values,
    st.fixed_dictionaries({"ts": json_values, "nonce": json_values, "sig": json_values}),
    st.fixed_dictionaries({"ts": st.integers(0, 2**63), "nonce": st.text(min_size=16, max_size=130),
                           "sig": st.text(max_size=70)})),
    tamper=st.sampled_from(["replace", "flip", "skew", "replay"]))
def test_bad_signatures_are_refused_by_the_keyed_node(
        target: Target, header: dict[str, Any], payload: bytes, auth: Any, tamper: str) -> None:
    signed = Authenticator(KEY).sign(dict(header, kind="command", id=1, command="get status"), payload)
    copies = 1
    if tamper == "replace":
        signed["auth"] = auth
    elif tamper == "flip":
        sig = signed["auth"]["sig"]
        signed["auth"]["sig"] = ("0" if sig[0] != "0" else "1") + sig[1:]
    elif tamper == "skew":
        signed["auth"] = dict(signed["auth"], ts=signed["auth"]["ts"] - 3_600_000)
    else:  # the same signed frame twice: the second is a replay
        copies = 2
    head = orjson.dumps(signed)
    replies = check_replies(target, exchange(target, (prefix(len(head), len(payload)) + head + payload) * copies))
    assert replies[-1]["ok"] is False and replies[-1]["error"]["error"].startswith("frame")
    assert len(replies) == copies  # a refused frame closes the connection


def test_a_huge_declared_frame_is_refused_before_anything_is_buffered(target: Target) -> None:
    began = time.monotonic()
    replies = check_replies(target, exchange(target, prefix(2**31, 2**31 - 1) + b"{"), fuzzing=False)
    assert "exceeds the maximum frame size" in replies[0]["error"]["error"]
    assert time.monotonic() - began < 1.0


def test_a_frame_declared_longer_than_sent_is_dropped_when_the_peer_stops(target: Target) -> None:
    head = orjson.dumps({"kind": "command", "id": 1, "command": "get status"})
    assert exchange(target, prefix(len(head) + 50, 0) + head) == b""
