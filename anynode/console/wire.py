"""The console's socket path and messages: one JSON object per line, both ways.

Client to node::

    {"op": "hello"}                                   -> {"name", "home", "pid", "version", "services"}
    {"op": "run", "line": ..., "source": "cli"|"repl", "fmt": "table"|"json",
     "color": bool, "width": int|null, "max_rows": int}
    {"op": "script", "text": ..., "fmt", "color", "width"}   (a pipe: the whole text, run as one script)
    {"op": "cancel"}                                   (while a run or script is going: Ctrl-C)
    {"op": "redact", "line": ...}                      -> {"line": the line as it may be written down}

Node to client, for a run: any number of ``{"out": text, "more": bool}`` (one
output in pieces of at most 1 M characters; ``more`` until its last piece) and
``{"err": text}``, then ``{"done": exit_code, "cancelled": reason|null,
"exiting": bool}``.
A refused peer gets ``{"refused": reason}`` and the connection closes.
"""

from __future__ import annotations

import json
import os
import select
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RUN_DIR = "run"
SOCKET_NAME = "console.sock"
_MAX_PATH = 100  # sun_path holds 108 bytes; longer paths are reached through /proc/self/fd
MAX_MESSAGE = 16 * 1024 * 1024


def socket_path(home: Path) -> Path:
    """Where the node of ``home`` serves its console."""
    return home / RUN_DIR / SOCKET_NAME


@contextmanager
def reachable(path: Path) -> Iterator[str]:
    """A name for ``path`` that fits in a socket address: the path, or one through an open directory."""
    if len(os.fsencode(str(path))) < _MAX_PATH:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED: the kernel's word)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


WAITING: dict[str, Any] = {}
"""What :meth:`Channel.receive` answers when its timeout passed with no message (compare with ``is``)."""


class Channel:
    """Messages over one connected socket: ``send(dict)`` and ``receive() -> dict | None`` (None at EOF).

    Lines are buffered here, not in a file object, so a receive that a
    timeout or a KeyboardInterrupt (Ctrl-C in a client) ends loses nothing.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = b""

    def send(self, message: dict[str, Any]) -> None:
        """Write one message (raises OSError when the other end went away)."""
        data = json.dumps(message, ensure_ascii=False, default=str).encode("utf-8") + b"\n"
        self.sock.sendall(data)

    def receive(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message; None when the other end closed or sent something that is not one;
        :data:`WAITING` when ``timeout`` seconds passed first."""
        while b"\n" not in self._buf:
            if timeout is not None and not select.select([self.sock], [], [], timeout)[0]:
                return WAITING
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return None
            if not chunk or len(self._buf) + len(chunk) > MAX_MESSAGE:
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        try:
            message = json.loads(line)
        except ValueError:
            return None
        return message if isinstance(message, dict) else None

    def close(self) -> None:
        """Close the socket (a blocked receive on another thread returns None)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
