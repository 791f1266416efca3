"""The ServiceManager: starts, supervises, restarts and stops the node's services.

Each service runs on one thread named ``anynode:<name>``. That thread is also
the service's supervisor: it calls ``run()``, and when ``run()`` raises after
``ready()`` it records the crash, waits the backoff on the service's own stop
event and calls ``run()`` again, until the restart policy gives up. Keeping
supervision on the service's thread (instead of a shared supervisor thread)
means one thread per service and nothing else to start or join, a restart wait
that ``stop()`` interrupts by the same event that stops the service, and no
cross-thread hand-off whose ordering could lose a crash.

States a user sees in ``get processes``:

=============  ===============================================================
Not declared   a known service that was never started
Starting       run() called, ready() not yet
Running        ready() was called
Crashed        run() raised after ready(); final when the policy never restarts
Restarting     waiting the backoff before run() is called again
Stopping       stop() asked for it and it has not ended yet (stop timed out)
Stopped        ended after a stop, or run() returned by itself
Failed         start failed, or the manager gave up restarting it
=============  ===============================================================
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from anynode.errors import AlreadyRunning, ConfigError, ServiceError
from anynode.services.base import RestartPolicy, Service
from anynode.services.status import ACTIVE_STATES, SERVICE_NAMES, ServiceState, ServiceStatus, error_line, thread_name  # noqa: F401 - re-exported: callers import them from here


@dataclass(eq=False)
class _Slot:
    """Everything the manager knows about one started service."""

    name: str
    service: Service
    policy: RestartPolicy
    stop: threading.Event = field(default_factory=threading.Event)
    first_outcome: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    state: ServiceState = ServiceState.STARTING
    note: str = ""
    restarts: int = 0
    last_error: str | None = None
    start_error: BaseException | None = None
    started_at: float | None = None
    failures: deque[float] = field(default_factory=deque)


class ServiceManager:
    """Runs the node's services, each on its own ``anynode:<name>`` thread.

    ``known`` are the names ``get processes`` always lists (as "Not declared"
    until started); ``clock`` times crashes for the restart window and the
    ``started_at`` of each status. Names are matched case-insensitively.
    """

    def __init__(
        self,
        known: Sequence[str] = SERVICE_NAMES,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._known = tuple(known)
        self._log = logger or logging.getLogger("anynode.services")
        self._clock = clock
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._slots: dict[str, _Slot] = {}  # key: lowercased name
        self._order: list[str] = []  # keys in start order, latest last
        self._stale: list[threading.Thread] = []  # threads that outlived a stop
        self._given_up: list[_Slot] = []  # still busy at a shutdown's deadline: not waited for again

    # ----------------------------------------------------------------- start
    def start(self, service: Service, timeout: float = 10.0) -> ServiceStatus:
        """Start ``service`` and return once it called ``ready()``.

        Raises AlreadyRunning when a service of that name runs, and
        ServiceError with the start error in one line when ``run()`` raised or
        returned before ``ready()``, or when ``timeout`` seconds passed first.
        """
        name = self._display_name(service.name)
        key = name.lower()
        with self._lock:
            old = self._slots.get(key)
            if old is not None and old.state in ACTIVE_STATES:
                raise AlreadyRunning(f"{name} is already running",
                                     hint=f"use 'exit {name.lower()}' first to restart it")
            if old is not None and old.state == ServiceState.STOPPING:
                raise AlreadyRunning(f"{name} is still stopping",
                                     hint="start it again once 'get processes' shows Stopped")
            slot = _Slot(name=name, service=service, policy=service.restart_policy)
            slot.thread = threading.Thread(target=self._supervise, args=(slot,), name=thread_name(name), daemon=True)
            self._slots[key] = slot
            if key in self._order:
                self._order.remove(key)
            self._order.append(key)
            self._changed.notify_all()
        slot.thread.start()
        slot.first_outcome.wait(timeout)
        with self._lock:
            if slot.started_at is not None:  # ready() was called, whatever happened since
                return self._details(self._status(slot), slot)
            error = slot.start_error
            finished = slot.first_outcome.is_set()
        if finished:
            reason = error_line(error) if error is not None else "run() returned before the service was ready"
            exc = ServiceError(f"{name} failed to start: {reason}")
            exc.__cause__ = error
            raise exc
        # Timed out: ask it to stop, give it a moment, and report.
        self._signal_stop(slot)
        slot.thread.join(min(1.0, timeout))
        with self._lock:
            self._set(slot, ServiceState.FAILED, f"start failed: not ready within {timeout:g}s")
            slot.last_error = f"not ready within {timeout:g}s"
            if slot.thread.is_alive():
                self._stale.append(slot.thread)
        raise ServiceError(
            f"{name} failed to start: not ready within {timeout:g}s",
            hint="see the error log; a slow start may need a longer timeout",
        )

    # ------------------------------------------------------------------ stop
    def stop(self, name: str, timeout: float = 5.0) -> ServiceStatus:
        """Stop one service: set its stop event, call ``wake()``, join it.

        Raises ServiceError when it is not running, or when it did not end
        within ``timeout`` seconds (it is then shown as Stopping).
        """
        with self._lock:
            slot = self._slots.get(name.lower())
            if slot is None or not (slot.state in ACTIVE_STATES or slot.state == ServiceState.STOPPING):
                shown = slot.name if slot else self._display_name(name)
                state = slot.state if slot else ServiceState.NOT_DECLARED
                raise ServiceError(f"{shown} is not running (state: {state})", hint="'get processes' lists what runs")
        self._signal_stop(slot)
        assert slot.thread is not None
        slot.thread.join(timeout)
        with self._lock:
            if slot.thread.is_alive():
                self._set(slot, ServiceState.STOPPING, f"stop asked; still busy after {timeout:g}s")
                raise ServiceError(
                    f"{slot.name} did not stop within {timeout:g}s",
                    hint="it is still finishing its current work; 'get processes' shows when it ends",
                )
            return self._status(slot)  # Stopped: details come from the note, not the service

    def stop_all(self, timeout: float = 10.0) -> list[str]:
        """Stop every running service, latest started first, within ``timeout`` in total.

        Each service is stopped and joined before the next one is asked, so a
        scheduler ends before the listeners it may use. A service still busy
        at the deadline does not keep the others running: they are all asked
        to stop and share a short grace (a quarter of ``timeout``, at most
        0.5 s). Returns the names that stopped; the others are logged and
        left Stopping.
        """
        return self._stop_slots(self._stoppable(), timeout)

    def shutdown(self, timeout: float) -> tuple[list[str], list[str]]:
        """Stop every service for the node's end: (names stopped, names still busy at the deadline).

        The node's one stop, whatever ended it (see anynode.lifecycle): stop_all
        within ``timeout``, then one error line names the services still busy.
        A service an earlier shutdown gave up on is not waited for again.
        """
        slots = [s for s in self._stoppable() if s not in self._given_up]
        stopped = self._stop_slots(slots, timeout)
        busy = [s for s in slots if s.name not in stopped]
        if busy:
            with self._lock:
                self._given_up += busy
            self._log.error("services still busy at the shutdown deadline: %s", ", ".join(s.name for s in busy))
        return stopped, [s.name for s in busy]

    def _stoppable(self) -> list[_Slot]:
        """The services running or still stopping, latest started first."""
        with self._lock:
            return [self._slots[k] for k in reversed(self._order)
                    if self._slots[k].state in ACTIVE_STATES or self._slots[k].state == ServiceState.STOPPING]

    def _stop_slots(self, slots: list[_Slot], timeout: float) -> list[str]:
        """Stop ``slots`` in the order given within ``timeout`` in total (see stop_all)."""
        deadline = time.monotonic() + timeout
        for slot in slots:
            self._signal_stop(slot)
            assert slot.thread is not None
            slot.thread.join(max(0.0, deadline - time.monotonic()))
        grace_end = max(deadline, time.monotonic()) + min(0.5, timeout / 4)
        with self._lock:
            stale = list(self._stale)
        stopped: list[str] = []
        for slot in slots:
            assert slot.thread is not None
            slot.thread.join(max(0.0, grace_end - time.monotonic()))
            if slot.thread.is_alive():
                with self._lock:
                    self._set(slot, ServiceState.STOPPING,
                              f"stop asked; still busy at the {timeout:g}s shutdown deadline")
                self._log.warning("%s did not stop within the %gs shutdown deadline", slot.name, timeout)
            else:
                stopped.append(slot.name)
        for thread in stale:
            thread.join(max(0.0, grace_end - time.monotonic()))
        with self._lock:
            self._stale = [t for t in self._stale if t.is_alive()]
        return stopped

    # ---------------------------------------------------------------- status
    def status(self, name: str) -> ServiceStatus:
        """The status of one service; Not declared for a known name never started.

        Raises ServiceError for a name that is neither known nor started.
        """
        with self._lock:
            slot = self._slots.get(name.lower())
            row = self._status(slot) if slot is not None else None
        if slot is not None and row is not None:
            return self._details(row, slot)
        for known in self._known:
            if known.lower() == name.lower():
                return _not_declared(known)
        names = ", ".join(self._known)
        raise ServiceError(f"no service named '{name}'", hint=f"services are: {names}")

    def statuses(self) -> list[ServiceStatus]:
        """Every known service in known order, then the others in start order."""
        with self._lock:
            known = {k.lower() for k in self._known}
            keys = [k.lower() for k in self._known] + [k for k in self._order if k not in known]
            rows = [(self._status(self._slots[k]), self._slots[k]) if k in self._slots else (None, k) for k in keys]
        out: list[ServiceStatus] = []
        for row, slot in rows:
            if isinstance(slot, _Slot) and row is not None:
                out.append(self._details(row, slot))
            else:
                out.append(_not_declared(self._display_name(str(slot))))
        return out

    def get(self, name: str) -> Service | None:
        """The service object last started under ``name`` (running or not), else None."""
        with self._lock:
            slot = self._slots.get(name.lower())
            return slot.service if slot else None

    def running(self) -> list[str]:
        """Names of the services whose thread runs and was not asked to stop, in start order."""
        with self._lock:
            return [self._slots[k].name for k in self._order if self._slots[k].state in ACTIVE_STATES]

    def wait_for(self, name: str, states: Iterable[str], timeout: float) -> ServiceStatus:
        """Block until ``name`` is in one of ``states`` (or ``timeout``); return its status.

        For tests and for commands that wait on a service (``wait for ...``).
        """
        wanted = set(states)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                slot = self._slots.get(name.lower())
                if slot is not None and slot.state in wanted:
                    row = self._status(slot)  # the matching state, even if it moves on at once
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    slot = None
                    break
                self._changed.wait(left)
        return self._details(row, slot) if slot is not None else self.status(name)

    # ------------------------------------------------------------- internals
    def _display_name(self, name: str) -> str:
        for known in self._known:
            if known.lower() == name.lower():
                return known
        return name

    def _set(self, slot: _Slot, state: ServiceState, note: str = "") -> None:
        """Change a slot's state; the caller holds the lock."""
        slot.state = state
        slot.note = note
        self._changed.notify_all()

    def _status(self, slot: _Slot) -> ServiceStatus:
        """Build the status row from the manager's own record; the caller holds the lock."""
        return ServiceStatus(slot.name, slot.state, slot.note, slot.restarts, slot.last_error,
                             slot.policy.describe(), slot.started_at)

    @staticmethod
    def _details(row: ServiceStatus, slot: _Slot) -> ServiceStatus:
        """Fill a Running row's details from the service, outside the lock.

        details() is the service's code: it may be slow or may ask the manager
        something, so it is never called with the lock held, and its failure
        never breaks ``get processes``.
        """
        if row.state != ServiceState.RUNNING or row.details:
            return row
        try:
            details = slot.service.details()
        except Exception as exc:  # noqa: BLE001 - a broken details() shows as such instead of failing the listing
            details = f"details unavailable: {error_line(exc)}"
        return replace(row, details=details)

    def _signal_stop(self, slot: _Slot) -> None:
        slot.stop.set()
        try:
            slot.service.wake()
        except Exception:  # noqa: BLE001 - wake() is the service's code; the join below still bounds the wait
            self._log.error("%s: wake() failed while stopping", slot.name, exc_info=True)

    def _supervise(self, slot: _Slot) -> None:
        """The service thread: run, record crashes, back off, run again."""
        first = True
        while True:
            error = self._run_once(slot)
            with self._lock:
                if slot.stop.is_set():
                    if slot.state != ServiceState.FAILED:  # a start that timed out stays Failed
                        self._set(slot, ServiceState.STOPPED, "")
                    self._log.info("%s stopped", slot.name)
                    break
                if first and slot.started_at is None:  # never became ready: a start failure
                    slot.start_error = error
                    slot.last_error = error_line(error) if error else "ended before it was ready"
                    self._set(slot, ServiceState.FAILED, f"start failed: {slot.last_error}")
                    break
                if error is None:
                    self._set(slot, ServiceState.STOPPED, "run() returned by itself")
                    self._log.info("%s ended by itself", slot.name)
                    break
                delay = self._crashed(slot, error)
                if delay is None:
                    break
            first = False
            if slot.stop.wait(delay):
                with self._lock:
                    self._set(slot, ServiceState.STOPPED, "")
                self._log.info("%s stopped while waiting to restart", slot.name)
                break
            with self._lock:
                slot.restarts += 1
                self._set(slot, ServiceState.STARTING, f"restart {slot.restarts} after: {slot.last_error}")
            self._log.info("%s: restarting (restart %d)", slot.name, slot.restarts)
        slot.first_outcome.set()

    def _run_once(self, slot: _Slot) -> BaseException | None:
        """Call run() once; return what it raised, or None if it returned."""
        ready_called = threading.Event()

        def ready() -> None:
            if ready_called.is_set():
                return
            ready_called.set()
            with self._lock:
                slot.started_at = self._clock()
                if not slot.stop.is_set():
                    self._set(slot, ServiceState.RUNNING, "")
            self._log.info("%s running", slot.name)
            slot.first_outcome.set()

        try:
            slot.service.run(slot.stop, ready)
        except Exception as exc:  # noqa: BLE001 - the service's failure, reported through the manager
            if slot.stop.is_set():
                self._log.warning("%s raised while stopping: %s", slot.name, error_line(exc))
                return None
            self._log.error("%s failed: %s", slot.name, error_line(exc), exc_info=True)
            return exc
        return None

    def _crashed(self, slot: _Slot, error: BaseException) -> float | None:
        """Record a crash (lock held); return the backoff, or None when not restarting."""
        now = self._clock()
        policy = slot.policy
        slot.last_error = error_line(error)
        slot.failures.append(now)
        while slot.failures and slot.failures[0] < now - policy.window:
            slot.failures.popleft()
        self._set(slot, ServiceState.CRASHED, f"crashed: {slot.last_error}")
        if not policy.restart:
            return None
        if isinstance(error, ConfigError):
            self._set(slot, ServiceState.FAILED,
                      f"gave up: configuration error, a restart will not fix it: {slot.last_error}")
            self._log.error("%s: not restarting after a configuration error", slot.name)
            return None
        count = len(slot.failures)
        if count >= policy.give_up_after:
            self._set(slot, ServiceState.FAILED, f"gave up after {count} failures within {policy.window:g}s; "
                                                 f"last: {slot.last_error}")
            self._log.error("%s: gave up after %d failures within %gs", slot.name, count, policy.window)
            return None
        delay = float(min(policy.backoff * 2.0 ** (count - 1), policy.max_backoff))
        self._set(slot, ServiceState.RESTARTING, f"restart in {delay:g}s (failure {count} of {policy.give_up_after} "
                                                 f"within {policy.window:g}s): {slot.last_error}")
        return delay


def _not_declared(name: str) -> ServiceStatus:
    return ServiceStatus(name, ServiceState.NOT_DECLARED, "", 0, None, "", None)
