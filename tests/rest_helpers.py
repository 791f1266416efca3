"""Helpers shared by the REST tests (no tests here): node-local test commands, raw HTTP, fixtures."""

from __future__ import annotations

import socket
import threading
from dataclasses import fields
from typing import Any

from anynode.grammar.registry import Registry
from anynode.grammar.spec import CommandSpec
from anynode.results import Message


def rest_config(node: Any, **given: Any) -> Any:
    """A RestConfig as ``run rest server`` makes it: the declared defaults, then ``given``."""
    from anynode.rest.server import RestConfig

    declared = node.registry.get("run rest server").defaults()
    names = {f.name for f in fields(RestConfig)}
    return RestConfig(**{**{k: v for k, v in declared.items() if k in names}, **given})


def add_test_commands(node: Any) -> threading.Event:
    """Give ``node`` (only it: its own registry copy) remote test commands:
    ``test bump`` (POST, changes a variable), ``test wait`` (GET, blocks
    until the returned event is set, at most 5 s), ``test where`` and
    ``test quick`` (the thread they run on; quick is declared non-blocking)."""
    release = threading.Event()

    def bump(ctx: Any) -> Message:
        value = int(ctx.node.get_var("bumps") or 0) + 1
        ctx.node.set_var("bumps", str(value))
        return Message(f"bumped to {value}")

    def wait(ctx: Any) -> Message:
        release.wait(5)
        return Message("done waiting")

    def where(ctx: Any) -> Message:
        return Message(threading.current_thread().name)

    specs = {spec.words: spec for spec in node.registry}
    specs[("test", "where")] = CommandSpec(words=("test", "where"), handler=where, remote=True)
    quick = CommandSpec(words=("test", "quick"), handler=where, remote=True)
    object.__setattr__(quick, "blocking", False)  # as a declaration will say it
    specs[("test", "quick")] = quick
    specs[("test", "bump")] = CommandSpec(words=("test", "bump"), handler=bump, remote=True, http="POST")
    specs[("test", "wait")] = CommandSpec(words=("test", "wait"), handler=wait, remote=True, http="GET")
    node.registry = Registry(specs)
    return release


def raw_exchange(port: int, data: bytes, timeout: float = 3.0) -> bytes:
    """Send raw bytes, read until the server closes or ``timeout``; the bytes read."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_until_close(sock)


def read_until_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (or the socket times out)."""
    out = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            out += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return out


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response with a content-length from ``sock``."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {buf!r}"
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk
        rest += chunk
    return status, headers, rest[:length]


def start(node: Any, extra: str = "") -> str:
    """Start the REST server of ``node`` on 127.0.0.1, a free port; its base URL."""
    reply = node.execute(f"run rest server where ip = 127.0.0.1 and port = 0 and bind = true {extra}").to_text()
    assert reply.startswith("REST server listening on http"), reply
    return reply.rsplit(" ", 1)[1]


def port_of(url: str) -> int:
    """The port of a base URL."""
    return int(url.rsplit(":", 1)[1])


ANYLOG = {"User-Agent": "AnyLog/1.23"}
