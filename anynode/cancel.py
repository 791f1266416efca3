"""Cancellation of work that runs on another thread: a REST timeout, a stopping node, Ctrl-C.

A Python thread cannot be interrupted, but what it waits on can: a SQLite
statement (``Connection.interrupt``), a PostgreSQL query (a cancel request),
a loop between batches. The party that gives up calls :meth:`Cancel.cancel`;
the party doing the work registers how to stop itself with
:meth:`Cancel.hook` for as long as it is inside that work.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator


class Cancel:
    """Set once when the work it belongs to should stop; hooks run at once, on the cancelling thread."""

    __slots__ = ("_lock", "_hooks", "reason")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hooks: list[Callable[[], None]] = []
        self.reason: str | None = None

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self.reason is not None

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
