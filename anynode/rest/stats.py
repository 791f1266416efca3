"""Counters of the REST server, behind ``get rest calls`` and ``get rest server info``."""

from __future__ import annotations

import collections
import threading
import time
from typing import NamedTuple


class Call(NamedTuple):
    """One served request, as ``get rest calls where last = n`` lists it."""

    time: float
    client: str
    caller: str
    method: str
    target: str
    status: int
    ms: float


class _Counter:
    __slots__ = ("errors", "first", "last", "last_caller", "last_error", "processed", "statuses")

    def __init__(self, now: float) -> None:
        self.processed = 0
        self.errors = 0
        self.last_error = ""
        self.first = now
        self.last = now
        self.last_caller = ""
        self.statuses: collections.Counter[int] = collections.Counter()


class RestStats:
    """Per caller and method counts (AnyLog's ``get rest calls`` columns), counts
    per method and status, and the last calls.

    Written by the server's event loop, read by commands on other threads;
    one lock keeps the two apart (uncontended, it costs well under a microsecond).
    """

    def __init__(self, keep: int = 100) -> None:
        self._lock = threading.Lock()
        self._by_caller: dict[tuple[str, str], _Counter] = {}
        # plain tuples, made into Calls when read (a NamedTuple costs a Python-level __new__ per request)
        self._last: collections.deque[tuple[float, str, str, str, str, int, float]] = collections.deque(maxlen=keep)
        self.total = 0

    def record(self, client: str, caller: str, method: str, target: str, status: int, ms: float,
               error: str = "") -> None:
        """Count one request."""
        now = time.time()
        key = (caller, method)
        with self._lock:
            counter = self._by_caller.get(key)
            if counter is None:
                counter = self._by_caller[key] = _Counter(now)
            counter.processed += 1
            counter.last = now
            counter.last_caller = client
            counter.statuses[status] += 1
            if status >= 400:
                counter.errors += 1
                counter.last_error = f"{status} {error}".strip()
            self._last.append((now, client, caller, method, target, status, ms))
            self.total += 1

    def callers(self) -> list[tuple[str, str, int, int, str, str, float, float, str]]:
        """(caller, method, processed, errors, statuses, last error, first, last, last caller) rows;
        statuses read like ``200:12 400:1``."""
        with self._lock:
            return [(caller, method, c.processed, c.errors,
                     " ".join(f"{s}:{n}" for s, n in sorted(c.statuses.items())),
                     c.last_error, c.first, c.last, c.last_caller)
                    for (caller, method), c in sorted(self._by_caller.items())]

    def statuses(self) -> dict[str, dict[str, int]]:
        """{method: {status: count}}, summed over the callers."""
        totals: collections.Counter[tuple[str, int]] = collections.Counter()
        with self._lock:
            for (_, method), counter in self._by_caller.items():
                for status, n in counter.statuses.items():
                    totals[(method, status)] += n
        out: dict[str, dict[str, int]] = {}
        for (method, status), n in sorted(totals.items()):
            out.setdefault(method, {})[str(status)] = n
        return out

    def recent(self, n: int) -> list[Call]:
        """The last ``n`` calls, newest last."""
        with self._lock:
            calls = list(self._last)
        return [Call._make(c) for c in calls[-n:]] if n > 0 else []
