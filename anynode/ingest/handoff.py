"""The queue between the thread that prepares a file's batches and the writer job that inserts them."""

from __future__ import annotations

import queue
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from anynode.ingest.transform import ColumnBatch


class Handoff:
    """Prepared batches from the caller's thread to the writer's job, at most ``depth`` waiting.

    The caller puts batches and then :meth:`end` or :meth:`fail`; the job takes
    them with :meth:`next` until None. A put gives up when the job has already
    finished (it failed), so neither side can wait for the other forever.
    """

    _END = object()

    def __init__(self, depth: int = 4) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(depth)

    def put(self, item: Any, job: Future[Any]) -> bool:
        while not job.done():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def end(self, job: Future[Any]) -> None:
        self.put(self._END, job)

    def fail(self, exc: BaseException, job: Future[Any]) -> None:
        self.put(Failed(exc), job)

    def next(self) -> ColumnBatch | None:
        item = self._queue.get()
        if item is self._END:
            return None
        if isinstance(item, Failed):
            raise item.exc
        return item


@dataclass(frozen=True)
class Failed:
    """What the preparing side met; the writer job raises it (and rolls back)."""

    exc: BaseException
