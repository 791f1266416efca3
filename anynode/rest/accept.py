"""Accepting REST connections: every waiting connection at each wake-up, not one.

uvloop's servers accept through libuv, which since 1.45 takes one connection
per turn of the event loop. When 256 clients connect at once to a busy
server, each turn also serves every open connection (20-30 ms at that load),
so the last clients waited 1-3 s for their ``accept`` while the first ones
were served hundreds of times: wrk saw a p99 above 1 s at c=256 (for a bare
uvicorn app as for anynode) although the server never kept an accepted
connection waiting more than 0.15 s. :class:`Acceptor` watches the listening
socket itself and accepts up to ``batch`` connections per wake-up, handing
each to the loop with ``connect_accepted_socket`` (the same transports and
protocols uvicorn would make).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
from collections.abc import Callable
from typing import Any

_log = logging.getLogger("anynode.rest")
_NO_FDS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class Acceptor:
    """Accepts the connections of one listening socket for an asyncio loop.

    It stands where uvicorn keeps its ``asyncio.Server`` objects: uvicorn
    calls :meth:`close` and awaits :meth:`wait_closed` when it shuts down.

    Args:
        loop: the running loop (uvloop or asyncio).
        sock: a bound, listening, non-blocking socket.
        factory: makes the protocol of a new connection.
        tls: the TLS context, or None for plain HTTP.
        handshake_timeout: seconds a TLS client has to finish its handshake.
        batch: the most connections accepted per wake-up (the rest wait one turn).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, factory: Callable[[], Any],
                 tls: ssl.SSLContext | None = None, handshake_timeout: float = 10.0, batch: int = 256) -> None:
        self._loop = loop
        self._sock = sock
        self._factory = factory
        self._tls = tls
        self._handshake_timeout = handshake_timeout
        self._batch = batch
        self._pending: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._paused: asyncio.TimerHandle | None = None
        loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        for _ in range(self._batch):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno in _NO_FDS:  # out of descriptors: the socket stays readable, so pause, not spin
                    _log.warning("REST server cannot accept connections: %s; retrying in 0.5 s", exc.strerror)
                    self._pause(0.5)
                else:
                    _log.warning("REST server accept failed: %s", exc)
                return
            conn.setblocking(False)
            if self._tls is None:
                coro = self._loop.connect_accepted_socket(self._factory, conn)
            else:
                coro = self._loop.connect_accepted_socket(self._factory, conn, ssl=self._tls,
                                                          ssl_handshake_timeout=self._handshake_timeout)
            task = self._loop.create_task(coro)
            self._pending.add(task)
            task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[Any]) -> None:
        """A connection is set up (or its TLS handshake failed: the transport is closed already)."""
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.debug("REST connection set-up failed: %s", task.exception())

    def _pause(self, seconds: float) -> None:
        self._loop.remove_reader(self._sock.fileno())

        def resume() -> None:
            self._paused = None
            if not self._closed:
                self._loop.add_reader(self._sock.fileno(), self._accept)

        self._paused = self._loop.call_later(seconds, resume)

    def close(self) -> None:
        """Stop accepting; connections still in their TLS handshake are dropped."""
        if self._closed:
            return
        self._closed = True
        if self._paused is not None:
            self._paused.cancel()
        elif self._sock.fileno() >= 0:
            self._loop.remove_reader(self._sock.fileno())
        for task in list(self._pending):
            task.cancel()

    async def wait_closed(self) -> None:
        """Return once the connections being set up are settled."""
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=1.0)
