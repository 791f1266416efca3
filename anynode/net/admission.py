"""Who holds a connection thread of FrameServer: strangers wait in a small pool apart from peers.

A connection starts *pending*: it has not yet sent a verified frame (with a
network key, a frame whose signature checks; without one, any complete
frame). Pending connections have their own cap (``max_pending``), smaller
than the main one, and must send that first frame within a short deadline.
When the pending pool is full, the oldest pending connection is dropped to
make room for the newcomer, so strangers that connect and wait cannot lock
a peer out: a peer sends its first frame right after it connects, and leaves
the pool long before enough newcomers arrive to push it out. A connection
joins the main pool (``max_connections``) once its first frame is verified,
so on a keyed node only peers that hold the key count against that cap.

The counts here are guarded by the server's lock: every method must be
called with it held.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import OrderedDict
from typing import Any

CONN_COUNTERS = ("frames_in", "frames_out", "bytes_in", "bytes_out", "errors", "protocol_errors",
                 "auth_errors", "timeouts", "handler_errors", "idle_closed", "first_frame_timeouts")


class Connection:
    """One accepted peer: its socket, its thread, its own counters (no lock on the hot path) and its pool."""

    __slots__ = ("sock", "peer", "thread", "counts", "since", "verified", "evicted")

    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock = sock
        self.peer = peer
        self.thread: threading.Thread | None = None
        self.counts = dict.fromkeys(CONN_COUNTERS, 0)
        self.since = time.monotonic()  # the first-frame deadline counts from here
        self.verified = False  # True once in the main pool
        self.evicted = False  # dropped from the pending pool to make room for a newer connection


class Pools:
    """The pending pool and the main pool of a FrameServer, with their caps.

    Args:
        max_connections: connections with a verified frame, open at once.
        max_pending: connections still waiting for their first verified frame.
    """

    def __init__(self, max_connections: int, max_pending: int) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, not {max_pending}")
        self.max_connections = max_connections
        self.max_pending = max_pending
        self.conns: dict[int, Connection] = {}  # every connection with a thread, by id
        self.pending: OrderedDict[int, Connection] = OrderedDict()  # unverified ones, oldest first
        self.main = 0  # verified connections still open

    def full(self) -> str | None:
        """Why a new connection is refused now (the main pool is full), or None."""
        if self.main >= self.max_connections:
            return f"too many connections (limit {self.max_connections})"
        return None

    def admit(self, conn: Connection) -> Connection | None:
        """Put ``conn`` in the pending pool; return the oldest pending connection dropped to make room, if any."""
        dropped = None
        if len(self.pending) >= self.max_pending:
            _, dropped = self.pending.popitem(last=False)
            dropped.evicted = True
        self.conns[id(conn)] = conn
        self.pending[id(conn)] = conn
        return dropped

    def promote(self, conn: Connection) -> str | None:
        """Move ``conn`` to the main pool after its first verified frame; the reason it cannot, or None."""
        if conn.verified:
            return None
        if conn.evicted:
            return "dropped while waiting for its first frame: too many connections were waiting"
        refusal = self.full()
        if refusal is not None:
            return refusal
        del self.pending[id(conn)]
        conn.verified = True
        self.main += 1
        return None

    def release(self, conn: Connection) -> None:
        """Forget a connection whose thread ends (or never started)."""
        if self.conns.pop(id(conn), None) is None:
            return
        if conn.verified:
            self.main -= 1
        else:
            self.pending.pop(id(conn), None)


class Throttled:
    """Logs warnings at most once every ``every`` seconds, counting those held back, so a flood of
    strangers (refused, dropped, timed out) cannot flood the log."""

    def __init__(self, log: logging.Logger, every: float) -> None:
        self.log = log
        self.every = every
        self._lock = threading.Lock()
        self._unlogged = 0
        self._logged_at = float("-inf")

    def __call__(self, message: str, *args: Any) -> None:
        """Log ``message % args`` as a warning if the last one is ``every`` seconds old; else count it."""
        now = time.monotonic()
        with self._lock:
            self._unlogged += 1
            due = now - self._logged_at >= self.every
            if due:
                count, self._unlogged, self._logged_at = self._unlogged, 0, now
        if due:
            more = f" ({count - 1} more since the last message)" if count > 1 else ""
            self.log.warning(message + more, *args)
