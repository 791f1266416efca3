"""What a command runs within, besides the node: where it came from, its session, script jumps.

:class:`Source` says who sent a command (peers and REST clients may run only
remote-safe ones); a :class:`Session` is the state of one prompt or one
running script; :class:`ControlFlow` is how ``goto``, ``call``, ``return``,
``end script``, ``exit scripts`` and ``on error`` reach the script runner.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Source(enum.Enum):
    """Where a command came from; peers and REST may run only remote-safe commands."""

    CLI = "cli"
    REPL = "repl"
    SCRIPT = "script"
    REMOTE = "remote"
    REST = "rest"
    SCHEDULER = "scheduler"

    def __init__(self, value: str) -> None:
        self.external = value in ("remote", "rest")
        """True for commands that arrived over the network (read on every command)."""


class Flow(str, enum.Enum):
    """What a :class:`ControlFlow` asks the script runner to do."""

    GOTO = "goto"  # arg: the label
    CALL = "call"  # arg: the label
    RETURN = "return"
    END = "end"  # end script
    EXIT_SCRIPTS = "exit_scripts"
    ON_ERROR = "on_error"  # arg: an OnError mode, then the label for goto and call

    __str__ = str.__str__  # the word, on every Python
    __format__ = str.__format__  # type: ignore[assignment]


class OnError(str, enum.Enum):
    """What a later error in a script does, as ``on error`` chose."""

    STOP = "stop"  # the default: the script stops with FILE:LINE: message
    IGNORE = "ignore"
    END = "end"  # end script
    GOTO = "goto"
    CALL = "call"

    __str__ = str.__str__
    __format__ = str.__format__  # type: ignore[assignment]


class ControlFlow(Exception):
    """A jump inside a script (goto, call, return, end script, exit scripts,
    on error); only the script runner handles it.

    Raises:
        ValueError: ``kind`` is not a :class:`Flow` (a misspelt kind fails here, not silently later).
    """

    def __init__(self, kind: Flow, arg: str = "") -> None:
        kind = Flow(kind)
        super().__init__(kind, arg)
        self.kind = kind
        self.arg = arg


@dataclass(slots=True)
class Session:
    """State of one interactive session or one running script.

    ``last_if`` is the outcome of the last ``if`` (for ``do``/``else`` lines);
    ``script`` is the running script, or None at the prompt.
    """

    last_if: bool | None = None
    script: Any = None
