"""The files seen in the watch directory and not yet taken: first come, first served, each name once."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterable


class Arrivals:
    """Names queued by file events and rescans, oldest first; safe to use from any thread."""

    def __init__(self) -> None:
        self._names: dict[str, float] = {}  # name -> time seen (a dict keeps the order)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._names)

    def add(self, names: Iterable[str]) -> int:
        """Queue the names not queued yet; returns how many were new."""
        now, new = time.monotonic(), 0
        with self._lock:
            for name in names:
                if name not in self._names:
                    self._names[name] = now
                    new += 1
        return new

    def first(self, busy: Collection[str] = (), take: bool = True) -> str | None:
        """The oldest name not in ``busy`` (same-named files being ingested), taken off the queue if ``take``."""
        with self._lock:
            for name in self._names:
                if name not in busy:
                    if take:
                        del self._names[name]
                    return name
        return None

    def discard(self, name: str) -> None:
        """Take ``name`` off the queue, if it is there."""
        with self._lock:
            self._names.pop(name, None)
