"""The scheduler's worker pool: a few threads that run due tasks side by side.

Workers start when there is work and none is idle, up to ``size``. A job
stuck past its soft timeout still holds its thread (a Python thread cannot
be stopped); :meth:`WorkerPool.stuck` lets one more worker start in its
place, so a hanging task does not take a slot from the others, up to
``cap`` threads in all. When the stuck job ends, :meth:`WorkerPool.unstuck`
and the surplus worker leaves. :class:`InlinePool` runs each job at once on
the caller's thread (tests that simulate a day on a fake clock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

Job = Callable[[], None]


class WorkerPool:
    """At most ``size`` threads (plus one per stuck job, at most ``cap``) running jobs in order."""

    def __init__(self, size: int, name: str, cap: int | None = None, logger: logging.Logger | None = None) -> None:
        self._size = max(1, size)
        self._cap = max(self._size, cap if cap is not None else 2 * self._size)
        self._name = name
        self._log = logger or logging.getLogger("anynode.scheduler")
        self._cond = threading.Condition()
        self._jobs: deque[Job] = deque()
        self._threads: list[threading.Thread] = []
        self._live = 0
        self._idle = 0
        self._stuck = 0
        self._made = 0
        self._closed = False

    def submit(self, job: Job) -> None:
        """Queue ``job``; a worker starts for it when none is idle and the limit allows."""
        with self._cond:
            if self._closed:
                return
            self._jobs.append(job)
            self._maybe_start()
            self._cond.notify()

    def stuck(self) -> None:
        """A running job passed its soft timeout: let a stand-in worker take its slot."""
        with self._cond:
            self._stuck += 1
            self._maybe_start()

    def unstuck(self) -> None:
        """A job that was stuck has ended."""
        with self._cond:
            self._stuck = max(0, self._stuck - 1)

    def close(self, grace: float) -> list[str]:
        """Drop queued jobs, let the workers end, wait at most ``grace`` seconds.

        Returns the names of worker threads still busy (a job that does not
        return; it ends on its own thread, daemon, when its command does).
        """
        with self._cond:
            self._closed = True
            self._jobs.clear()
            self._cond.notify_all()
            threads = list(self._threads)
        deadline = time.monotonic() + grace
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t.name for t in threads if t.is_alive()]

    def stats(self) -> dict[str, int]:
        """Workers alive, idle, standing in for stuck jobs, and jobs waiting."""
        with self._cond:
            return {"workers": self._live, "idle": self._idle, "stuck": self._stuck, "queued": len(self._jobs)}

    def _limit(self) -> int:
        return min(self._cap, self._size + self._stuck)

    def _maybe_start(self) -> None:
        """Start a worker when jobs wait for one (caller holds the condition)."""
        if len(self._jobs) > self._idle and self._live < self._limit():
            self._made += 1
            self._live += 1
            thread = threading.Thread(target=self._work, name=f"anynode:{self._name}-worker-{self._made}",
                                      daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._idle += 1
                    self._cond.wait()
                    self._idle -= 1
                if self._closed or self._live > self._limit():
                    self._live -= 1
                    return
                job = self._jobs.popleft()
            try:
                job()
            except Exception:  # noqa: BLE001 - a job records its own errors; this is the last guard of the thread
                self._log.exception("%s: a scheduled job failed outside its task", self._name)


class InlinePool:
    """Runs each job at once on the calling thread (a scheduler driven by a fake clock)."""

    def submit(self, job: Job) -> None:
        """Run ``job`` now."""
        job()

    def stuck(self) -> None:
        """Nothing to do: an inline job cannot be stuck while the caller goes on."""

    def unstuck(self) -> None:
        """Nothing to do."""

    def close(self, grace: float) -> list[str]:
        """Nothing to close."""
        return []

    def stats(self) -> dict[str, int]:
        """No workers."""
        return {"workers": 0, "idle": 0, "stuck": 0, "queued": 0}
