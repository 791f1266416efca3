"""The service that runs the due tasks of the schedulers it serves.

Two services of this one class run on a node: ``Scheduler`` serves the user
schedulers (``run scheduler`` / ``run scheduler 3``), ``Housekeeping`` serves
system scheduler 0. Their thread only dispatches: it hands each due task to
a :class:`~anynode.scheduler.pool.WorkerPool`, watches runs past their soft
timeout, and waits on an event until the next due time or soft timeout, or
until a task changes or a run ends (:meth:`SchedulerService.wake`). So a
slow or failing task never delays the others, ``exit scheduler`` returns at
once even when the next run is hours away, and a task never overlaps
itself (it is not handed out again while it runs).

:meth:`SchedulerService.tick` is one pass of that loop; a test drives it on a
fake clock with an :class:`~anynode.scheduler.pool.InlinePool`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from anynode.errors import AlreadyRunning, ServiceError
from anynode.protocols import NodeView
from anynode.scheduler.pool import InlinePool, WorkerPool
from anynode.scheduler.tasks import SYSTEM, Task, TaskBook
from anynode.services.base import RestartPolicy, Service

STOP_GRACE = 0.5  # seconds a stopping scheduler gives the runs in progress


class SchedulerService(Service):
    """Runs the due tasks of the schedulers in ``book.running`` that it serves (0, or every other)."""

    restart_policy = RestartPolicy(backoff=1.0)

    def __init__(self, book: TaskBook, system: bool, workers: int, logger: logging.Logger | None = None) -> None:
        self.name = "Housekeeping" if system else "Scheduler"
        self.system = system
        self.book = book
        self.workers = workers
        self.pool: WorkerPool | InlinePool | None = None
        self._log = logger or logging.getLogger("anynode.scheduler")
        self._kick = threading.Event()
        self._stop: threading.Event | None = None
        self._mine: set[Task] = set()  # runs this service handed to its pool
        self._stuck: set[Task] = set()  # of those, the ones past their soft timeout (a stand-in worker each)
        self.runs = 0

    # ------------------------------------------------------------ which
    def serves(self, scheduler: int) -> bool:
        """True for the schedulers this service runs."""
        return (scheduler == SYSTEM) == self.system

    def ids(self) -> list[int]:
        """The running schedulers this service serves."""
        with self.book.lock:
            return sorted(s for s in self.book.running if self.serves(s))

    # -------------------------------------------------------------- run
    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        """Dispatch due tasks until stop; then ask runs in progress to stop and let the pool go."""
        self._stop = stop
        self.pool = WorkerPool(self.workers, self.name.lower(), logger=self._log)
        self.book.listen(self.wake)
        ready()
        try:
            while not stop.is_set():
                self._kick.clear()
                wait = self.tick()
                if stop.is_set():
                    break
                self._kick.wait(wait)
        finally:
            self.book.unlisten(self.wake)
            for task in self.book.tasks(self.ids()):
                task.cancel("its scheduler stopped")
            if stop.is_set():  # not after a crash: the restarted service serves the same schedulers
                with self.book.lock:
                    self.book.running -= {s for s in self.book.running if self.serves(s)}
            busy = self.pool.close(STOP_GRACE)
            for task in list(self._mine):
                task.release()  # handed out but never started: free for the next run of its scheduler
            if busy:
                self._log.warning("%s stopped; %d task run(s) still going on their own thread until their command "
                                  "returns: %s", self.name, len(busy), ", ".join(busy))

    def tick(self) -> float | None:
        """One pass: report runs past their soft timeout, hand out due tasks; seconds until the next event."""
        assert self.pool is not None, "run() or a test sets the pool"
        clock = self.book.clock
        now = clock.monotonic()
        events: list[float] = []
        for task in self.book.tasks(self.ids()):
            if task.check_overrun(now) and task in self._mine:
                self._stuck.add(task)
                self.pool.stuck()
            if task.is_due(now) and task.claim():
                self._mine.add(task)
                self.pool.submit(self._job(task))
            event = task.next_event()
            if event is not None:
                events.append(event)
        if not events:
            return None
        return max(0.0, min(events) - clock.monotonic())

    def _job(self, task: Task) -> Callable[[], None]:
        def job() -> None:
            try:
                task.run_claimed(self._stop)
                self.runs += 1
            finally:
                self._mine.discard(task)
                if task in self._stuck:
                    self._stuck.discard(task)
                    self.pool.unstuck()  # type: ignore[union-attr]
                self.wake()
        return job

    def wake(self) -> None:
        """Look at the tasks again now (a task changed, a run ended, or stop)."""
        self._kick.set()

    # ------------------------------------------------------------ shown
    def details(self) -> str:
        """AnyLog's 'Schedulers IDs in use', the task count and the next run."""
        ids = self.ids()
        shown = " ".join(f"[{i} (system)]" if i == SYSTEM else f"[{i} (user)]" if i == 1 else f"[{i}]" for i in ids)
        tasks = self.book.tasks(ids)
        active = [t for t in tasks if t.mode != "Stopped"]
        dues = [d for d in (t.periodic.next_due() for t in active if not t.running) if d is not None]
        text = f"Schedulers IDs in use: {shown or 'none'}; {len(tasks)} task(s)"
        if dues:
            text += f", next in {max(0.0, min(dues) - self.book.clock.monotonic()):.0f}s"
        return text

    def info(self) -> dict[str, Any]:
        """Counters for stats.log: schedulers, runs, the pool, and each task's runs and failures."""
        info: dict[str, Any] = {"schedulers": self.ids(), "runs": self.runs}
        if self.pool is not None:
            info.update(self.pool.stats())
        info["tasks"] = {f"{t.scheduler}.{t.id}": {"name": t.name, "runs": t.runs, "failures": t.failures,
                                                   "over_soft_timeout": t.overruns, "last_duration": t.last_duration}
                         for t in self.book.tasks(self.ids())}
        return info


def start_scheduler(node: NodeView, scheduler: int) -> str:
    """``run scheduler N``: serve scheduler N, starting its service when needed; the reply line.

    Raises:
        AlreadyRunning: scheduler N runs already.
    """
    from anynode.scheduler.housekeeping import system_tasks
    from anynode.scheduler.tasks import book_of

    book = book_of(node)
    system = scheduler == SYSTEM
    name = "Housekeeping" if system else "Scheduler"
    with book.lock:
        service = node.services.get(name)
        if name in node.services.running() and isinstance(service, SchedulerService):
            if scheduler in book.running:
                raise AlreadyRunning(f"scheduler {scheduler} is already running",
                                     hint=f"'get scheduler {scheduler}' shows its tasks")
            book.running.add(scheduler)
            service = None
        else:
            if system:
                book.replace_system(system_tasks(node, book))
            workers = 2 if system else int(node.settings["scheduler_workers"])
            service = SchedulerService(book, system, workers, logger=node.log.getChild("scheduler"))
            book.running.add(scheduler)
    if service is None:
        book.notify()
    else:
        try:
            node.services.start(service, float(node.settings["start_timeout"]))
        except Exception:
            with book.lock:
                book.running.discard(scheduler)
            raise
    count = len(book.tasks([scheduler]))
    kind = " (system)" if system else ""
    return f"scheduler {scheduler}{kind} running: {count} task(s)"


def stop_scheduler(node: NodeView, scheduler: int | None) -> str:
    """``exit scheduler [N]``: stop serving N, or stop every user scheduler; the reply line.

    Raises:
        ServiceError: that scheduler is not running.
    """
    from anynode.scheduler.tasks import book_of

    book = book_of(node)
    system = scheduler == SYSTEM
    name = "Housekeeping" if system else "Scheduler"
    with book.lock:
        mine = sorted(s for s in book.running if (s == SYSTEM) == system)
        if name not in node.services.running() or (scheduler is not None and scheduler not in mine):
            if scheduler is None:
                raise ServiceError("no user scheduler is running", hint="'get scheduler' shows which run")
            raise ServiceError(f"scheduler {scheduler} is not running", hint="'get scheduler' shows which run")
        if scheduler is not None and len(mine) > 1:
            book.running.discard(scheduler)
            book.notify()
            return f"scheduler {scheduler} stopped"
    node.services.stop(name)
    if not mine:
        return f"{name} stopped"
    return f"scheduler{'s' if len(mine) > 1 else ''} {', '.join(map(str, mine))} stopped"
