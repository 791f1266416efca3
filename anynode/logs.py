"""Node logs: the event and error logs behind ``get event log`` / ``get error log``.

(Minimal version; the service-manager work extends it with files and stats.)
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from anynode.errors import AnyNodeError


@dataclass(frozen=True)
class LogEntry:
    """One line of an in-memory log."""

    id: int
    time: float
    thread: str
    type: str
    text: str


class RingLog:
    """A bounded, thread-safe list of recent entries."""

    def __init__(self, size: int = 200) -> None:
        self._items: collections.deque[LogEntry] = collections.deque(maxlen=size)
        self._lock = threading.Lock()
        self._next = 1

    def add(self, type_: str, text: str) -> None:
        """Append an entry."""
        with self._lock:
            self._items.append(LogEntry(self._next, time.time(), threading.current_thread().name, type_, text))
            self._next += 1

    def entries(self) -> list[LogEntry]:
        """Entries, oldest first."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._items.clear()


class NodeLogs:
    """The logs of one node."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.events = RingLog()
        self.errors = RingLog()

    def command_ok(self, line: str, source: str) -> None:
        """Record a command that succeeded."""
        self.events.add(source, f"(ok) {line}")

    def command_failed(self, line: str, exc: BaseException, source: str) -> None:
        """Record a command that failed."""
        text = exc.one_line() if isinstance(exc, AnyNodeError) else f"{type(exc).__name__}: {exc}"
        self.errors.add(source, f"(Failed: {text}) {line}")

    def close(self) -> None:
        """Release files (none in this version)."""
