"""REST hardening (issue 16): client mistakes get 4xx, never 500; the server says where it really
listens; a PUT refuses at once what the operator would refuse later; many clients that connect at
once are all accepted at once."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
from tests.rest_helpers import port_of, read_response, start

from anynode.grammar.registry import Registry
from anynode.grammar.spec import CommandSpec
from anynode.results import Message


def _add_hog(node: Any) -> None:
    """``test hog``: a command declared non-blocking that holds the event loop 10 ms, as a loaded
    loop does when it serves many clients in one turn."""
    def hog(ctx: Any) -> Message:
        time.sleep(0.01)
        return Message("hog")

    specs = {spec.words: spec for spec in node.registry}
    spec = CommandSpec(words=("test", "hog"), handler=hog, remote=True)
    object.__setattr__(spec, "blocking", False)
    specs[("test", "hog")] = spec
    node.registry = Registry(specs)


def _request(command: str) -> bytes:
    return f"GET / HTTP/1.1\r\nHost: x\r\ncommand: {command}\r\n\r\n".encode()


def test_clients_that_connect_at_once_are_accepted_at_once(node) -> None:  # type: ignore[no-untyped-def]
    """libuv accepts one connection per loop turn; with a busy loop (8 clients keeping it 80 ms
    per turn) 100 newcomers would wait 100 turns (8 s). They are all accepted in one."""
    _add_hog(node)
    port = port_of(start(node))
    stop = threading.Event()

    def keep_busy() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            while not stop.is_set():
                sock.sendall(_request("test hog"))
                read_response(sock)

    hogs = [threading.Thread(target=keep_busy) for _ in range(8)]
    for t in hogs:
        t.start()
    newcomers: list[socket.socket] = []
    try:
        time.sleep(0.3)  # the loop is busy
        began = time.monotonic()
        newcomers = [socket.create_connection(("127.0.0.1", port), timeout=6) for _ in range(100)]
        for sock in newcomers:
            sock.sendall(_request("get status"))
        for sock in newcomers:
            status, _, body = read_response(sock)
            assert status == 200 and body.endswith(b" running")
        took = time.monotonic() - began
    finally:
        stop.set()
        for t in hogs:
            t.join(10)
        for sock in newcomers:
            sock.close()
    assert took < 3.0, f"100 clients took {took:.1f} s to be served"
