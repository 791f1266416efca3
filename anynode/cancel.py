"""Cancellation of work that runs on another thread: a REST timeout, a stopping node, Ctrl-C.

A Python thread cannot be interrupted, but what it waits on can: a SQLite
statement (``Connection.interrupt``), a PostgreSQL query (a cancel request),
a loop between batches. The party that gives up calls :meth:`Cancel.cancel`;
the party doing the work registers how to stop itself with
:meth:`Cancel.hook` for as long as it is inside that work. A token may also
carry a deadline, which the work enforces itself without a watching thread
(a SQLite progress handler, PostgreSQL's statement_timeout).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Cancel:
    """Set once when the work it belongs to should stop; hooks run at once, on the cancelling thread."""

    __slots__ = ("_lock", "_hooks", "reason", "deadline")

    def __init__(self, timeout: float | None = None) -> None:
        self._lock = threading.Lock()
        self._hooks: list[Callable[[], None]] = []
        self.reason: str | None = None
        #: time.monotonic() past which the work should stop by itself; None: no deadline.
        self.deadline = time.monotonic() + timeout if timeout else None

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called or the deadline passed."""
        if self.reason is None and self.deadline is not None and time.monotonic() > self.deadline:
            self.cancel("its time ran out")
        return self.reason is not None

    def remaining(self) -> float | None:
        """Seconds left before the deadline (0 when past it); None without a deadline."""
        return None if self.deadline is None else max(self.deadline - time.monotonic(), 0.0)

    def cancel(self, reason: str = "cancelled") -> None:
        """Ask the work to stop; the first reason is kept, later calls do nothing."""
        with self._lock:  # hooks run under the lock, so none runs once its block has left
            if self.reason is not None:
                return
            self.reason = reason
            for hook in self._hooks:
                hook()
            self._hooks.clear()

    @contextmanager
    def hook(self, stop: Callable[[], None]) -> Iterator[None]:
        """Call ``stop`` if the work is cancelled while the block runs (at once if it already was).

        ``stop`` must be quick and must not call back into this token.
        """
        with self._lock:
            if self.reason is None:
                self._hooks.append(stop)
            else:
                stop()
        try:
            yield
        finally:
            with self._lock:
                if stop in self._hooks:
                    self._hooks.remove(stop)
