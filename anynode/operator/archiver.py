"""Ingested files are put away (gzip into the archive) on a thread of their own, off the ingest path.

Compressing a file costs about as much as inserting its rows, and zlib
releases the GIL while it works, so on a second core it runs beside the next
file's ingest instead of after it. What stays guaranteed:

* a file is handed here only after its rows and its record committed, and it is
  put away only after ``almgm``'s row count for it is written too (the
  ``recorded`` future of the ingest);
* until it is put away it stays in ``<watch_dir>/.work/``: a crash in between
  puts it through again at the next start, where its record says it is in
  already (code 86), so its rows count once and it is archived then;
* at most ``depth`` files wait: a caller blocks while the archive is that far
  behind, so memory and the backlog stay bounded;
* a name waiting here is not reused: :meth:`Archiver.wait_name` holds a new file
  of the same name until the old one is gone from ``.work/``;
* :meth:`Archiver.close` puts away what is queued before it returns (a clean stop
  leaves ``.work/`` empty).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from anynode.operator import files

log = logging.getLogger("anynode.operator")


class Archiver:
    """One thread that puts ingested files away in the order they were ingested, at most ``depth`` waiting."""

    def __init__(self, config: files.OperatorConfig, depth: int = 2) -> None:
        self.config = config
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="anynode:operator-archive")
        self._slots = threading.BoundedSemaphore(depth)
        self._cond = threading.Condition()
        self._names: dict[str, int] = {}  # names in .work/ waiting to be put away -> how many
        self.done = 0  # files put away
        self.failed = 0  # files that could not be (they stay in .work/ for the next start)

    @property
    def waiting(self) -> int:
        """Files handed over and not yet put away."""
        with self._cond:
            return sum(self._names.values())

    def submit(self, path: Path, archived_name: str | None, recorded: Future[Any] | None = None) -> None:
        """Put ``path`` away once ``recorded`` (if any) is done; blocks while ``depth`` files wait."""
        self._slots.acquire()
        with self._cond:
            self._names[path.name] = self._names.get(path.name, 0) + 1
        try:
            self._pool.submit(self._put_away, path, archived_name, recorded)
        except BaseException:
            self._release(path.name)
            raise

    def wait_name(self, name: str) -> None:
        """Return once no file named ``name`` waits in ``.work/`` (so a new one may take the name)."""
        with self._cond:
            self._cond.wait_for(lambda: name not in self._names)

    def close(self) -> None:
        """Put away every queued file, then end the thread."""
        self._pool.shutdown(wait=True)

    def _put_away(self, path: Path, archived_name: str | None, recorded: Future[Any] | None) -> None:
        try:
            if recorded is not None:
                try:
                    recorded.result()
                except Exception as exc:  # the rows are in; the next start repairs the count and archives
                    log.error("operator: %s is ingested but its row count in almgm was not written (%s); "
                              "it stays in %s for the next start", path.name, exc, path.parent)
                    with self._cond:
                        self.failed += 1
                    return
            try:
                files.put_away(self.config, path, archived_name)
            except Exception as exc:  # the rows are in; the file stays in .work/ and is archived at the next start
                if isinstance(exc, OSError):
                    log.error("operator: %s was ingested but could not be put away: %s", path.name, exc)
                else:
                    log.exception("operator: %s was ingested but could not be put away", path.name)
                with self._cond:
                    self.failed += 1
                return
            with self._cond:
                self.done += 1
        finally:
            self._release(path.name)

    def _release(self, name: str) -> None:
        with self._cond:
            left = self._names.get(name, 1) - 1
            if left:
                self._names[name] = left
            else:
                self._names.pop(name, None)
            self._cond.notify_all()
        self._slots.release()
