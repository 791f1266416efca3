"""The query node's record of its network queries: ``query status`` (running and recent, 500 kept)."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from anynode.protocols import NodeView

KEPT = 500


@dataclass
class Share:
    """One cluster's (or peer's) part of a job: who answered, how many frames and rows, how long."""

    name: str
    status: str = "Sent"
    answered_by: str = ""
    blocks: int = 0
    rows: int = 0
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    def got(self, rows: int) -> None:
        """One more frame of ``rows`` rows arrived."""
        self.blocks += 1
        self.rows += rows
        self.status = "Receiving"

    def end(self, status: str) -> None:
        """The share is complete (or failed, with ``status`` saying so)."""
        self.status, self.ended = status, time.monotonic()


@dataclass
class Job:
    """One network query."""

    id: int
    command: str
    shares: dict[str, Share]
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    status: str = "Processing"
    rows: int = 0
    error: str = ""

    def end(self, status: str, rows: int = 0, error: str = "") -> None:
        """The job is done: Completed, or Failed with its error."""
        self.status, self.rows, self.error, self.ended = status, rows, error, time.monotonic()

    def seconds(self) -> float:
        """How long it ran (so far)."""
        return (self.ended or time.monotonic()) - self.started


class QueryLog:
    """The recent jobs of one node, newest last; thread-safe."""

    def __init__(self, kept: int = KEPT) -> None:
        self._jobs: deque[Job] = deque(maxlen=kept)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def start(self, command: str, names: list[str]) -> Job:
        """Record a new job asking ``names``."""
        with self._lock:
            job = Job(next(self._ids), command, {n: Share(n) for n in names})
            self._jobs.append(job)
            return job

    def jobs(self) -> list[Job]:
        """Every job kept, oldest first."""
        with self._lock:
            return list(self._jobs)


def query_log(node: NodeView) -> QueryLog:
    """The node's query log."""
    return node.part("query.status", QueryLog)
