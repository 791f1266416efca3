"""What the service manager reports: the names it always lists, the states, the status row, error lines."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from anynode.errors import AnyNodeError

SERVICE_NAMES: tuple[str, ...] = ("TCP", "REST", "Operator", "Blockchain Sync", "Scheduler")
"""The services ``get processes`` always lists (as "Not declared" until started): those that exist.
A capability adds its service's name here when it lands (Blockchain Sync, Publisher, HA ...)."""



class ServiceState(str, enum.Enum):
    """A service's state as ``get processes`` shows it (the manager's docstring says when each holds).

    A member is its text: it compares equal to it, prints as it and goes to
    JSON as it.
    """

    NOT_DECLARED = "Not declared"
    STARTING = "Starting"
    RUNNING = "Running"
    CRASHED = "Crashed"
    RESTARTING = "Restarting"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"

    __str__ = str.__str__  # the text, on every Python (3.10 would print "ServiceState.RUNNING")
    __format__ = str.__format__  # type: ignore[assignment]


ACTIVE_STATES = frozenset({ServiceState.STARTING, ServiceState.RUNNING, ServiceState.RESTARTING})
"""States in which a service's thread is alive and no stop was asked for.

Crashed is not one: with a restart policy a crash moves to Restarting (or
Failed) at once, so Crashed stays visible only when the policy never restarts
and the thread has ended.
"""


def thread_name(name: str) -> str:
    """The thread name of a service: ``anynode:`` + name lowercased, spaces to ``-``."""
    return "anynode:" + name.lower().replace(" ", "-")


def error_line(exc: BaseException) -> str:
    """One line that says what went wrong, for ``last_error`` and start errors."""
    if isinstance(exc, AnyNodeError):
        return exc.one_line()
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@dataclass(frozen=True)
class ServiceStatus:
    """One row of ``get processes``: a service's state as the user sees it."""

    name: str
    state: ServiceState
    details: str
    restarts: int
    last_error: str | None
    policy: str
    started_at: float | None
