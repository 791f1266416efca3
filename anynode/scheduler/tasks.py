"""The task table: what each scheduler runs, when, and what it did.

A :class:`Task` is one scheduled command, or one housekeeping job of system
scheduler 0. Its timing and run mechanics are a
:class:`~anynode.services.periodic.PeriodicTask` on a grid (``anchored``): a
run is due one period after the previous one was *due*, so a late wake-up
never becomes drift, and it never overlaps the previous run. The Task adds
what AnyLog shows and does: an id and a name, a mode (``Paused`` until its
start or first run, ``Active``, ``Stopped``), a start time, the run count,
the last status and duration, ``TIME(PREVIOUS)`` / ``TIME(CURRENT)``, and
the soft-timeout watch. A :class:`TaskBook` holds every scheduler's tasks
for one node, running or not, so tasks may be added first and survive
``exit scheduler``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from anynode.cancel import Cancel
from anynode.errors import AnyNodeError, CommandSyntaxError
from anynode.protocols import NodeView
from anynode.results import Result
from anynode.scheduler.when import Clock, local_text, next_on_grid, repeat_text, sql_time
from anynode.services.periodic import PeriodicTask
from anynode.services.status import error_line

SYSTEM = 0
MAX_SCHEDULER = 10
OUTPUT_LIMIT = 2000  # characters of a run's output kept for 'get scheduler where format = json'
Execute = Callable[[str, Cancel], Result]


class Task:
    """One scheduled task: a command (``command`` + ``execute``) or a job (``periodic``).

    ``start`` is the wall time of the first run (default: now); a start in
    the past runs at once and puts the later runs on the grid of that start
    (``start = "start of day"`` with ``time = 1 day`` runs at midnight).
    ``describe`` gives a job's one-line summary of its last run from the items it did.
    """

    def __init__(self, tid: int, name: str, scheduler: int, every: float, *, clock: Clock,
                 command: str | None = None, execute: Execute | None = None, periodic: PeriodicTask | None = None,
                 text: str = "", soft_timeout: float | None = None, start: float | None = None,
                 describe: Callable[[int], str] | None = None, logger: logging.Logger | None = None) -> None:
        if (command is None) == (periodic is None):
            raise ValueError("give a command or a periodic job")
        self.id = tid
        self.name = name
        self.scheduler = scheduler
        self.command = command
        self.text = command if command is not None else text
        self.soft_timeout = soft_timeout
        self.system = periodic is not None
        self._clock = clock
        self._execute = execute
        self._describe = describe
        self._log = logger or logging.getLogger("anynode.scheduler")
        self.periodic = periodic or PeriodicTask(f"task {scheduler}.{tid}", every, call=self._call, anchored=True,
                                                 clock=clock.monotonic, logger=self._log)
        self.mode = "Paused"
        self.runs = 0
        self.failures = 0
        self.overruns = 0
        self.last_status = "No runs"
        self.last_duration: float | None = None
        self.last_started: float | None = None
        self.last_output = ""
        self._lock = threading.Lock()
        self._running_since: float | None = None  # monotonic; set by claim()
        self._cancel: Cancel | None = None
        self._over = self._started = False
        self._result: Result | None = None
        self._failure: str | None = None
        self._previous: str | None = None  # TIME(PREVIOUS)
        self._align: float | None = None  # the grid origin of a start that had passed
        self.start = clock.time()
        self.set_start(start if start is not None else self.start, align=start is not None)

    # ---------------------------------------------------------- schedule
    @property
    def every(self) -> float:
        """Seconds between runs."""
        return self.periodic.every

    def set_start(self, wall: float, align: bool = False) -> None:
        """Make the next run due at wall time ``wall`` (at once when it is past).

        With ``align`` a past start also puts the runs after the first on its grid.
        """
        now_wall, now = self._clock.time(), self._clock.monotonic()
        self.start = wall
        self._align = wall if align and wall < now_wall else None
        self.periodic.reschedule(now + max(0.0, wall - now_wall))

    def is_due(self, now: float) -> bool:
        """True when the task should start at monotonic time ``now``."""
        due = self.periodic.next_due()
        return self.mode != "Stopped" and self._running_since is None and due is not None and now >= due

    def next_event(self) -> float | None:
        """Monotonic time the scheduler should look at this task again: its due time or its soft timeout."""
        with self._lock:
            if self._running_since is not None:
                if self.soft_timeout is None or self._over:
                    return None
                return self._running_since + self.soft_timeout
        return None if self.mode == "Stopped" else self.periodic.next_due()

    @property
    def running(self) -> bool:
        """True while a run is in progress."""
        return self._running_since is not None

    # --------------------------------------------------------------- run
    def claim(self) -> bool:
        """Mark a run as started; False when one is in progress (a task never overlaps itself)."""
        with self._lock:
            if self._running_since is not None:
                return False
            self._running_since = self._clock.monotonic()
            self._cancel = Cancel()
            self._over = False
            self._started = False
            return True

    def release(self) -> None:
        """Undo a :meth:`claim` whose run never started (its scheduler stopped first)."""
        with self._lock:
            if self._running_since is not None and not self._started:
                self._running_since, self._cancel = None, None

    def run_claimed(self, stop: threading.Event | None = None) -> Result | None:
        """Run once on this thread after :meth:`claim`; record the outcome. Returns a command's result."""
        with self._lock:
            if self._running_since is None:
                return None  # released: its scheduler stopped before the run began
            self._started = True
        self.last_started = self._clock.time()
        self.runs += 1
        self._result, self._failure = None, None
        p = self.periodic
        errors, overruns, items = p.errors, p.overruns, p.items
        try:
            p.run_now(stop)
        finally:
            with self._lock:
                over = self._over
            self.last_duration = p.last_duration
            self._record(p.errors > errors, p.overruns > overruns, p.items - items, over)
            with self._lock:  # recorded before it may run again
                self._running_since, self._cancel = None, None
        return self._result

    def run(self, stop: threading.Event | None = None) -> Result | None:
        """Run once now on this thread (``task run``).

        Raises:
            CommandSyntaxError: a run of this task is in progress.
        """
        if not self.claim():
            raise CommandSyntaxError(f"task {self.label()} is running now; it is not started twice",
                                     hint="try again when 'get scheduler' shows it ended")
        return self.run_claimed(stop)

    def check_overrun(self, now: float) -> bool:
        """Report a run past its soft timeout, once, and ask it to stop; True when it just passed it."""
        with self._lock:
            since = self._running_since
            if since is None or self._over or self.soft_timeout is None or now - since < self.soft_timeout:
                return False
            self._over = True
            cancel = self._cancel
        self.overruns += 1
        self._log.warning("task %s of scheduler %d is over its soft timeout of %gs: asked to stop; "
                          "it is not started again until it ends", self.label(), self.scheduler, self.soft_timeout)
        if cancel is not None:
            cancel.cancel(f"task over its soft timeout of {self.soft_timeout:g}s")
        return True

    def cancel(self, reason: str) -> None:
        """Ask a run in progress to stop (its scheduler is stopping)."""
        with self._lock:
            cancel = self._cancel
        if cancel is not None:
            cancel.cancel(reason)

    def _call(self, expired: Callable[[], bool]) -> int:
        """The work of a command task: substitute the times, run the command, keep its result."""
        assert self.command is not None and self._execute is not None
        text, current = self.command, None
        if "TIME(PREVIOUS)" in text or "TIME(CURRENT)" in text:
            now = self._clock.time()
            current = sql_time(now)
            if self._previous is None:  # the first window is one period long
                self._previous = sql_time(now - self.every)
            text = text.replace("TIME(PREVIOUS)", self._previous)
            text = text.replace("TIME(CURRENT)", current)
        cancel = self._cancel or Cancel()
        try:
            result = self._execute(text, cancel)
        except AnyNodeError as exc:  # the node logged it; the task records it and runs again next time
            self._failure = exc.one_line()
            return 0
        except Exception as exc:  # noqa: BLE001 - the node logged the traceback; one bad run must not stop the task
            self._failure = f"internal error: {error_line(exc)}"
            return 0
        self._result = result
        self.last_output = result.to_text()[:OUTPUT_LIMIT]
        if current is not None:
            self._previous = current  # the next window starts where this successful one ended
        return 1

    def _record(self, errored: bool, partial: bool, items: int, over: bool) -> None:
        p = self.periodic
        if p.cancelled is not None:
            self.mode, status = "Stopped", f"Cancelled: {p.cancelled}"
        elif self._failure is not None or errored:
            self.failures += 1
            status = f"Failed: {self._failure or p.last_error}"
        elif self.system:
            summary = self._describe(items) if self._describe else f"{items} item(s)"
            status = ("Partly done: " if partial else "Success: ") + summary
        else:
            status = "Success"
        if over:
            status += f" (over its soft timeout of {self.soft_timeout:g}s)"
        self.last_status = status
        if self.mode == "Paused":
            self.mode = "Active"
        if self._align is not None:
            origin, self._align = self._align, None
            now_wall = self._clock.time()
            self.periodic.reschedule(self._clock.monotonic() + next_on_grid(origin, self.every, now_wall) - now_wall)

    # ------------------------------------------------------------ modes
    def stop(self) -> None:
        """``task stop``: no more runs until resumed (a run in progress ends normally)."""
        self.mode = "Stopped"

    def resume(self) -> None:
        """``task resume``: Paused, and due as its schedule says (at once when a run was missed)."""
        self.mode = "Paused"

    def init(self, wall: float) -> None:
        """``task init``: a new start time; Paused until then."""
        self.mode = "Paused"
        self.set_start(wall)

    # ------------------------------------------------------------- shown
    def label(self) -> str:
        """How messages name the task: its name, else its id."""
        return f"'{self.name}'" if self.name else f"#{self.id}"

    def status(self) -> str:
        """The last status, or how long the run in progress has taken."""
        since = self._running_since
        if since is None:
            return self.last_status
        took = self._clock.monotonic() - since
        return f"Over its soft timeout: running for {took:.1f}s" if self._over else f"Running for {took:.1f}s"

    def row(self, redact: Callable[[str], str] = str) -> tuple[Any, ...]:
        """One row of 'get scheduler' (see COLUMNS)."""
        duration = "" if self.last_duration is None else f"{self.last_duration:.3f}s"
        return (self.id, self.mode, self.name, self.runs, self.status(), duration, local_text(self.start),
                repeat_text(self.every), redact(self.text))

    def info(self, redact: Callable[[str], str] = str) -> dict[str, Any]:
        """The row as JSON, with the counters behind it."""
        record = dict(zip(COLUMNS, self.row(redact), strict=True))
        due = self.periodic.next_due()
        record.update({
            "Failures": self.failures, "Over soft timeout": self.overruns,
            "Soft timeout": self.soft_timeout, "Last start": local_text(self.last_started),
            "Next run": "" if due is None or self.mode == "Stopped"
            else local_text(self._clock.time() + max(0.0, due - self._clock.monotonic())),
            "Last output": redact(self.last_output) if not self.system else "",
            "System": self.system,
        })
        return record


COLUMNS = ("ID", "Mode", "Name", "Runs", "Last status", "Duration", "Start time", "Repeat time", "Task")


class TaskBook:
    """Every scheduler's tasks on one node, and which schedulers run.

    Services listen for changes (:meth:`listen`), so a task added or
    resumed is looked at at once.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.lock = threading.RLock()  # also serializes run/exit scheduler
        self.running: set[int] = set()
        self._tables: dict[int, dict[int, Task]] = {}
        self._last_id: dict[int, int] = {}
        self._listeners: list[Callable[[], None]] = []
        self._listen_lock = threading.Lock()

    def add(self, scheduler: int, name: str, make: Callable[[int], Task]) -> Task:
        """Make a task with the next id of ``scheduler`` and add it.

        Raises:
            CommandSyntaxError: ``name`` is taken in that scheduler.
        """
        with self.lock:
            table = self._tables.setdefault(scheduler, {})
            if name and any(t.name.lower() == name.lower() for t in table.values()):
                raise CommandSyntaxError(f"scheduler {scheduler} has a task named '{name}' already",
                                         hint=f"choose another name, or first: task remove where scheduler = "
                                              f"{scheduler} and name = \"{name}\"")
            tid = self._last_id.get(scheduler, 0) + 1
            task = make(tid)
            self._last_id[scheduler] = tid
            table[tid] = task
        self.notify()
        return task

    def find(self, scheduler: int, name: str | None = None, tid: int | None = None) -> Task:
        """The task of ``scheduler`` with this name (any case) or id.

        Raises:
            CommandSyntaxError: there is none; the hint lists the scheduler's tasks.
        """
        with self.lock:
            table = self._tables.get(scheduler, {})
            found = [t for t in table.values() if (tid is not None and t.id == tid)
                     or (name is not None and t.name.lower() == name.lower())]
            known = ", ".join(f"{t.id} ({t.name})" if t.name else str(t.id) for t in table.values())
        if found:
            return found[0]
        what = f"named '{name}'" if name is not None else f"with id {tid}"
        raise CommandSyntaxError(f"scheduler {scheduler} has no task {what}",
                                 hint=f"its tasks: {known}" if known else "'get scheduler' lists the tasks")

    def remove(self, task: Task) -> None:
        """Drop ``task`` from its scheduler (a run in progress ends normally)."""
        with self.lock:
            self._tables.get(task.scheduler, {}).pop(task.id, None)
        self.notify()

    def replace_system(self, tasks: Iterable[Task]) -> None:
        """Put scheduler 0's housekeeping jobs in place of the previous ones (user tasks in 0 stay)."""
        with self.lock:
            table = self._tables.setdefault(SYSTEM, {})
            for tid in [tid for tid, t in table.items() if t.system]:
                del table[tid]
            for task in tasks:
                table[task.id] = task
                self._last_id[SYSTEM] = max(self._last_id.get(SYSTEM, 0), task.id)
            self._tables[SYSTEM] = dict(sorted(table.items()))
        self.notify()

    def next_id(self, scheduler: int) -> int:
        """The id the next task of ``scheduler`` would get (for jobs made before they are added)."""
        with self.lock:
            return self._last_id.get(scheduler, 0) + 1

    def tasks(self, schedulers: Iterable[int] | None = None) -> list[Task]:
        """The tasks of these schedulers (default: all), by scheduler then id."""
        with self.lock:
            wanted = sorted(self._tables) if schedulers is None else sorted(schedulers)
            return [t for s in wanted for t in self._tables.get(s, {}).values()]

    def schedulers(self) -> list[int]:
        """Ids of the schedulers that run or hold tasks."""
        with self.lock:
            return sorted(set(self._tables) | self.running)

    # ------------------------------------------------------------ listeners
    def listen(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever a task changes."""
        with self._listen_lock:
            self._listeners.append(wake)

    def unlisten(self, wake: Callable[[], None]) -> None:
        """Stop calling ``wake``."""
        with self._listen_lock:
            if wake in self._listeners:
                self._listeners.remove(wake)

    def notify(self) -> None:
        """Tell the running schedulers that tasks changed."""
        with self._listen_lock:
            listeners = list(self._listeners)
        for wake in listeners:
            wake()


def book_of(node: NodeView) -> TaskBook:
    """The node's task book, made on first use."""
    return node.part("scheduler", TaskBook)
