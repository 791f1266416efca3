"""The contract every background service follows.

A service is one activity of the node (TCP server, operator, scheduler ...)
run by the ServiceManager on a thread named ``anynode:<name>``. The manager
calls :meth:`Service.run` with a stop event and a ``ready`` callback; the
service calls ``ready()`` once it is serving (so ``run x`` can answer
"running: ..." or the start error), then works until ``stop`` is set, waiting
only with ``stop.wait(seconds)`` so that every stop is prompt. A service that
blocks on something else (a socket, a queue) unblocks it in :meth:`Service.wake`,
which the manager calls right after setting ``stop``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RestartPolicy:
    """What the manager does when a service's run() raises after ready().

    The n-th failure within ``window`` waits ``backoff * 2**(n-1)`` seconds
    (at most ``max_backoff``) on the stop event, so ``exit`` interrupts it; a
    ConfigError is never retried (a restart will not fix the configuration),
    and a raise before ready() is a start failure reported by start().

    Args:
        restart: restart at all.
        backoff: first delay before a restart, doubled after each quick failure.
        max_backoff: the delay never grows past this.
        give_up_after: this many failures within ``window`` seconds stop retries.
        window: seconds over which failures count as "quick".
    """

    restart: bool = True
    backoff: float = 0.5
    max_backoff: float = 30.0
    give_up_after: int = 5
    window: float = 60.0

    def describe(self) -> str:
        """The policy in a few words, for ``get processes``."""
        if not self.restart:
            return "no restart"
        return (f"restart, backoff {self.backoff:g}-{self.max_backoff:g}s, "
                f"give up after {self.give_up_after} in {self.window:g}s")


class Service:
    """Base class of background services.

    Subclasses set ``name`` (as ``get processes`` shows it) and implement
    :meth:`run`; :meth:`details` is the Details column and :meth:`info` the
    counters behind ``get <service>`` and the stats log.
    """

    name: str = "service"
    restart_policy: RestartPolicy = RestartPolicy()

    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        """Serve until ``stop`` is set. Call ``ready()`` once serving.

        Raising before ``ready()`` means the start failed; raising after it is
        a crash that the restart policy handles.
        """
        raise NotImplementedError

    def wake(self) -> None:
        """Called by the manager right after setting stop: unblock any wait
        that is not on the stop event (a listening socket, a queue)."""

    def details(self) -> str:
        """One line for the Details column of ``get processes``."""
        return ""

    def info(self) -> dict[str, Any]:
        """Counters and settings of the running service."""
        return {}
