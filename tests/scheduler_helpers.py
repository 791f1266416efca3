"""Helpers of the scheduler tests: a clock that moves when told, a task's row in get scheduler."""

from __future__ import annotations

import time
from typing import Any

from anynode.scheduler.when import Clock
from tests.helpers import wait_until


class FakeClock(Clock):
    """Monotonic and wall time that move together, only when told."""

    def __init__(self, wall: float | None = None) -> None:
        self.mono = 1000.0
        self.wall = wall if wall is not None else time.time()

    def monotonic(self) -> float:
        return self.mono

    def time(self) -> float:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


def task_row(node: Any, name: str, scheduler: int = 1) -> dict[str, Any]:
    """The JSON row of one task in 'get scheduler N'."""
    (sched,) = node.execute(f"get scheduler {scheduler} where format = json").to_json()
    return next(t for t in sched["Tasks"] if t["Name"] == name)


def settled_row(node: Any, name: str, scheduler: int = 1) -> dict[str, Any]:
    """The task's row once no run of it is in progress (Runs counts a run from its start)."""
    return wait_until(lambda: (r := task_row(node, name, scheduler))["Last status"].split()[0]
                      not in ("Running", "Over") and r)
