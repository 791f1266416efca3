"""What the stats log adds on every tick: the process's CPU and memory, and each service's rates.

Read from Linux's /proc (resident memory now, open files); elsewhere the
resident size is the peak the kernel reports (``getrusage``). CPU is the
process's user + system seconds, and the percentage of one core used since
the previous tick (swarm nodes' console shows the same).
"""

from __future__ import annotations

import os
import resource
import sys
import threading
from collections.abc import Mapping
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """The process's resident memory in bytes (the peak where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)


def cpu_seconds() -> float:
    """User + system CPU seconds of the process so far."""
    times = os.times()
    return float(times.user + times.system)


def open_files() -> int | None:
    """File descriptors the process holds, or None where /proc is missing."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


class ProcessSampler:
    """One stats line about the process per call; CPU % is measured since the previous call."""

    def __init__(self) -> None:
        self._last: tuple[float, float] | None = None

    def sample(self, now: float) -> dict[str, Any]:
        """The process line at monotonic time ``now``."""
        cpu = cpu_seconds()
        line: dict[str, Any] = {"pid": os.getpid(), "cpu_seconds": round(cpu, 3), "rss_bytes": rss_bytes(),
                                "threads": threading.active_count()}
        if self._last is not None and now > self._last[0]:
            line["cpu_percent"] = round(100.0 * (cpu - self._last[1]) / (now - self._last[0]), 1)
        self._last = (now, cpu)
        fds = open_files()
        if fds is not None:
            line["open_files"] = fds
        return line


class RateTracker:
    """Per service, the per-second rate of each top-level number that grew since the previous tick."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, dict[str, float]]] = {}

    def update(self, service: str, info: Mapping[str, Any], now: float) -> dict[str, float]:
        """Rates of ``service``'s counters since its previous line (empty on its first)."""
        numbers = {k: float(v) for k, v in info.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        previous = self._last.get(service)
        self._last[service] = (now, numbers)
        if previous is None or now <= previous[0]:
            return {}
        span = now - previous[0]
        return {f"{k}_per_s": round((v - previous[1][k]) / span, 3)
                for k, v in numbers.items() if k in previous[1] and v > previous[1][k]}

    def forget_others(self, services: set[str]) -> None:
        """Drop services that no longer report (a stopped service does not keep its memory here)."""
        for name in [n for n in self._last if n not in services]:
            del self._last[name]
