"""One writer thread per database.

Every write to a database goes through its :class:`Writer`: a thread named
``anynode:writer:<dbms>`` that owns the only write connection and runs the
submitted functions one at a time, each inside one transaction. Serialising
writes in one place is what lets SQLite run without "database is locked"
retries and makes "rows + their file record in one transaction" simple.
Readers never use this connection; they open their own.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from anynode.errors import AnyNodeError, StoreError

if TYPE_CHECKING:
    from anynode.store.backend import Backend

log = logging.getLogger(__name__)

T = TypeVar("T")
_STOP = object()


class Writer:
    """A thread that owns a database's write connection and runs jobs in transactions.

    Args:
        dbms: the logical database name (used in the thread name and errors).
        backend: opens the connection and knows how to begin/commit/rollback.
    """

    def __init__(self, dbms: str, backend: Backend) -> None:
        self.dbms = dbms
        self._backend = backend
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"anynode:writer:{dbms}", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            self._thread.join()
            err = self._start_error
            if isinstance(err, AnyNodeError):
                raise err
            raise StoreError(f"Database {dbms} failed to open: {err}",
                             hint="check the dbms directory or the server address and credentials") from err

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    def submit(self, fn: Callable[[Any], T]) -> Future[T]:
        """Queue ``fn(conn)`` to run in one transaction; its result or exception comes back in the Future.

        Raises:
            StoreError: the writer is closed.
        """
        fut: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise StoreError(f"Database {self.dbms} is disconnected",
                                 hint=f"connect dbms {self.dbms} where type = ...")
            self._queue.put((fn, fut))
        return fut

    def run(self, fn: Callable[[Any], T], timeout: float | None = None) -> T:
        """Submit ``fn`` and wait for its result (re-raising its exception)."""
        return self.submit(fn).result(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Finish the queued jobs, close the connection and end the thread.

        Returns True when the thread ended within ``timeout`` seconds.
        """
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(_STOP)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            conn = self._backend.open_writer()
        except BaseException as exc:  # reported to the constructor, which raises it
            self._start_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                fn, fut = item
                if not fut.set_running_or_notify_cancel():
                    continue
                self._one(conn, fn, fut)
        finally:
            try:
                self._backend.close_connection(conn)
            except Exception:  # closing a broken connection must not hide the stop
                log.exception("closing the writer connection of %s failed", self.dbms)

    def _one(self, conn: Any, fn: Callable[[Any], Any], fut: Future[Any]) -> None:
        try:
            self._backend.begin(conn)
            result = fn(conn)
            self._backend.commit(conn)
        except BaseException as exc:  # every failure goes back to the caller through the Future
            try:
                self._backend.rollback(conn)
            except Exception:
                log.exception("rollback on %s failed", self.dbms)
            fut.set_exception(exc)
        else:
            fut.set_result(result)
