"""BoundedHandler: how the frame server calls its handler."""

from __future__ import annotations

import logging
import threading

from anynode.errors import NotPermitted
from anynode.net.handling import BoundedHandler
from anynode.net.protocol import Frame

LOG = logging.getLogger("test.handling")


def frame(command: str = "x", request_id: int = 7) -> Frame:
    return Frame({"kind": "command", "id": request_id, "command": command}, b"data")


def test_a_reply_carries_kind_id_and_ok_and_keeps_the_handlers_fields():
    calls = BoundedHandler(lambda h, p: ({"echo": h["command"], "id": 99}, p.upper()), 1, threading.Event(), LOG)
    header, payload, failed = calls(frame("hello"))
    assert header == {"echo": "hello", "kind": "reply", "id": 7, "ok": True}
    assert payload == b"DATA" and failed is False


def test_errors_and_bugs_in_the_handler_become_error_replies(caplog):
    def handler(header, payload):
        if header["command"] == "refused":
            raise NotPermitted("not for peers", "run it locally")
        if header["command"] == "bad shape":
            return "text", b""
        raise ZeroDivisionError("boom")

    calls = BoundedHandler(handler, 2, threading.Event(), LOG)
    refused, _, failed = calls(frame("refused"))
    assert failed and refused["ok"] is False and refused["id"] == 7
    assert refused["error"]["kind"] == "NotPermitted" and refused["error"]["hint"] == "run it locally"
    with caplog.at_level("ERROR", logger="test.handling"):
        bad, _, _ = calls(frame("bad shape"))
        bug, _, _ = calls(frame("bug"))
    assert "internal error on the peer: TypeError: handler returned str, bytes" in bad["error"]["error"]
    assert "internal error on the peer: ZeroDivisionError: boom" in bug["error"]["error"]
    assert "TCP handler failed on a command frame" in caplog.text


def test_a_caller_waiting_for_a_slot_gives_up_when_the_server_stops():
    stopping, inside, release = threading.Event(), threading.Event(), threading.Event()

    def busy(header, payload):
        inside.set()
        release.wait(5)
        return {}, b""

    calls = BoundedHandler(busy, 1, stopping, LOG)
    first = threading.Thread(target=calls, args=(frame(),))
    first.start()
    try:
        assert inside.wait(3)
        stopping.set()
        assert calls(frame()) is None  # the only slot is taken: it does not wait forever
    finally:
        release.set()
        first.join(3)
