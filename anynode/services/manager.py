"""ServiceManager (interim: start/stop/status without restarts; the full
manager with crash handling replaces it with the same API)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Sequence

from anynode.errors import AlreadyRunning, ServiceError
from anynode.services.base import Service

SERVICE_NAMES = ("TCP", "REST", "Operator", "Publisher", "Blockchain Sync", "Scheduler", "HA")


@dataclass(frozen=True)
class ServiceStatus:
    """The state of one service as ``get processes`` shows it."""

    name: str
    state: str
    details: str = ""
    restarts: int = 0
    last_error: str | None = None
    policy: str = ""
    started_at: float | None = None


class _Run:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.started = time.time()
        self.thread = threading.Thread(target=self._main, daemon=True,
                                       name="anynode:" + service.name.lower().replace(" ", "-"))

    def _main(self) -> None:
        try:
            self.service.run(self.stop, self.ready.set)
        except BaseException as exc:  # recorded and shown by status
            self.error = exc
        finally:
            self.ready.set()


class ServiceManager:
    """Runs the node's services, each on its own thread."""

    def __init__(self, known: Sequence[str] = SERVICE_NAMES) -> None:
        self.known = tuple(known)
        self._runs: dict[str, _Run] = {}
        self._order: list[str] = []
        self._lock = threading.Lock()

    def _key(self, name: str) -> str:
        low = name.lower()
        for n in list(self.known) + list(self._runs):
            if n.lower() == low:
                return n
        return name

    def start(self, service: Service, timeout: float = 10.0) -> ServiceStatus:
        """Start ``service``; return once it is ready, or raise its start error."""
        name = self._key(service.name)
        with self._lock:
            run = self._runs.get(name)
            if run is not None and run.thread.is_alive():
                raise AlreadyRunning(f"{name} is already running", hint=f"'exit {name.lower()}' stops it")
            run = _Run(service)
            self._runs[name] = run
            if name in self._order:
                self._order.remove(name)
            self._order.append(name)
        run.thread.start()
        if not run.ready.wait(timeout):
            self._stop_run(run, 2.0)
            raise ServiceError(f"{name} did not become ready within {timeout:g} s")
        if run.error is not None or not run.thread.is_alive():
            run.thread.join(1.0)
            raise ServiceError(f"{name} failed to start: {run.error}")
        return self.status(name)

    @staticmethod
    def _stop_run(run: _Run, timeout: float) -> bool:
        run.stop.set()
        run.service.wake()
        run.thread.join(timeout)
        return not run.thread.is_alive()

    def stop(self, name: str, timeout: float = 5.0) -> ServiceStatus:
        """Stop one service within ``timeout`` seconds."""
        key = self._key(name)
        run = self._runs.get(key)
        if run is None or not run.thread.is_alive():
            raise ServiceError(f"{key} is not running", hint="'get processes' shows what runs")
        if not self._stop_run(run, timeout):
            raise ServiceError(f"{key} did not stop within {timeout:g} s")
        return self.status(key)

    def stop_all(self, timeout: float = 10.0) -> list[str]:
        """Stop every running service in reverse start order."""
        stopped = []
        deadline = time.monotonic() + timeout
        for name in reversed(self._order):
            run = self._runs[name]
            if run.thread.is_alive():
                self._stop_run(run, max(0.1, deadline - time.monotonic()))
                stopped.append(name)
        return stopped

    def get(self, name: str) -> Service | None:
        """The service called ``name``, if it was ever started."""
        run = self._runs.get(self._key(name))
        return run.service if run else None

    def running(self) -> list[str]:
        """Names of running services, in start order."""
        return [n for n in self._order if self._runs[n].thread.is_alive()]

    def status(self, name: str) -> ServiceStatus:
        """The state of one service."""
        key = self._key(name)
        run = self._runs.get(key)
        if run is None:
            return ServiceStatus(key, "Not declared")
        if run.thread.is_alive():
            return ServiceStatus(key, "Running", run.service.details(), started_at=run.started)
        if run.error is not None:
            return ServiceStatus(key, "Crashed", run.service.details(), last_error=str(run.error))
        return ServiceStatus(key, "Stopped", run.service.details())

    def statuses(self) -> list[ServiceStatus]:
        """Every known service, then any other that was started."""
        names = list(self.known) + [n for n in self._order if n not in self.known]
        return [self.status(n) for n in names]
