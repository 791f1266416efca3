"""When is a file in the watch directory complete? Closed after writing, or moved in whole.

On Linux the kernel says exactly that: ``IN_CLOSE_WRITE`` (a writer closed
it) and ``IN_MOVED_TO`` (it was renamed in). :class:`InotifyWatch` asks for
those two events only, through watchdog's inotify layer on a private inotify
instance (its own thread), so a file moved in is offered at once.

Elsewhere, or when that layer is missing, :class:`ObserverWatch` uses
watchdog's portable observer. Its events merge "moved in from another
directory" with "created by a writer" into one *created* event, so a created
file is offered only if no *open* event follows within ``SETTLE`` seconds
(a writer's open comes right after its create; a move has none). That costs
``SETTLE`` of latency per burst of files and is why the inotify path is
preferred (measured: 50 ms of a 0.55 s benchmark burst).

Either way, a lost event (inotify queue overflow, or the watch removed) asks
the operator for a rescan, which finds what was missed.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

SETTLE = 0.05  # seconds after a create event with no open: the file was moved in whole

log = logging.getLogger(__name__)


class Watch(Protocol):
    """What the operator needs from a directory watch."""

    def settled(self) -> tuple[list[str], float]:
        """Paths that are now known complete, and seconds until the next may be."""

    def stop(self) -> None:
        """Stop watching and end the watch's threads."""


def watch_directory(directory: Path, offer: Callable[[str], None], lost: Callable[[], None],
                    wake: Callable[[], None], is_data_file: Callable[[str], bool]) -> Watch:
    """Start watching ``directory``: ``offer(path)`` for each complete file, ``lost()`` when events were
    lost, ``wake()`` when :meth:`Watch.settled` should be asked again."""
    try:
        return InotifyWatch(directory, offer, lost)
    except (ImportError, AttributeError, TypeError, OSError) as exc:  # not Linux, or another watchdog
        log.info("operator: kernel file events unavailable (%s); using watchdog's observer", exc)
        return ObserverWatch(directory, offer, wake, is_data_file)


class InotifyWatch:
    """IN_CLOSE_WRITE and IN_MOVED_TO from the kernel, on a private inotify instance."""

    def __init__(self, directory: Path, offer: Callable[[str], None], lost: Callable[[], None]) -> None:
        from watchdog.observers.inotify_c import CallbackId, InotifyConstants, InotifyFD, Mask

        self._directory = str(directory)
        self._offer, self._lost = offer, lost
        self._closing = False  # set by stop(): the removal of our own watch is not a loss of events
        self._fd = InotifyFD()  # constructed directly: not watchdog's shared instance
        mask = Mask(InotifyConstants.IN_CLOSE_WRITE | InotifyConstants.IN_MOVED_TO | InotifyConstants.IN_ONLYDIR)
        try:
            self._fd.add_callback(os.fsencode(directory), mask, self, CallbackId(id(self)))
        except BaseException:
            self._fd.close()
            raise
        self._fd.name = "anynode:operator-watch"
        self._fd.daemon = True
        self._fd.start()

    # watchdog's WatchCallback protocol, called on the watch thread
    def on_event(self, event: Any) -> None:
        if event.name:
            self._offer(os.path.join(self._directory, os.fsdecode(event.name)))

    def on_watch_deleted(self, wd: Any) -> None:
        if not self._closing:  # the directory went away (deleted, unmounted), not our own stop
            self._lost()

    def on_queue_overflow(self) -> None:
        self._lost()

    def settled(self) -> tuple[list[str], float]:
        return [], 3600.0

    def stop(self) -> None:
        self._closing = True
        self._fd.stop()
        self._fd.join(5)


class ObserverWatch:
    """watchdog's portable observer, with the create-then-no-open rule for moved-in files."""

    def __init__(self, directory: Path, offer: Callable[[str], None], wake: Callable[[], None],
                 is_data_file: Callable[[str], bool]) -> None:
        from watchdog.events import (
            FileClosedEvent,
            FileClosedNoWriteEvent,
            FileCreatedEvent,
            FileModifiedEvent,
            FileMovedEvent,
            FileOpenedEvent,
            FileSystemEventHandler,
        )
        from watchdog.observers import Observer

        self._created: dict[str, float] = {}  # path -> time of a create event not followed by an open
        self._lock = threading.Lock()
        watch = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                if isinstance(event, FileClosedNoWriteEvent):
                    return  # a reader (perhaps this operator) closed it: nothing was written
                if isinstance(event, FileClosedEvent):
                    offer(str(event.src_path))
                elif isinstance(event, FileMovedEvent):
                    offer(str(event.dest_path))
                elif isinstance(event, FileCreatedEvent):
                    if is_data_file(os.path.basename(str(event.src_path))):
                        with watch._lock:
                            watch._created[str(event.src_path)] = time.monotonic()
                        wake()
                elif isinstance(event, (FileOpenedEvent, FileModifiedEvent)):
                    with watch._lock:  # being written: its close event is what counts
                        watch._created.pop(str(event.src_path), None)

        logging.getLogger("watchdog").addHandler(logging.NullHandler())  # its stop-time chatter is not for users
        self._observer = Observer()
        self._observer.name = "anynode:operator-watch"
        self._observer.schedule(Handler(), str(directory), recursive=False)
        self._observer.start()

    def settled(self) -> tuple[list[str], float]:
        now = time.monotonic()
        ready, wait_for = [], 3600.0
        with self._lock:
            for path, since in list(self._created.items()):
                if now - since >= SETTLE:
                    del self._created[path]
                    ready.append(path)
                else:
                    wait_for = min(wait_for, SETTLE - (now - since))
        return ready, wait_for

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(5)


def settled_entries(directory: Path, last_sizes: dict[str, int], quiet: float, first: bool,
                    is_data_file: Callable[[str], bool]) -> tuple[list[str], list[tuple[Path, os.stat_result]],
                                                                  dict[str, int]]:
    """One look at ``directory`` for what events missed: data files that held still, and odd entries.

    A regular file is ready when it has the size it had at the last look
    (``last_sizes``; any size when ``first``) and was left alone ``quiet``
    seconds. Entries named like data files that are not regular files (link,
    pipe, directory ...) come back apart, judged by ``lstat``: never followed.
    Returns (ready names, odd entries with their stat, the sizes seen now).
    """
    sizes: dict[str, int] = {}
    ready: list[str] = []
    odd: list[tuple[Path, os.stat_result]] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return ready, odd, sizes
    for entry in entries:
        if not is_data_file(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            odd.append((Path(entry.path), st))
            continue
        sizes[entry.name] = st.st_size
        if (first or last_sizes.get(entry.name) == st.st_size) and time.time() - st.st_mtime >= quiet:
            ready.append(entry.name)
    return ready, odd, sizes
