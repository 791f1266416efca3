"""Single instance per node home (placeholder until the lifecycle work lands)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from anynode.errors import NodeLocked


class HomeLock:
    """An exclusive lock on ``<home>/anynode.pid`` holding the owner's PID."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / "anynode.pid"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise NodeLocked naming the PID that holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise NodeLocked(f"node home {self.path.parent} is in use by process {holder}",
                             hint="stop that node or use another --home") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        """Give the lock back."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
