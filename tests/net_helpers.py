"""Helpers shared by the tests of anynode/net: servers on 127.0.0.1 port 0, hanging peers, raw sockets.

A port where nothing listens is tests.helpers.free_port; conftest checks that no anynode thread outlives a test."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from anynode.net.server import FrameServer


def echo(header: dict[str, Any], payload: bytes) -> tuple[dict[str, Any], bytes]:
    """A handler that answers with the command text and the payload it got."""
    return {"echo": header.get("command"), "got_kind": header.get("kind")}, payload


@contextlib.contextmanager
def running_server(handler: Callable[..., Any] = echo, **kwargs: Any) -> Iterator[FrameServer]:
    """Run a FrameServer on 127.0.0.1:0 in a thread; stop it and check it stops in < 1 s."""
    server = FrameServer(handler, "127.0.0.1", 0, **kwargs)
    stop, ready = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.serve(stop, ready.set)
        except BaseException as exc:  # surfaced to the test below
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="anynode:tcp", daemon=True)
    thread.start()
    assert ready.wait(5), "server did not become ready"
    if failure:
        thread.join(2)
        raise failure[0]
    try:
        yield server
    finally:
        began = time.monotonic()
        stop.set()
        thread.join(5)
        assert not thread.is_alive(), "serve() did not return after stop"
        assert time.monotonic() - began < 1.0, "serve() took more than 1 s to stop"
    if failure:
        raise failure[0]


@contextlib.contextmanager
def hanging_peer() -> Iterator[int]:
    """A port that accepts connections (kernel backlog) but never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


def raw_connect(port: int, timeout: float = 3.0) -> socket.socket:
    """A plain blocking socket to 127.0.0.1:port, for hand-made bytes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_until_closed(sock: socket.socket, limit: float = 3.0) -> bytes:
    """Everything the peer sends until it closes (or ``limit`` seconds pass)."""
    deadline = time.monotonic() + limit
    chunks = []
    while time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            break
        if not data:
            return b"".join(chunks)
        chunks.append(data)
    raise AssertionError(f"peer did not close the connection within {limit} s")
