"""Reading and preparing small data files in a child process, so that ingest uses the second core.

Parsing JSON and turning rows into typed columns is Python work that holds the
GIL: on the node's threads it can only take turns with the writer's inserts
and the archive's gzip. A :class:`ParsePool` keeps up to ``workers`` child
processes (``python -m anynode.ingest.parse_child``); each takes a file's path
and sends back its hash and prepared batches, made by the same functions the
operator's thread would use, so the answer is the same either way. Safe for a
node that runs for months because:

* **nothing depends on it**: without a free, ready and healthy worker the
  caller does the work in its own thread. A worker starts on first use and is
  used from the next file on; one that dies, hangs past ``timeout`` or answers
  nonsense is killed and replaced, at most :data:`RESTARTS` times, then the
  pool stays in-thread and logs why;
* **only small files** (``whole_file_bytes``, 4 MB by default) go to a worker;
  bigger ones are streamed in-thread in bounded memory;
* **errors keep their place**: a bad row in batch *k* comes back as batches
  ``1..k-1`` and the error, replayed to the writer in that order;
* **the child is the node's own**: this interpreter, this package first on its
  path, its own session (a Ctrl-C at the prompt does not reach it), SIGINT
  ignored; it exits when its input closes, so it never outlives the node, even
  a killed one. Requests and answers are pickles over its private pipes; each
  batch in an answer is a pickle of its own, unpickled as the writer needs it.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anynode
from anynode.errors import IngestError
from anynode.ingest.naming import FileName
from anynode.ingest.parse_child import READY as _READY
from anynode.ingest.parse_pipe import Broken, read_frame, readable, widen, write_frame
from anynode.ingest.rows import DEFAULT_LIMITS, ReadLimits
from anynode.ingest.target import limits_for, target_db
from anynode.ingest.transform import ColumnBatch
from anynode.store.catalog import DatabaseCatalog

log = logging.getLogger("anynode.operator")

#: Workers replaced after a crash or a hang before the pool gives up and stays in-thread.
RESTARTS = 3
#: Files below this size are prepared in-thread: measured on 300 files of 5 rows, the round trip to a worker
#: made each file ~0.4 ms slower; 32 KB of JSON is ~300 rows, whose parsing costs more than the trip.
MIN_BYTES = 32 * 1024


@dataclass
class Parsed:
    """A file read and prepared by a worker: its hash, its batches, and the error met after them (if any).

    Each batch stays a pickle of its own until :meth:`replay` reaches it. Unpickling a whole
    file's batches at once held the GIL for milliseconds while the writer, between two
    statements, waited for it; batch by batch, the operator's thread unpickles one while
    the writer inserts the one before (the operator at its defaults, 1 M rows: 4.25 -> 3.76 s,
    median of 4 alternating runs).
    """

    file_hash: str
    batches: list[bytes]
    error: IngestError | None = None

    def replay(self) -> Iterator[ColumnBatch]:
        """The batches in order, then the error met after them (where the in-thread reader would raise it).

        A batch that could not be unpickled here (it comes from this interpreter's own child, so only
        for want of memory) fails the file like any unexpected error: rolled back, the file refused
        with the reason, nothing lost.
        """
        for batch in self.batches:
            yield pickle.loads(batch)
        if self.error is not None:
            raise self.error


class _Worker:
    """One child process and its two pipes, used by one thread at a time; answers come in the order asked."""

    def __init__(self) -> None:
        root = str(Path(anynode.__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        env = dict(os.environ, PYTHONPATH=root if not path else root + os.pathsep + path)
        self.proc = subprocess.Popen([sys.executable, "-m", "anynode.ingest.parse_child"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     start_new_session=True, close_fds=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._out = self.proc.stdin.fileno()
        self._in = self.proc.stdout.fileno()
        widen(self._in)
        self.ready = False
        self.asked: deque[tuple[Any, ...]] = deque()  # requests sent, answers not yet read

    def poll_ready(self) -> bool:
        """True once the child said it is ready (without waiting for it)."""
        if not self.ready and readable(self._in, 0):
            if read_frame(self._in, time.monotonic() + 5.0, None) != _READY:
                raise Broken("the worker did not start")
            self.ready = True
        return self.ready

    def send(self, request: tuple[Any, ...]) -> None:
        write_frame(self._out, pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
        self.asked.append(request)

    def answer(self, request: tuple[Any, ...], timeout: float, cancel: Callable[[], bool] | None) -> Any:
        """The answer to ``request`` (sent before); answers to earlier requests nobody took are dropped."""
        while self.asked:
            asked = self.asked.popleft()
            frame = read_frame(self._in, time.monotonic() + timeout, cancel)
            try:
                reply = pickle.loads(frame)
            except Exception as exc:  # e.g. an error class that cannot be rebuilt: the thread does the file
                raise Broken(f"an answer that cannot be read ({type(exc).__name__}: {exc})") from exc
            if asked == request:
                return reply
        raise Broken("an answer to a request never sent")

    def close(self, wait: float = 1.0) -> None:
        """Close its input (it exits on its own); kill it if it has not within ``wait`` seconds."""
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        try:
            self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class ParsePool:
    """Up to ``workers`` child processes that read and prepare small files; see the module doc.

    Args:
        workers: child processes at most (0: everything in-thread).
        timeout: seconds one file may take in a worker before it is killed and the file done in-thread.
        min_bytes: smaller files are done in-thread (the round trip would cost more than it saves).
    """

    #: Requests one worker holds at most: the one it works on and the next, so it never waits for the node.
    DEPTH = 2

    def __init__(self, workers: int, timeout: float = 60.0, min_bytes: int = MIN_BYTES) -> None:
        self.workers = max(0, workers)
        self.timeout = timeout
        self.min_bytes = min_bytes
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._restarts = 0
        self._closed = False
        self.files = 0  # files prepared by a worker
        self.answered = 0  # requests a worker answered (prepared, refused, too big, failed)

    @property
    def pids(self) -> list[int]:
        """The worker processes now running."""
        with self._lock:
            return [w.proc.pid for w in self._all]

    def ask(self, path: Path, dbms: str, table: str, limits: ReadLimits, ts_as_text: bool) -> bool:
        """Send a file to a free worker now, to be prepared while the caller does other things.

        :meth:`parse` with the same arguments later takes the answer (an answer never
        taken is dropped). False when no worker could take it (nothing was sent).
        """
        worker = self._holding((str(path), dbms, table, limits, ts_as_text), path, limits, send=True)
        if worker is None:
            return False
        self._give_back(worker)
        return True

    def parse(self, path: Path, dbms: str, table: str, limits: ReadLimits, ts_as_text: bool,
              cancel: Callable[[], bool] | None = None) -> Parsed | None:
        """The file prepared by a worker (asked now or by :meth:`ask`), or None: then the caller does it itself.

        Raises:
            IngestError: the file cannot be read (what :func:`~anynode.ingest.reader.small_file` raises).
            IngestCancelled: ``cancel()`` said stop while the worker was busy with the file.
        """
        request = (str(path), dbms, table, limits, ts_as_text)
        worker = self._holding(request, path, limits, send=False)
        if worker is None:
            return None
        try:
            kind, *rest = worker.answer(request, self.timeout, cancel)
        except Broken as exc:
            self._lost(worker, str(exc))
            return None
        except BaseException:  # cancelled (or interrupted) mid-answer: the pipe is out of step, start afresh
            self._lost(worker, None)
            raise
        self._give_back(worker)
        with self._lock:
            self.answered += 1
            self.files += kind == "ok"
        if kind == "ok":
            return Parsed(*rest)
        if kind == "refused":
            raise rest[0]
        return None  # "big" (streamed in-thread) or "failed" (the in-thread path says what is wrong)

    def prefetch(self, path: Path, catalog: DatabaseCatalog, name: FileName,
                 limits: ReadLimits = DEFAULT_LIMITS) -> bool:
        """Have a worker start on a named file now; :meth:`parse_file` of the same file takes its work later.

        The operator sends the next file while it hands the current one on, so the worker
        never waits for it. False when no worker took it.
        """
        request = _request(catalog, name, limits)
        return request is not None and self.ask(path, *request)

    def parse_file(self, path: str | Path, catalog: DatabaseCatalog, name: FileName, limits: ReadLimits,
                   cancel: Callable[[], bool] | None = None) -> Parsed | None:
        """:meth:`parse` for a named file bound for ``catalog``; None also for a target to be refused in-thread."""
        request = _request(catalog, name, limits)
        return None if request is None else self.parse(Path(path), *request, cancel=cancel)

    def warm(self, wait: float = 0.0) -> int:
        """Start the missing workers now rather than at the next files; returns how many are ready after ``wait`` s."""
        deadline = time.monotonic() + wait
        with self._lock:
            while not self._closed and len(self._all) < self.workers and self._restarts <= RESTARTS:
                if not self._spawn():
                    break
        while True:
            with self._lock:
                ready = 0
                for w in list(self._idle):
                    try:
                        ready += w.poll_ready()
                    except (Broken, OSError) as exc:
                        self._drop(w, str(exc))
            if ready >= self.workers or time.monotonic() >= deadline:
                return ready
            time.sleep(0.01)

    def close(self) -> None:
        """End every worker (they exit when their input closes); the pool answers None from now on."""
        with self._lock:
            self._closed = True
            workers, self._all, self._idle = self._all, [], []
        for w in workers:
            w.close()

    def _holding(self, request: tuple[Any, ...], path: Path, limits: ReadLimits, send: bool) -> _Worker | None:
        """A worker taken for ``request`` that holds it (sent now unless sent by :meth:`ask`), or None."""
        worker = self._take(request, send) if self._fits(path, limits) else None
        if worker is None:
            return None
        try:
            if request not in worker.asked:
                worker.send(request)
        except Broken as exc:
            self._lost(worker, str(exc))
            return None
        return worker

    def _fits(self, path: Path, limits: ReadLimits) -> bool:
        """False for a file too small to gain, or too big to be read whole (gzip never shrinks data)."""
        try:
            return self.min_bytes <= os.stat(path).st_size <= limits.whole_file_bytes
        except OSError:
            return True  # the worker says what is wrong with it, as the thread would

    def _take(self, request: tuple[Any, ...], send: bool) -> _Worker | None:
        """A ready idle worker for ``request``: the one holding it, else the least busy with room (``send``: room
        for one more); None when there is none (a missing worker is started for the files to come)."""
        with self._lock:
            if self._closed or self.workers == 0:
                return None
            ready = []
            for w in list(self._idle):
                try:
                    if w.poll_ready():
                        ready.append(w)
                except (Broken, OSError) as exc:
                    self._drop(w, str(exc))
            holding = [w for w in ready if request in w.asked]
            room = [w for w in ready if len(w.asked) < (self.DEPTH if send else self.DEPTH + 1)]
            chosen = holding[0] if holding else min(room, key=lambda w: len(w.asked)) if room else None
            if chosen is not None:
                self._idle.remove(chosen)
                return chosen
            if len(self._all) < self.workers and self._restarts <= RESTARTS:
                self._spawn()  # used once it says it is ready; this file is done in-thread
            return None

    def _spawn(self) -> bool:
        """A new idle worker (the caller holds the lock); False when none can start (then none ever will)."""
        try:
            w = _Worker()
        except (OSError, ValueError, TypeError) as exc:  # no interpreter to start (embedded, sys.executable unset)
            self._restarts = RESTARTS + 1
            log.warning("operator: no parse worker (%s); files are prepared in the operator's thread", exc)
            return False
        self._all.append(w)
        self._idle.append(w)
        return True

    def _drop(self, worker: _Worker, reason: str) -> None:
        """Forget an idle worker that failed to start (the caller holds the lock)."""
        self._idle.remove(worker)
        self._all.remove(worker)
        self._note_loss(worker, reason)
        worker.proc.kill()
        worker.close(0.5)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            closing = self._closed
            if not closing:
                self._idle.append(worker)
        if closing:
            worker.close()

    def _lost(self, worker: _Worker, reason: str | None) -> None:
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
            if reason is not None:
                self._note_loss(worker, reason)
        worker.proc.kill()
        worker.close(0.5)

    def _note_loss(self, worker: _Worker, reason: str) -> None:
        self._restarts += 1
        left = RESTARTS - self._restarts + 1
        log.warning("operator: parse worker %d lost (%s); %s", worker.proc.pid, reason,
                    f"a new one starts ({left} more times)" if left > 0
                    else "files are prepared in the operator's thread from now on")


def _request(catalog: DatabaseCatalog, name: FileName, limits: ReadLimits
             ) -> tuple[str, str, ReadLimits, bool] | None:
    """What a worker needs besides the path: dbms, table, limits and timestamp form; None for a refused target."""
    try:
        db = target_db(catalog, name.dbms, name.table)
    except IngestError:
        return None  # refused in-thread, in the order the in-thread path checks things
    return name.dbms, name.table, limits_for(db, limits), db.backend.timestamps_as_text


def parse_workers(threads: int) -> int:
    """Workers for an operator of ``threads`` threads: one per thread, leaving a core for the node itself."""
    return max(0, min(threads, (os.cpu_count() or 1) - 1))
