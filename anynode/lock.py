"""One node process per node home.

Two processes on one home would both write its ledger and databases; the
second one must fail at once and say who holds the home. :class:`HomeLock`
takes an exclusive ``flock`` on ``<home>/anynode.pid`` and writes its PID in
it. The OS drops the lock when the process dies, however it dies, so a stale
file left by a crash never blocks the next start (no stale-PID guessing).
flock locks belong to the open file, so a second HomeLock on the same home in
the same process is refused too.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from anynode.errors import NodeLocked

PID_FILE = "anynode.pid"


class HomeLock:
    """An exclusive lock on a node home, held until :meth:`release` or process exit."""

    def __init__(self, home: str | Path) -> None:
        self.home = Path(home)
        self.path = self.home / PID_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> HomeLock:
        """Take the lock or raise NodeLocked naming the holder's PID; returns self."""
        if self._fd is not None:
            return self
        self.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise NodeLocked(f"node home {self.home} is in use by process {holder}",
                             hint="stop that node or use another --home") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Empty the PID file and drop the lock (the file stays: deleting it would race a new holder)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the last descriptor releases the flock

    close = release

    def __enter__(self) -> HomeLock:  # noqa: PYI034 - typing.Self needs Python 3.11; we support 3.10
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def holder(home: str | Path) -> int | None:
    """The PID of the process holding ``home``'s lock, or None when no process holds it.

    A shared, non-blocking probe: it never takes the home from anyone and
    never writes the PID file. A PID file that is missing means no holder.
    """
    path = Path(home) / PID_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
