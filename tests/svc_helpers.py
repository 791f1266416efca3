"""Helpers for service tests: small fake services and the no-leaked-thread check.

``assert_no_anynode_threads`` is meant to be reused by the project's autouse
fixture in conftest.py: no thread of the node may outlive its test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from anynode.services.base import RestartPolicy, Service


def anynode_threads() -> list[threading.Thread]:
    """Live threads whose name starts with ``anynode:``."""
    return [t for t in threading.enumerate() if t.name.startswith("anynode:") and t.is_alive()]


def assert_no_anynode_threads(grace: float = 1.0) -> None:
    """Fail when a thread named ``anynode:*`` is still alive after ``grace`` seconds.

    Threads that are just finishing get the grace time to end (joined, not slept).
    """
    deadline = time.monotonic() + grace
    for thread in anynode_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    left = anynode_threads()
    assert not left, f"threads outlived the test: {[t.name for t in left]}"


FAST = RestartPolicy(restart=True, backoff=0.01, max_backoff=0.04, give_up_after=3, window=60.0)
"""A restart policy with tiny backoffs, so crash tests end in well under a second."""


class Sleepy(Service):
    """Ready at once, then waits an interval (an hour by default) on the stop event."""

    def __init__(self, name: str = "Scheduler", interval: float = 3600.0, on_stop: Callable[[str], None] | None = None,
                 policy: RestartPolicy = FAST) -> None:
        self.name = name
        self.interval = interval
        self.on_stop = on_stop
        self.restart_policy = policy
        self.ticks = 0
        self.runs = 0

    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        self.runs += 1
        ready()
        while not stop.wait(self.interval):
            self.ticks += 1
        if self.on_stop:
            self.on_stop(self.name)

    def details(self) -> str:
        return f"every {self.interval:g}s, ticks {self.ticks}"

    def info(self) -> dict[str, object]:
        return {"ticks": self.ticks, "runs": self.runs}


class FailsToStart(Service):
    """Raises before ready(), like a server whose port is taken."""

    def __init__(self, name: str = "REST", error: Exception | None = None) -> None:
        self.name = name
        self.error = error or OSError("[Errno 98] Address already in use: 127.0.0.1:32149")

    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        raise self.error


class Crashy(Service):
    """Ready, then raises once ``crash`` is set (at once by default); counts runs.

    After ``heal_after`` runs it stops crashing and serves until stopped.
    """

    def __init__(self, name: str = "Operator", policy: RestartPolicy = FAST, heal_after: int | None = None,
                 crash_at_once: bool = True, error: Exception | None = None) -> None:
        self.name = name
        self.restart_policy = policy
        self.heal_after = heal_after
        self.crash = threading.Event()
        if crash_at_once:
            self.crash.set()
        self.error = error
        self.runs = 0

    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        self.runs += 1
        ready()
        if self.heal_after is not None and self.runs > self.heal_after:
            stop.wait()
            return
        while not stop.is_set():
            if self.crash.wait(0.05):
                raise self.error or RuntimeError(f"disk full on run {self.runs}")


class Stubborn(Service):
    """Ignores stop until ``release`` is set: a service stuck in a long item."""

    def __init__(self, name: str = "Publisher") -> None:
        self.name = name
        self.release = threading.Event()

    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        ready()
        self.release.wait(30)


class NeverReady(Service):
    """Never calls ready() but honours stop."""

    def __init__(self, name: str = "HA") -> None:
        self.name = name

    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        stop.wait(30)
