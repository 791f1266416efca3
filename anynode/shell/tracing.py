"""How much the node writes down: ``trace level``, ``get trace level``, ``set exception traceback``.

AnyLog's trace levels print each command as it runs; anynode's equivalent
is its log. ``trace level = N`` with N >= 1 lowers the node logger (or one
part's logger) to DEBUG, so root.log gets every command, also those from
peers, REST clients and the scheduler, which are otherwise logged at DEBUG
only; ``trace level = 0`` puts back the ``log_level`` setting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from anynode.errors import CommandSyntaxError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.tokens import Token
from anynode.grammar.types import FORMAT, Choice
from anynode.protocols import NodeView
from anynode.results import Json, Message, Result, Table

DEBUG_WORDS = ("debug", "log")
ALL = "all"


@dataclass
class TraceLevels:
    """The levels asked for with ``trace level``: for the whole node ("all") and per part."""

    levels: dict[str, int] = field(default_factory=dict)


def _levels(node: NodeView) -> TraceLevels:
    return node.part("trace levels", TraceLevels)


def _logger(node: NodeView, target: str) -> logging.Logger:
    """The logger a target names: the node's own for "all", else its child (``tcp``, ``sync``, ``scheduler`` ...)."""
    return node.log if target == ALL else node.log.getChild(target.replace(" ", "_"))


@command("trace level", raw=True, syntax="= <level> [<part>]", keywords=DEBUG_WORDS,
         examples=["trace level = 1", "trace level = 0", "trace level = 1 tcp", "trace level = 2 scheduler"])
def trace_level(ctx: Context, tokens: list[Token]) -> Result:
    """Log more (level 1 and up: every command and the DEBUG lines) or as set again (0), for the node or one part.

    Without a part the whole node logs at DEBUG into logs/root.log; with a
    part (a logger such as tcp, sync, scheduler, ledger, retention) only
    that part does. `get trace level` shows what is set.
    """
    if len(tokens) < 2 or not tokens[0].is_op("="):
        raise CommandSyntaxError("'trace level' needs '= <level>'", hint="write: trace level = 1  (0 turns it off)")
    text = tokens[1].text.strip()
    if not text.isdigit():
        raise CommandSyntaxError(f"trace level '{text}' is not a whole number", offset=tokens[1].start,
                                 hint="write: trace level = 1  (0 turns it off)")
    level = int(text)
    target = " ".join(t.text for t in tokens[2:]).strip().lower() or ALL
    levels = _levels(ctx.node).levels
    logger = _logger(ctx.node, target)
    if target == ALL:
        if level:
            logger.setLevel(logging.DEBUG)
        else:
            ctx.node.logs.set_level(ctx.node.settings["log_level"])
            for part in [p for p in levels if p != ALL]:
                _logger(ctx.node, part).setLevel(logging.NOTSET)
            levels.clear()
    else:
        logger.setLevel(logging.DEBUG if level else logging.NOTSET)
    if level:
        levels[target] = level
    else:
        levels.pop(target, None)
    where = "the node" if target == ALL else f"'{target}'"
    return Message(f"trace level {level} for {where}: " + ("DEBUG lines go into logs/root.log" if level else
                                                           "logging as the log_level setting says"))


@command("get trace level", options=[Opt("format", FORMAT, default="table")], remote=True, blocking=False,
         keywords=DEBUG_WORDS, examples=["get trace level", "get trace level where format = json"])
def get_trace_level(ctx: Context, format: str) -> Result:
    """Show the trace levels set with `trace level` (none: the node logs at its log_level setting)."""
    levels = dict(sorted(_levels(ctx.node).levels.items()))
    if format == "json":
        return Json(levels)
    if not levels:
        return Message(f"no trace level is set (logging at {ctx.node.settings['log_level']})")
    return Table.of(["Part", "Level"], list(levels.items()))


@command("set exception traceback", args=[Arg("mode", Choice("on", "off"))], http="POST", keywords=DEBUG_WORDS,
         examples=["set exception traceback on", "set exception traceback off"])
def set_exception_traceback(ctx: Context, mode: str) -> Result:
    """Write the traceback of every failed command into logs/root.log (on), or only its one-line error (off).

    Tracebacks go only into the node's own log, never to the peer or REST
    client that sent the command; `set debug on` shows them at the prompt.
    """
    ctx.node.log_tracebacks = mode == "on"
    return Message(f"exception traceback {mode}: failed commands are logged "
                   + ("with their traceback" if mode == "on" else "as one line"))
