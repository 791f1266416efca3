"""Frame encoding and decoding on blocking sockets."""

from __future__ import annotations

import socket
import threading
import time

import orjson
import pytest

from anynode.net.errors import ConnectionLost, ProtocolError
from anynode.net.protocol import MAGIC, PREFIX, PREFIX_SIZE, FrameCodec

pytestmark = pytest.mark.timeout(20)


@pytest.fixture()
def pair():
    a, b = socket.socketpair()
    a.settimeout(3)
    b.settimeout(3)
    yield a, b
    a.close()
    b.close()


def raw_frame(header: bytes, payload: bytes = b"", major: int = 1, magic: bytes = MAGIC) -> bytes:
    return PREFIX.pack(magic, major, 0, len(header), len(payload)) + header + payload


def test_round_trip_keeps_header_payload_and_id(pair):
    a, b = pair
    codec = FrameCodec()
    payload = bytes(range(256)) * 1000  # 256 kB: above the single-write threshold
    def send() -> None:
        codec.write(a, {"kind": "command", "id": 7, "command": "get status", "n": [1, 2]}, payload)
        codec.write(a, {"kind": "event", "id": 8})

    writer = threading.Thread(target=send)
    writer.start()
    first, second = codec.read(b), codec.read(b)
    writer.join(3)
    assert (first.kind, first.id, first.header["command"], first.header["n"]) == ("command", 7, "get status", [1, 2])
    assert first.payload == payload
    assert (second.kind, second.id, second.payload) == ("event", 8, b"")


def test_clean_close_reads_none_and_a_cut_frame_is_connection_lost(pair):
    a, b = pair
    codec = FrameCodec()
    a.close()
    assert codec.read(b) is None
    c, d = socket.socketpair()
    with c, d:
        head, body = codec.encode({"kind": "command", "id": 1}, b"x" * 100)
        c.sendall((head + body)[:50])
        c.close()
        with pytest.raises(ConnectionLost, match="middle of a frame"):
            codec.read(d)


def test_unknown_major_version_is_refused(pair):
    a, b = pair
    a.sendall(raw_frame(b'{"kind":"command","id":1}', major=2))
    with pytest.raises(ProtocolError, match=r"version 2\.0 refused: this node speaks 1\.x"):
        FrameCodec().read(b)


def test_garbage_is_not_an_anynode_frame(pair):
    a, b = pair
    a.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(ProtocolError, match="not an anynode frame"):
        FrameCodec().read(b)


def test_oversized_frame_refused_from_prefix_without_waiting_for_the_body(pair):
    a, b = pair
    codec = FrameCodec(max_frame_size=1024)
    a.sendall(PREFIX.pack(MAGIC, 1, 0, 20, 10_000_000))  # announces 10 MB, sends none of it
    began = time.monotonic()
    with pytest.raises(ProtocolError, match="exceeds the maximum frame size of 1024"):
        codec.read(b)
    assert time.monotonic() - began < 1
    with pytest.raises(ProtocolError, match="exceeds the maximum"):
        codec.encode({"kind": "command", "id": 1}, b"x" * 2000)


@pytest.mark.parametrize("header, message", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2, 3]", "must be a JSON object"),
    (b'{"kind": "command"}', "'id' must be a non-negative integer"),
    (b'{"kind": "command", "id": -4}', "'id' must be a non-negative integer"),
    (b'{"id": 3}', "'kind' must be one of"),
])
def test_malformed_headers_are_refused_with_what_is_wrong(pair, header, message):
    a, b = pair
    a.sendall(raw_frame(header))
    with pytest.raises(ProtocolError, match=message):
        FrameCodec().read(b)


def test_header_that_is_not_json_serialisable_is_refused():
    with pytest.raises(ProtocolError, match="not JSON-serialisable"):
        FrameCodec().encode({"kind": "command", "id": 1, "x": object()})


def test_blocking_read_deadline_stops_a_dribbling_peer(pair):
    a, b = pair
    head, _ = FrameCodec().encode({"kind": "command", "id": 1, "pad": "x" * 100})
    stop = threading.Event()

    def dribble() -> None:
        for byte in head:
            if stop.wait(0.05):
                return
            try:
                a.send(bytes([byte]))
            except OSError:
                return

    t = threading.Thread(target=dribble)
    t.start()
    began = time.monotonic()
    try:
        with pytest.raises(socket.timeout):
            FrameCodec().read(b, deadline=time.monotonic() + 0.4)
        assert time.monotonic() - began < 1.0
    finally:
        stop.set()
        t.join(2)


def test_prefix_layout_is_twelve_bytes_magic_version_lengths():
    head, payload = FrameCodec().encode({"kind": "event", "id": 0}, b"abc")
    assert PREFIX_SIZE == 12
    assert head[:4] == b"AN\x01\x01"  # minor 1: query frames and replies in parts
    hlen = int.from_bytes(head[4:8], "big")
    assert orjson.loads(head[12:12 + hlen]) == {"kind": "event", "id": 0}
    assert int.from_bytes(head[8:12], "big") == 3 and payload == b"abc"


def test_buffered_read_takes_back_to_back_frames_from_one_recv(pair):
    a, b = pair
    codec = FrameCodec()
    first, _ = codec.encode({"kind": "reply", "id": 1}, b"")
    second, body = codec.encode({"kind": "reply", "id": 2}, b"two")
    a.sendall(first + second + body)
    buffer = bytearray()
    assert codec.read(b, time.monotonic() + 2, buffer).id == 1
    assert len(buffer) > 0  # the second frame came with the first recv
    frame = codec.read(b, time.monotonic() + 2, buffer)
    assert (frame.id, frame.payload, buffer) == (2, b"two", bytearray())
