"""Running one command so that Ctrl-C cancels it and never kills the node.

The command runs on a thread ``anynode:command`` with a :class:`Cancel`
token; the calling (main) thread waits for it, where Python delivers
SIGINT as KeyboardInterrupt. Ctrl-C then cancels the token (a SQLite
``interrupt``, a PostgreSQL cancel request, the end of a ``wait``, a
transfer or a script between its lines) and waits up to :data:`GRACE`
seconds for the command to give up. The node and its services are left
alone. A command that does not stop in time finishes in the background
(its result is dropped) and the prompt comes back anyway.

:class:`EmitRouter` sends what a command emits on its way (the results of
a script's lines) to whoever runs it: the prompt, or a console client on
the node's control socket.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from anynode.cancel import Cancel
from anynode.errors import AnyNodeError
from anynode.grammar.dispatch import Session, Source
from anynode.protocols import NodeView
from anynode.results import Result

GRACE = 1.5
"""Seconds a cancelled command gets to stop before the prompt comes back without it."""

CTRL_C = "Ctrl-C"


@dataclass
class Outcome:
    """How a command ended: its result, its error, or cancelled (with the reason)."""

    result: Result | None = None
    error: BaseException | None = None
    cancelled: str | None = None
    finished: bool = True  # False: still running in the background after a cancel

    def note(self, line: str) -> str:
        """The one line said when the command was cancelled."""
        tail = "" if self.finished else "; it is still finishing in the background"
        return f"cancelled: {line} ({self.cancelled}){tail}; the node and its services keep running"


class CommandThread:
    """One command (or, with ``work``, a whole script) running on its own thread with a cancel token."""

    def __init__(self, node: NodeView, line: str, source: Source, frame: Session | None = None,
                 fmt: str | None = None, sink: Callable[[Result], None] | None = None,
                 on_done: Callable[[Outcome], None] | None = None,
                 work: Callable[[Cancel], Result] | None = None) -> None:
        self.cancel = Cancel()
        self._work = work  # instead of running ``line``: a whole script (a pipe attached to the node)
        self._on_done = on_done
        self.outcome = Outcome()
        self.done = threading.Event()
        self.started = time.monotonic()
        self._args = (node, line, source, frame, fmt, sink)
        self._thread = threading.Thread(target=self._run, name="anynode:command", daemon=True)

    def start(self) -> CommandThread:
        """Start the command; returns self."""
        self._thread.start()
        return self

    def _run(self) -> None:
        node, line, source, frame, fmt, sink = self._args
        router = node.emit if isinstance(node.emit, EmitRouter) else None
        try:
            with router.to(sink) if router is not None and sink is not None else _nothing():
                if self._work is not None:
                    self.outcome.result = self._work(self.cancel)
                else:
                    self.outcome.result = node.execute(line, source, frame, cancel=self.cancel, fmt=fmt)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which renders it
            self.outcome.error = exc
        else:
            self._settle()
        finally:
            self.done.set()
        if self._on_done is not None:
            self._on_done(self.ended())

    def _settle(self) -> None:
        """A streamed answer (a network query) arrives here, on the command's thread, where Ctrl-C cancels it."""
        settle = getattr(self.outcome.result, "settle", None)
        if settle is None:
            return
        try:
            settle()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which renders it
            self.outcome.result, self.outcome.error = None, exc

    def stop(self, reason: str) -> Outcome:
        """Cancel the command and wait up to GRACE seconds for it; the outcome says whether it stopped."""
        self.cancel.cancel(reason)
        self.outcome.cancelled = reason
        self.outcome.finished = self.done.wait(GRACE)
        return self.outcome

    def ended(self) -> Outcome:
        """The outcome of a command that ended: one that was cancelled reads as cancelled, whatever it raised."""
        if self.cancel.reason is not None and (self.outcome.error is None
                                               or isinstance(self.outcome.error, AnyNodeError)):
            self.outcome.cancelled = self.cancel.reason
        return self.outcome

    def elapsed(self) -> float:
        """Seconds since the command started."""
        return time.monotonic() - self.started


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def run_interruptible(node: NodeView, line: str, source: Source, *, fmt: str | None = None,
                      tick: Callable[[float], None] | None = None) -> Outcome:
    """Run ``line`` on a command thread; Ctrl-C (KeyboardInterrupt here) cancels it and returns.

    ``tick(elapsed)`` is called about every 0.1 s while the command runs
    (a progress line). A second Ctrl-C while waiting for the cancel gives
    up waiting at once.
    """
    job = CommandThread(node, line, source, fmt=fmt).start()
    try:
        while not job.done.wait(0.1):
            if tick is not None:
                tick(job.elapsed())
    except KeyboardInterrupt:
        try:
            return job.stop(CTRL_C)
        except KeyboardInterrupt:
            job.outcome.finished = job.done.is_set()
            return job.outcome
    return job.ended()


class EmitRouter:
    """``node.emit`` that sends results to the sink of the thread emitting them, else to ``fallback``."""

    def __init__(self, fallback: Callable[[Result], None]) -> None:
        self.fallback = fallback
        self._local = threading.local()

    def __call__(self, result: Result) -> None:
        sink = getattr(self._local, "sink", None)
        (sink or self.fallback)(result)

    @contextmanager
    def to(self, sink: Callable[[Result], None]) -> Iterator[None]:
        """Within the block, results emitted on this thread go to ``sink``."""
        previous = getattr(self._local, "sink", None)
        self._local.sink = sink
        try:
            yield
        finally:
            self._local.sink = previous


def route_emit(node: NodeView) -> EmitRouter:
    """Make ``node.emit`` an EmitRouter (keeping the current emit as its fallback); returns it."""
    if not isinstance(node.emit, EmitRouter):
        node.emit = EmitRouter(node.emit)
    return node.emit


def set_emit(node: NodeView, emit: Callable[[Result], None]) -> None:
    """Where results emitted outside any console command go (the router's fallback, when routed)."""
    if isinstance(node.emit, EmitRouter):
        node.emit.fallback = emit
    else:
        node.emit = emit
