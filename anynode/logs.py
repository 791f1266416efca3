"""Node logging: root.log, stats.log and the rings behind ``get error log`` / ``get event log``.

One :class:`NodeLogs` per node owns its logger and handlers, so two nodes in
one process never write into each other's files or rings:

* ``<home>/logs/root.log``: every event and error at ``log_level`` and above,
  with tracebacks; rotated by size (RotatingFileHandler).
* ``<home>/logs/stats.log``: one JSON line per service every
  ``stats_interval`` seconds with the service's ``info()`` counters, written
  by the PeriodicTask from :meth:`NodeLogs.stats_task`; rotated by size.
* two bounded, thread-safe rings: the event log (every record at the node's
  level) and the error log (warnings and errors). A message repeated
  back-to-back is kept once with a count, as AnyLog's Count column does.

Every record reaches the files and rings with the node's known secret values
masked (:mod:`anynode.secret`).

:meth:`NodeLogs.reopen` reopens both files (SIGHUP after logrotate renamed
them: rotate by rename, never copytruncate).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from anynode.secret import Secrets
from anynode.services.base import Service
from anynode.services.manager import ServiceStatus, error_line
from anynode.services.periodic import PeriodicTask
from anynode.services.status import ServiceState

ROOT_FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(message)s"


@dataclass(frozen=True)
class LogEntry:
    """One row of ``get error log`` / ``get event log``."""

    id: int
    time: float
    thread: str
    type: str
    text: str
    count: int = 1


class RingLog:
    """A bounded, thread-safe list of the latest log entries."""

    def __init__(self, size: int) -> None:
        self._entries: deque[LogEntry] = deque(maxlen=max(1, size))
        self._lock = threading.Lock()
        self._next_id = 1

    def add(self, type_: str, text: str, thread: str, when: float) -> None:
        """Append an entry; the same type and text as the last entry only bumps its count."""
        with self._lock:
            last = self._entries[-1] if self._entries else None
            if last is not None and last.type == type_ and last.text == text:
                self._entries[-1] = replace(last, count=last.count + 1, time=when, thread=thread)
                return
            self._entries.append(LogEntry(self._next_id, when, thread, type_, text))
            self._next_id += 1

    def entries(self, last: int | None = None) -> list[LogEntry]:
        """The entries, oldest first; only the ``last`` n when given."""
        with self._lock:
            items = list(self._entries)
        return items[-last:] if last else items

    def clear(self) -> None:
        """Forget every entry (``reset error log``); ids keep growing."""
        with self._lock:
            self._entries.clear()


class _RingHandler(logging.Handler):
    """Puts each record's one-line message into a RingLog."""

    def __init__(self, ring: RingLog, level: int) -> None:
        super().__init__(level)
        self.ring = ring

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage().splitlines()[0] if record.getMessage() else ""
            self.ring.add(record.levelname.title(), text, record.threadName or "", record.created)
        except Exception:  # noqa: BLE001 - logging must never raise into the caller; the stdlib reports it
            self.handleError(record)


class _MaskSecrets(logging.Filter):
    """Masks the node's known secret values in a record's message and traceback, before any handler writes it.

    A filter on each handler (a logger's own filters miss its children's
    records); the record is changed in place, so it is masked once.
    """

    def __init__(self, secrets: Secrets) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self.secrets
        if not secrets or getattr(record, "_anynode_masked", False):
            return True
        message = record.getMessage()
        masked = secrets.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = secrets.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = secrets.mask(record.stack_info)
        record._anynode_masked = True
        return True


class _Manager(Protocol):
    def statuses(self) -> list[ServiceStatus]: ...
    def get(self, name: str) -> Service | None: ...


class NodeLogs:
    """The logging of one node: its logger, files and rings.

    Use :attr:`logger` (or ``logger.getChild("tcp")``) everywhere in the node;
    it does not propagate to Python's root logger. Call :meth:`close` when the
    node ends.
    """

    def __init__(
        self,
        home: str | Path,
        node_name: str = "anynode",
        *,
        level: str | int = "INFO",
        max_bytes: int = 10 * 1024 * 1024,
        backups: int = 5,
        error_log_size: int = 100,
        event_log_size: int = 100,
        secrets: Secrets | None = None,
    ) -> None:
        self.node_name = node_name
        self.dir = Path(home) / "logs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.root_path = self.dir / "root.log"
        self.stats_path = self.dir / "stats.log"
        self.errors = RingLog(error_log_size)
        self.events = RingLog(event_log_size)
        ident = f"{id(self):x}"
        self.logger = logging.getLogger(f"anynode.node.{ident}")
        self.logger.propagate = False
        self._root = logging.handlers.RotatingFileHandler(self.root_path, maxBytes=max_bytes, backupCount=backups,
                                                          encoding="utf-8", delay=False)
        self._root.setFormatter(logging.Formatter(ROOT_FORMAT))
        self._handlers: list[logging.Handler] = [self._root, _RingHandler(self.events, logging.NOTSET),
                                                 _RingHandler(self.errors, logging.WARNING)]
        self.secrets = secrets if secrets is not None else Secrets()
        masking = _MaskSecrets(self.secrets)
        for handler in self._handlers:
            handler.addFilter(masking)
            self.logger.addHandler(handler)
        self.set_level(level)
        self._stats_logger = logging.getLogger(f"anynode.stats.{ident}")
        self._stats_logger.propagate = False
        self._stats_logger.setLevel(logging.INFO)
        self._stats = logging.handlers.RotatingFileHandler(self.stats_path, maxBytes=max_bytes, backupCount=backups,
                                                           encoding="utf-8")
        self._stats.setFormatter(logging.Formatter("%(message)s"))
        self._stats.addFilter(masking)
        self._stats_logger.addHandler(self._stats)

    @classmethod
    def from_settings(cls, home: str | Path, settings: Mapping[str, Any], secrets: Secrets | None = None) -> NodeLogs:
        """NodeLogs configured from the node's Settings, masking the values of ``secrets``."""
        return cls(home, settings["node_name"], level=settings["log_level"], max_bytes=settings["log_max_bytes"],
                   backups=settings["log_backups"], error_log_size=settings["error_log_size"],
                   event_log_size=settings["event_log_size"], secrets=secrets)

    def set_level(self, level: str | int) -> None:
        """Change the lowest level logged (a SIGHUP reload of ``log_level``)."""
        self.logger.setLevel(level if isinstance(level, int) else level.upper())

    def write_stats(self, service: str, info: Mapping[str, Any]) -> None:
        """Append one JSON line for ``service`` to stats.log."""
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z", "node": self.node_name,
                "service": service}
        line.update(info)
        self._stats_logger.info(json.dumps(line, default=str, separators=(",", ":")))

    def stats_task(self, source: Callable[[], Iterable[tuple[str, Mapping[str, Any]]]], every: float,
                   clock: Callable[[], float] = time.monotonic) -> PeriodicTask:
        """A PeriodicTask writing one stats line per (service, info) of ``source()`` every ``every`` seconds.

        Add it to a PeriodicService (the node's housekeeping) to run it.
        """
        def write(expired: Callable[[], bool]) -> int:
            rows = list(source())
            for name, info in rows:
                self.write_stats(name, info)
            return len(rows)

        return PeriodicTask("stats", every, call=write, run_at_start=False, clock=clock, logger=self.logger)

    def reopen(self) -> None:
        """Reopen root.log and stats.log at their paths (after logrotate renamed them)."""
        for handler in (self._root, self._stats):
            stream = open(handler.baseFilename, "a", encoding="utf-8")  # noqa: SIM115 - the handler owns it now
            old = handler.setStream(stream)
            if old is not None:
                old.close()
        self.logger.info("log files reopened")

    def close(self) -> None:
        """Detach and close every handler of this node."""
        for handler in self._handlers:
            self.logger.removeHandler(handler)
            handler.close()
        self._stats_logger.removeHandler(self._stats)
        self._stats.close()


def service_stats(manager: _Manager) -> Callable[[], list[tuple[str, dict[str, Any]]]]:
    """A stats source for :meth:`NodeLogs.stats_task`: every declared service's state and ``info()``.

    A service whose info() raises still gets its line, with ``info_error``.
    """
    def rows() -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        for status in manager.statuses():
            if status.state == ServiceState.NOT_DECLARED:
                continue
            info: dict[str, Any] = {"state": status.state, "restarts": status.restarts}
            service = manager.get(status.name)
            if status.state == ServiceState.RUNNING and service is not None:
                try:
                    info.update(service.info())
                except Exception as exc:  # noqa: BLE001 - one broken info() must not hide the other services' stats
                    info["info_error"] = error_line(exc)
            out.append((status.name, info))
        return out

    return rows
