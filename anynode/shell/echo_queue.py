"""The echo queue: ``set echo queue on|off``, ``get echo queue``, ``reset echo queue``.

As in AnyLog, while the queue is on the text of ``echo`` goes into a
bounded queue of the node (the newest ``size`` lines, 20 unless reset)
instead of the output; ``get echo queue`` shows the lines and empties it.
``print`` always prints.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.types import FORMAT, Choice, Int
from anynode.protocols import NodeView
from anynode.results import Json, Message, Result, Table

KEYS = ("cli", "script")
DEFAULT_SIZE = 20
MAX_SIZE = 100


@dataclass(frozen=True)
class Echoed:
    """One queued line: its number since the queue was made, when, and the text."""

    counter: int
    time: float
    text: str


class EchoQueue:
    """The node's echo queue: off, or on with the newest ``size`` lines."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.size = DEFAULT_SIZE
        self._lines: deque[Echoed] | None = None
        self._counter = 0

    @property
    def on(self) -> bool:
        """True while echo lines go into the queue."""
        return self._lines is not None

    def switch(self, on: bool, size: int | None = None) -> None:
        """Turn the queue on (empty, with ``size`` lines at most) or off (its lines are dropped)."""
        with self._lock:
            if size is not None:
                self.size = size
            self._lines = deque(maxlen=self.size) if on else None
            self._counter = 0

    def add(self, text: str) -> bool:
        """Queue a line; False when the queue is off (the caller shows the line instead)."""
        with self._lock:
            if self._lines is None:
                return False
            self._counter += 1
            self._lines.append(Echoed(self._counter, time.time(), text))
            return True

    def take(self) -> list[Echoed] | None:
        """The queued lines, oldest first, and an empty queue; None when the queue is off."""
        with self._lock:
            if self._lines is None:
                return None
            lines = list(self._lines)
            self._lines.clear()
            return lines


def echo_queue(node: NodeView) -> EchoQueue:
    """The node's echo queue (off until `set echo queue on`)."""
    return node.part("echo queue", EchoQueue)


@command("set echo queue", args=[Arg("mode", Choice("on", "off"))], http="POST", keywords=KEYS,
         examples=["set echo queue on", "set echo queue off"])
def set_echo_queue(ctx: Context, mode: str) -> Result:
    """Send the text of `echo` into the node's echo queue (on), read with `get echo queue`, or show it again (off).

    The queue keeps the newest 20 lines (`reset echo queue where size = n`
    changes it); turning it off drops what it holds.
    """
    queue = echo_queue(ctx.node)
    queue.switch(mode == "on")
    return Message(f"echo queue {mode}" + (f" (keeps the newest {queue.size} lines)" if mode == "on" else ""))


@command("get echo queue", options=[Opt("format", FORMAT, default="table")], keywords=KEYS,
         examples=["get echo queue", "get echo queue where format = json"])
def get_echo_queue(ctx: Context, format: str) -> Result:
    """Show the lines `echo` queued since the last read, and empty the queue."""
    lines = echo_queue(ctx.node).take()
    if lines is None:
        return Message("Message Queue not declared (set echo queue on)")
    rows = [(e.counter, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.time)), e.text) for e in lines]
    if format == "json":
        return Json([{"Counter": c, "Time": t, "Message": m} for c, t, m in rows])
    return Table.of(["Counter", "Time", "Message"], rows)


@command("reset echo queue",
         options=[Opt("size", Int(min=1, max=MAX_SIZE), help=f"lines kept, 1 to {MAX_SIZE} (default: as before)")],
         http="POST", keywords=KEYS, examples=["reset echo queue", "reset echo queue where size = 50"])
def reset_echo_queue(ctx: Context, size: int | None) -> Result:
    """Empty the echo queue and turn it on, optionally with another size."""
    queue = echo_queue(ctx.node)
    queue.switch(True, size)
    return Message(f"echo queue reset (keeps the newest {queue.size} lines)")
