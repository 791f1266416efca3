"""Periodic tasks: the one runner behind the scheduler and every internal periodic job.

A :class:`PeriodicTask` is work that repeats ``every`` seconds. The work is
given in one of two shapes:

* ``items``: a function returning an iterable of items (optionally with
  ``process`` for each item). The runner takes items one at a time and checks
  the soft timeout and ``items_per_run`` *between* items; when a run stops
  early the iterator is kept, so the next run resumes where this one left off.
  A fresh iterator is made only once the previous one is exhausted. With
  ``process``, an item that raises is counted as an error and the run goes on
  with the next item; without it, an exception from the iterable ends the run
  (a generator cannot go on after raising).
* ``call``: a function taking ``expired()`` (True once the soft timeout passed
  or the service is stopping) and returning the number of items it did, for
  work that is not naturally a sequence.

The default schedule is fixed delay (next run ``every`` seconds after the end
of this one), so a task never overlaps itself; ``fixed_rate`` measures from the
start instead (never earlier than the end). ``anchored`` keeps runs on a grid:
the next run is due ``every`` seconds after this one was *due*, so a runner
that wakes a little late does not push every later run (no drift over
months); a run that outlasts slots skips them (next free slot after its end,
never a burst of catch-ups), and a run by hand before it was due leaves the
grid alone. :meth:`PeriodicTask.reschedule` moves the next run (a start time
chosen by the user). ``jitter`` delays only the first
run by a random amount in ``[0, jitter]`` so that many nodes started together
do not all hit a master at the same second. A task raises :class:`CancelTask`
to remove itself for good (a configuration that will never work).

Time comes from an injectable clock, so :meth:`PeriodicTask.run_due` is unit
tested without sleeping. :class:`PeriodicService` runs tasks on one service
thread, waiting on an event until the next one is due.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from anynode.services.base import RestartPolicy, Service
from anynode.services.manager import error_line

Expired = Callable[[], bool]


class CancelTask(Exception):
    """Raised by a task's work to remove the task for good, with the reason as message."""


class PeriodicTask:
    """Work repeated every ``every`` seconds; see the module docstring for the rules.

    Counters (``info()``): runs, items, errors, overruns (runs stopped by the
    soft timeout or the item cap with work left), skipped (a run asked while
    one was in progress), last_duration, last_error, cancelled.
    """

    def __init__(
        self,
        name: str,
        every: float,
        *,
        items: Callable[[], Iterable[Any]] | None = None,
        process: Callable[[Any], None] | None = None,
        call: Callable[[Expired], int | None] | None = None,
        soft_timeout: float | None = None,
        items_per_run: int | None = None,
        run_at_start: bool = True,
        jitter: float = 0.0,
        fixed_rate: bool = False,
        anchored: bool = False,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if (items is None) == (call is None):
            raise ValueError(f"task {name!r}: give exactly one of items= or call=")
        if process is not None and items is None:
            raise ValueError(f"task {name!r}: process= goes with items=")
        if every <= 0:
            raise ValueError(f"task {name!r}: every must be a positive number of seconds, not {every!r}")
        if items_per_run is not None and items_per_run < 1:
            raise ValueError(f"task {name!r}: items_per_run must be at least 1, not {items_per_run!r}")
        self.name = name
        self.every = float(every)
        self.soft_timeout = soft_timeout
        self.items_per_run = items_per_run
        self.fixed_rate = fixed_rate
        self.anchored = anchored
        self._items = items
        self._process = process
        self._call = call
        self._clock = clock
        self._log = logger or logging.getLogger("anynode.periodic")
        self._busy = threading.Lock()
        self._iter: Iterator[Any] | None = None
        first_wait = (0.0 if run_at_start else self.every) + (rng or random.Random()).uniform(0.0, max(0.0, jitter))
        self._next: float | None = clock() + first_wait
        self.runs = 0
        self.items = 0
        self.errors = 0
        self.overruns = 0
        self.skipped = 0
        self.last_duration: float | None = None
        self.last_error: str | None = None
        self.cancelled: str | None = None

    # ---------------------------------------------------------------- public
    def next_due(self) -> float | None:
        """Clock time of the next run, or None once the task cancelled itself."""
        return self._next

    def run_due(self, now: float | None = None, stop: threading.Event | None = None) -> bool:
        """Run once if due at ``now`` (default: the clock). Returns whether it ran."""
        due = self._next
        if due is None or (now if now is not None else self._clock()) < due:
            return False
        return self.run_now(stop)

    def run_now(self, stop: threading.Event | None = None) -> bool:
        """Run once now, due or not (``run scheduler once``, tests).

        Returns False without running when the task is cancelled or a run of
        it is already in progress on another thread (never overlaps itself).
        """
        if self._next is None:
            return False
        if not self._busy.acquire(blocking=False):
            self.skipped += 1
            self._log.warning("task %s: still running, this run is skipped", self.name)
            return False
        start = self._clock()
        try:
            self._run(start, stop)
        finally:
            end = self._clock()
            self.last_duration = end - start
            if self.cancelled is None:
                self._next = self._after(start, end)
            self._busy.release()
        return True

    def reschedule(self, at: float) -> None:
        """Make the next run due at clock time ``at`` (a cancelled task stays cancelled)."""
        if self.cancelled is None:
            self._next = at

    def info(self) -> dict[str, Any]:
        """The task's counters, for ``get scheduler``, ``get <service>`` and stats.log."""
        return {
            "every": self.every,
            "runs": self.runs,
            "items": self.items,
            "errors": self.errors,
            "overruns": self.overruns,
            "skipped": self.skipped,
            "last_duration": self.last_duration,
            "last_error": self.last_error,
            "cancelled": self.cancelled,
            "next_due": self._next,
        }

    # ------------------------------------------------------------- internals
    def _after(self, start: float, end: float) -> float:
        """When the run that went from ``start`` to ``end`` makes the next one due."""
        due = self._next
        if not self.anchored or due is None:
            return max(end, start + self.every) if self.fixed_rate else end + self.every
        following = due if start < due else due + self.every  # early by hand: the grid stays
        if following < end:  # it outlasted slots: the first free one after its end
            following += self.every * math.ceil((end - following) / self.every)
        return following

    def _run(self, start: float, stop: threading.Event | None) -> None:
        self.runs += 1

        def expired() -> bool:
            if stop is not None and stop.is_set():
                return True
            return self.soft_timeout is not None and self._clock() - start >= self.soft_timeout

        try:
            done = self._run_items(expired) if self._items is not None else self._run_call(expired)
        except CancelTask as exc:
            self.cancelled = str(exc) or "cancelled by the task"
            self._next = None
            self._iter = None
            self._log.warning("task %s cancelled itself: %s", self.name, self.cancelled)
            return
        except Exception as exc:  # noqa: BLE001 - isolate the task: log it, count it, run again next time
            self._iter = None
            self.errors += 1
            self.last_error = error_line(exc)
            self._log.error("task %s failed: %s", self.name, self.last_error, exc_info=True)
            return
        self._log.debug("task %s: %d items in %.3fs", self.name, done, self._clock() - start)

    def _run_items(self, expired: Expired) -> int:
        assert self._items is not None
        if self._iter is None:
            self._iter = iter(self._items())
        tried = 0
        while True:
            if self.items_per_run is not None and tried >= self.items_per_run:
                self.overruns += 1
                break
            if expired():
                self.overruns += 1
                self._log.info("task %s: over its soft timeout after %d items; resumes next run", self.name, tried)
                break
            try:
                item = next(self._iter)
            except StopIteration:
                self._iter = None
                break
            tried += 1
            if self._process is None:
                self.items += 1
                continue
            try:
                self._process(item)
            except CancelTask:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad item must not stop the others
                self.errors += 1
                self.last_error = f"{item!r}: {error_line(exc)}"
                self._log.error("task %s: item %r failed: %s", self.name, item, error_line(exc), exc_info=True)
            else:
                self.items += 1
        return tried

    def _run_call(self, expired: Expired) -> int:
        assert self._call is not None
        done = self._call(expired) or 0
        self.items += done
        return done


class PeriodicService(Service):
    """A service that runs periodic tasks on its own thread.

    It waits on an internal event until the next task is due; ``wake()`` (the
    manager calls it right after setting stop) and :meth:`add` set that event,
    so a stop is prompt and a task added at run time is scheduled at once.
    Tasks run one after the other on this thread; give a long task its own
    PeriodicService so it cannot delay the others.
    """

    def __init__(
        self,
        name: str,
        tasks: Sequence[PeriodicTask] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
        restart_policy: RestartPolicy | None = None,
    ) -> None:
        self.name = name
        self._tasks: list[PeriodicTask] = list(tasks)
        self._lock = threading.Lock()
        self._kick = threading.Event()
        self._clock = clock
        if restart_policy is not None:
            self.restart_policy = restart_policy

    def add(self, task: PeriodicTask) -> None:
        """Add a task, replacing one of the same name; it is scheduled at once."""
        with self._lock:
            self._tasks = [t for t in self._tasks if t.name != task.name] + [task]
        self._kick.set()

    def remove(self, name: str) -> bool:
        """Remove the task called ``name``; returns whether there was one."""
        with self._lock:
            before = len(self._tasks)
            self._tasks = [t for t in self._tasks if t.name != name]
            removed = len(self._tasks) != before
        self._kick.set()
        return removed

    @property
    def tasks(self) -> list[PeriodicTask]:
        """A copy of the task list, in the order they run."""
        with self._lock:
            return list(self._tasks)

    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        """Run due tasks, then wait until the next is due, until stop."""
        ready()
        while True:
            self._kick.clear()
            if stop.is_set():
                return
            for task in self.tasks:
                if stop.is_set():
                    return
                task.run_due(self._clock(), stop)
            dues = [d for d in (t.next_due() for t in self.tasks) if d is not None]
            self._kick.wait(max(0.0, min(dues) - self._clock()) if dues else None)

    def wake(self) -> None:
        """Interrupt the wait for the next due task (stop, or a task was added)."""
        self._kick.set()

    def details(self) -> str:
        """Task count and when the next one runs."""
        tasks = self.tasks
        count = f"{len(tasks)} task" + ("" if len(tasks) == 1 else "s")
        dues = [d for d in (t.next_due() for t in tasks) if d is not None]
        if not dues:
            return f"{count}, none scheduled"
        return f"{count}, next in {max(0.0, min(dues) - self._clock()):.0f}s"

    def info(self) -> dict[str, Any]:
        """Each task's counters, by task name."""
        return {t.name: t.info() for t in self.tasks}
