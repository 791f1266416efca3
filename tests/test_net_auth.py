"""Network-key authentication: signatures, replay window, nonces, on the wire."""

from __future__ import annotations

import pytest

from anynode.net.auth import Authenticator, make_authenticator
from anynode.net.client import NetClient
from anynode.net.errors import AuthError
from anynode.net.protocol import FrameCodec
from tests.net_helpers import raw_connect, read_until_closed, running_server

pytestmark = pytest.mark.timeout(30)


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def signed(auth: Authenticator, header: dict | None = None, payload: bytes = b"data") -> tuple[dict, bytes]:
    return auth.sign(header or {"kind": "command", "id": 1, "command": "get status"}, payload), payload


def test_signed_frame_verifies_and_the_handler_never_sees_the_auth_field():
    auth = Authenticator("s3cret")
    header, payload = signed(auth)
    assert set(header["auth"]) == {"ts", "nonce", "sig"}
    Authenticator("s3cret").verify(header, payload)
    assert "auth" not in header and header["command"] == "get status"


def test_wrong_key_missing_signature_and_tampering_are_refused():
    good = Authenticator("right key")
    header, payload = signed(Authenticator("wrong key"))
    with pytest.raises(AuthError, match="different network key"):
        good.verify(header, payload)
    with pytest.raises(AuthError, match="not signed"):
        good.verify({"kind": "command", "id": 1}, b"")
    header, payload = signed(Authenticator("right key"))
    with pytest.raises(AuthError, match="different network key"):
        good.verify(dict(header), b"other payload")
    with pytest.raises(AuthError, match="different network key"):
        good.verify(dict(header, command="system rm -rf /"), payload)


def test_replayed_frame_is_refused():
    sender, receiver = Authenticator("k"), Authenticator("k")
    header, payload = signed(sender)
    receiver.verify(dict(header), payload)
    with pytest.raises(AuthError, match="nonce was already used"):
        receiver.verify(dict(header), payload)


def test_frames_outside_the_replay_window_are_refused():
    clock = FakeClock()
    sender = Authenticator("k", clock=clock)
    receiver = Authenticator("k", window=60, clock=clock)
    header, payload = signed(sender)
    clock.now += 61
    with pytest.raises(AuthError, match=r"\+?-61\.0 s from this node's clock.*±60 s"):
        receiver.verify(header, payload)
    clock.now -= 200  # a sender whose clock runs ahead
    header, payload = signed(Authenticator("k", clock=FakeClock(clock.now + 100)))
    with pytest.raises(AuthError, match="outside the replay window"):
        receiver.verify(header, payload)


def test_nonce_memory_is_bounded_and_dropped_nonces_cannot_be_replayed():
    clock = FakeClock()
    sender = Authenticator("k", clock=clock)
    receiver = Authenticator("k", max_nonces=10, clock=clock)
    frames = []
    for i in range(50):
        clock.now += 0.01
        frames.append(signed(sender, {"kind": "event", "id": i}))
        receiver.verify(dict(frames[-1][0]), frames[-1][1])
    assert receiver.nonces_held() <= 10
    first_header, first_payload = frames[0]
    with pytest.raises(AuthError, match="refused"):
        receiver.verify(dict(first_header), first_payload)
    clock.now += 130  # every remembered frame is now outside the window: memory drains
    receiver.verify(*signed(sender))
    assert receiver.nonces_held() == 1


def test_no_key_means_authentication_off():
    assert make_authenticator(None) is None and make_authenticator("") is None
    assert isinstance(make_authenticator("k"), Authenticator)
    with pytest.raises(ValueError, match="empty"):
        Authenticator(b"")


def test_server_with_a_key_refuses_clients_without_it_or_with_another_one():
    with running_server(auth=Authenticator("net-key")) as server:
        dest = f"127.0.0.1:{server.port}"
        with NetClient(auth=Authenticator("net-key")) as good:
            header, _ = good.send_command(dest, "get status", timeout=3)
            assert header["echo"] == "get status" and "auth" not in header
        with NetClient() as keyless:
            with pytest.raises(AuthError, match="refused the request: frame is not signed"):
                keyless.send_command(dest, "get status", timeout=3)
        with NetClient(auth=Authenticator("guess")) as wrong:
            with pytest.raises(AuthError, match="refused"):
                wrong.send_command(dest, "get status", timeout=3)
        with NetClient(auth=Authenticator("net-key")) as good:
            assert good.send_command(dest, "still up", timeout=3)[0]["echo"] == "still up"
        stats = server.stats()
        assert stats["auth_errors"] == 2 and stats["frames_in"] == 2


def test_client_with_a_key_refuses_an_unsigned_reply():
    with running_server() as server:
        with NetClient(auth=Authenticator("net-key")) as client:
            with pytest.raises(AuthError, match="not signed"):
                client.send_command(f"127.0.0.1:{server.port}", "get status", timeout=3)


def test_frame_replayed_on_the_wire_is_refused_by_the_server():
    client_codec = FrameCodec(auth=Authenticator("net-key"))
    reply_codec = FrameCodec(auth=Authenticator("net-key"))
    head, body = client_codec.encode({"kind": "command", "id": 1, "command": "get status"})
    captured = head + body
    with running_server(auth=Authenticator("net-key")) as server:
        with raw_connect(server.port) as first:
            first.sendall(captured)
            reply = reply_codec.read(first)
            assert reply.header["ok"] is True and reply.header["echo"] == "get status"
        with raw_connect(server.port) as replay:
            replay.sendall(captured)
            refusal = reply_codec.read(replay)
            assert refusal.header["ok"] is False and refusal.id == 1
            assert refusal.header["error"]["kind"] == "AuthError"
            assert "already used" in refusal.header["error"]["error"]
            assert read_until_closed(replay) == b""
