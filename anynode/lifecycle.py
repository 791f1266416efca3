"""Signals and the node's one shutdown: graceful stop on SIGTERM/SIGINT and ``exit node``, forced exit
on a second signal, SIGHUP reload.

Python runs signal handlers on the main thread, and only when that thread
next runs Python code: a main thread blocked in ``Event.wait`` does not wake
for a signal the kernel delivered to a service thread. So nothing is done in
the handler. The C-level wakeup fd (``signal.set_wakeup_fd``, written by
whichever thread received the signal) and the Python handler both write one
byte to a pipe; a reactor thread ``anynode:signals`` reads it, counts each
delivery once, and does the work (the signal reactor of CTA maintd, without
``pthread_sigmask``, whose blocked mask would be inherited by every child
process the node starts):

* SIGTERM / SIGINT (first), or ``request_exit()``: stop every service in
  reverse start order within ``timeout`` seconds on a thread
  ``anynode:shutdown`` (``ServiceManager.shutdown``, which logs the services
  still busy at the deadline), then call ``on_exit(code)`` — 0 when everything
  stopped, 1 when a service was still busy. The reactor stays free meanwhile, so:
* SIGTERM / SIGINT (second, while stopping): log it and exit at once with
  ``os._exit(128 + signum)`` (130 for SIGINT, 143 for SIGTERM, what a shell
  reports for death by that signal): the user asked twice, and what the node
  writes survives it (rows commit in one transaction with their file's
  record, files land by rename), so skipping the rest is survivable.
* SIGHUP: ``on_hup()`` — normally :func:`reload_on_hup`: reopen the log files
  and reload settings only if the new ones validate. An AnyNodeError from it
  (ConfigError) is logged as "kept the old settings"; nothing is half-applied.

Every way a node process ends takes this one path (wired in ``cli.py``):
SIGTERM and SIGINT, ``exit node`` (the node's exit listener calls
``request_exit("exit node")``), and the end of the script, the prompt or the
``-e`` commands (the CLI calls ``request_exit`` itself)::

    lc = lifecycle.install(manager, on_exit=lambda code: node.request_exit(), on_hup=hup, logger=log)
    node.on_exit(lambda: lc.request_exit("exit node"))
    ...run the script, the prompt or the commands...
    lc.request_exit("the script ended")   # a no-op when a signal or exit node began the shutdown
    code = lc.wait()                      # 1 when a service was still busy at the deadline
    lc.close(); node.close(); sys.exit(code)

In the REPL, ``on_exit`` tells the prompt to quit.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

from anynode.errors import AnyNodeError
from anynode.services.manager import ServiceManager
from anynode.settings import SETTINGS, Settings

_FROM_HANDLER = 0x80  # marks a byte written by the Python handler (signal numbers are < 64)
_CLOSE = 0  # tells the reactor to end


class _Logs(Protocol):
    def reopen(self) -> None: ...
    def set_level(self, level: str | int) -> None: ...


class Lifecycle:
    """Signal handling installed for one node process; see the module docstring."""

    def __init__(
        self,
        manager: ServiceManager,
        on_exit: Callable[[int], None],
        on_hup: Callable[[], None],
        logger: logging.Logger,
        *,
        timeout: float = 10.0,
        interrupt: bool = True,
        force_exit: Callable[[int], Any] = os._exit,
    ) -> None:
        self._manager = manager
        self._on_exit = on_exit
        self._on_hup = on_hup
        self._log = logger
        self._timeout = timeout
        self._force_exit = force_exit
        self._signals = [signal.SIGTERM, signal.SIGHUP] + ([signal.SIGINT] if interrupt else [])
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._shutdown_thread: threading.Thread | None = None
        self._exit_code: int | None = None
        self.stopped: list[str] = []
        """The services the shutdown stopped, latest started first."""
        self._previous: dict[int, Any] = {}
        self._previous_wakeup = -1
        self._reactor = threading.Thread(target=self._react, name="anynode:signals", daemon=True)

    # ---------------------------------------------------------------- public
    def request_exit(self, reason: str = "exit requested") -> None:
        """Start the graceful shutdown as SIGTERM would (``exit node``); a no-op if it already started."""
        self._begin_shutdown(reason)

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the shutdown finished; returns the exit code (None on timeout)."""
        self._done.wait(timeout)
        return self._exit_code

    @property
    def exit_code(self) -> int | None:
        """The exit code once the shutdown finished, else None."""
        return self._exit_code

    def close(self) -> None:
        """Restore the previous handlers and end the reactor (and a finished shutdown) thread."""
        if threading.current_thread() is threading.main_thread() and self._previous:
            for signum, previous in self._previous.items():
                signal.signal(signum, previous)
            self._previous.clear()
            current = signal.set_wakeup_fd(self._previous_wakeup)
            if current != self._write_fd:  # someone (an asyncio loop) replaced ours meanwhile: leave theirs
                signal.set_wakeup_fd(current)
        if self._reactor.is_alive():
            self._wake(_CLOSE)
            self._reactor.join(5)
        if self._shutdown_thread is not None:
            self._shutdown_thread.join(self._timeout + 5)
        for fd in (self._read_fd, self._write_fd):
            try:
                os.close(fd)
            except OSError:
                pass  # already closed by an earlier close()
        self._read_fd = self._write_fd = -1

    # ------------------------------------------------------------- internals
    def _install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("lifecycle.install() must be called from the main thread (Python delivers "
                               "signals there)")
        self._reactor.start()
        for signum in self._signals:
            self._previous[signum] = signal.signal(signum, self._handle)
        self._previous_wakeup = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)

    def _wake(self, byte: int) -> None:
        try:
            os.write(self._write_fd, bytes([byte]))
        except (BlockingIOError, OSError):
            pass  # a full pipe already holds wake-ups for the reactor

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        """The Python-level handler: one byte to the reactor's pipe, nothing else (no locks)."""
        self._wake(signum | _FROM_HANDLER)

    def _react(self) -> None:
        """Read signal bytes and dispatch each delivered signal once.

        A signal arrives by two paths: the C-level wakeup byte (written by
        whichever thread received it, so it is prompt even while the main
        thread is blocked in a lock) and the Python handler (runs on the main
        thread when it next runs Python code; the only path left if an asyncio
        loop took the wakeup fd). The n-th delivery of a signal is dispatched
        when the first path reports it.
        """
        seen: dict[tuple[int, bool], int] = {}
        done: dict[int, int] = {}
        while True:
            try:
                data = os.read(self._read_fd, 64)
            except OSError:
                return
            for byte in data:
                if byte == _CLOSE:
                    return
                signum, handler = byte & ~_FROM_HANDLER, bool(byte & _FROM_HANDLER)
                seen[(signum, handler)] = seen.get((signum, handler), 0) + 1
                while max(seen.get((signum, True), 0), seen.get((signum, False), 0)) > done.get(signum, 0):
                    done[signum] = done.get(signum, 0) + 1
                    self._dispatch(signum)

    def _dispatch(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if signum == signal.SIGHUP:
            self._log.info("%s: reopening logs and reloading settings", name)
            try:
                self._on_hup()
            except AnyNodeError as exc:
                self._log.error("%s: settings not reloaded, keeping the old ones: %s", name, exc.one_line())
            except Exception:  # noqa: BLE001 - a broken reload must not take the signal thread down
                self._log.error("%s: reload failed, keeping the old settings", name, exc_info=True)
            return
        with self._lock:
            stopping = self._shutdown_thread is not None
        if not stopping:
            self._begin_shutdown(f"{name} received")
            return
        code = 128 + signum
        self._log.warning("%s received again while stopping: exiting now with code %d", name, code)
        for handler in self._log.handlers:
            handler.flush()
        self._force_exit(code)

    def _begin_shutdown(self, reason: str) -> None:
        with self._lock:
            if self._shutdown_thread is not None:
                return
            self._log.info("%s: stopping services (deadline %gs)", reason, self._timeout)
            self._shutdown_thread = threading.Thread(target=self._shutdown, name="anynode:shutdown", daemon=True)
            self._shutdown_thread.start()

    def _shutdown(self) -> None:
        code = 0
        try:
            self.stopped, busy = self._manager.shutdown(self._timeout)
            code = 1 if busy else 0
            self._on_exit(code)
        except Exception:  # noqa: BLE001 - the process must still be able to exit
            code = 1
            self._log.error("shutdown failed", exc_info=True)
        finally:
            self._exit_code = code
            self._done.set()


def install(
    manager: ServiceManager,
    on_exit: Callable[[int], None],
    on_hup: Callable[[], None],
    logger: logging.Logger,
    *,
    timeout: float = 10.0,
    interrupt: bool = True,
    force_exit: Callable[[int], Any] = os._exit,
) -> Lifecycle:
    """Install the node's signal handling from the main thread; returns the Lifecycle to wait on and close.

    ``interrupt=False`` leaves SIGINT alone (a REPL that handles Ctrl-C itself).
    """
    lifecycle = Lifecycle(manager, on_exit, on_hup, logger, timeout=timeout, interrupt=interrupt,
                          force_exit=force_exit)
    lifecycle._install()
    return lifecycle


def reload_on_hup(
    logs: _Logs,
    current: Callable[[], Settings],
    apply: Callable[[Settings], None],
    logger: logging.Logger,
) -> Callable[[], None]:
    """The usual ``on_hup``: reopen logs, then reload settings if they validate.

    ``current()`` gives the node's settings and ``apply(new)`` installs new
    ones. A ConfigError propagates before ``apply`` (the lifecycle logs it and
    the old settings stay). ``log_level`` takes effect at once; other changed
    settings that are not reloadable are applied to the object but logged as
    needing a restart.
    """
    reloadable = {s.name for s in SETTINGS if s.reloadable}

    def on_hup() -> None:
        logs.reopen()
        old = current()
        new = old.reload()
        changed = new.changed(old)
        apply(new)
        if "log_level" in changed:
            logs.set_level(new["log_level"])
        later = [n for n in changed if n not in reloadable]
        logger.info("settings reloaded; changed: %s%s", ", ".join(changed) or "nothing",
                    f"; a restart is needed for: {', '.join(later)}" if later else "")

    return on_hup
