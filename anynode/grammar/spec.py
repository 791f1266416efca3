"""The declaration of a command.

A command is declared once, with :func:`anynode.grammar.registry.command`.
The parser, ``help``, ``help index``, REPL completion, ``docs/commands.md``
and the registry tests all read this declaration; nothing else writes usage
text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from anynode.grammar.types import TEXT, ValueType
from anynode.secret import is_secret_name


@dataclass(frozen=True)
class Arg:
    """A positional argument after the command words.

    ``rest`` takes every remaining token (a nested command, free text); the
    handler then gets the tokens' text joined back as it was typed.
    """

    name: str
    type: ValueType = TEXT
    required: bool = True
    default: Any = None
    help: str = ""
    rest: bool = False

    def usage(self) -> str:
        """This argument in a usage line."""
        text = f"<{self.name}>" if not self.rest else f"<{self.name}...>"
        return text if self.required else f"[{text}]"


IGNORED = "accepted for AnyLog scripts, ignored"
"""How help and docs/commands.md introduce an option declared ``ignored``."""


@dataclass(frozen=True)
class Opt:
    """A ``where name = value`` option.

    ``ignored`` declares an AnyLog option that anynode accepts and does
    nothing with: its value is still checked against its type, help shows it
    as ignored, and the handler never gets it (the dispatcher drops it).
    """

    name: str
    type: ValueType = TEXT
    default: Any = None
    required: bool = False
    multiple: bool = False
    help: str = ""
    aliases: tuple[str, ...] = ()
    ignored: bool = False

    @property
    def param(self) -> str:
        """The keyword the handler receives (option names may hold spaces)."""
        return self.name.replace(" ", "_")

    @property
    def summary(self) -> str:
        """The help line of this option (an ignored option says so first)."""
        if not self.ignored:
            return self.help
        return f"{IGNORED}: {self.help}" if self.help else IGNORED


@dataclass(frozen=True)
class CommandSpec:
    """Everything known about one command."""

    words: tuple[str, ...]
    handler: Callable[..., Any]
    args: tuple[Arg, ...] = ()
    options: tuple[Opt, ...] = ()
    summary: str = ""
    description: str = ""
    examples: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    remote: bool = False
    http: str = "GET"
    hidden: bool = False
    raw: bool = False
    secret: bool = False
    blocking: bool = True
    aliases: tuple[tuple[str, ...], ...] = field(default=())
    clause: str = "where"  # the word before the options (AnyLog writes "time file rename <f> to dbms = ...")
    syntax: str = ""  # the usage line of a raw command, whose declaration has no arguments to build it from

    @cached_property
    def secret_params(self) -> tuple[str, ...]:
        """The handler parameters whose values are secrets (by name: ``password``, ``token``, ``key`` ...)."""
        params: tuple[Arg | Opt, ...] = (*self.args, *self.options)
        return tuple(p.param if isinstance(p, Opt) else p.name for p in params if is_secret_name(p.name))

    @cached_property
    def params(self) -> tuple[str, ...]:
        """The keyword parameters of the handler, in declaration order: arguments, then options not ignored."""
        return (*(a.name for a in self.args), *(o.param for o in self.options if not o.ignored))

    @cached_property
    def ignored_options(self) -> tuple[Opt, ...]:
        """The options declared ``ignored``: parsed and checked, never given to the handler."""
        return tuple(o for o in self.options if o.ignored)

    def defaults(self) -> dict[str, Any]:
        """What the handler gets for each parameter the line does not give (from the declaration)."""
        values = {a.name: a.default for a in self.args}
        values.update({o.param: ([] if o.multiple else o.default) for o in self.options if not o.ignored})
        return values

    @property
    def name(self) -> str:
        """The command words as typed."""
        return " ".join(self.words)

    def option(self, name: str) -> Opt | None:
        """The option called ``name`` (or one of its aliases), if any.

        A name declared with spaces may be typed with underscores as well
        (``external ip`` or ``external_ip``), as AnyLog spells them.
        """
        low = " ".join(name.lower().split())
        for opt in self.options:
            if low in (opt.name, opt.param) or low.replace("_", " ") == opt.name or low in opt.aliases:
                return opt
        return None

    def usage(self) -> str:
        """One usage line generated from the declaration (a raw command's declared ``syntax``)."""
        if self.syntax:
            return f"{self.name} {self.syntax}"
        parts = [self.name] + [a.usage() for a in self.args]
        if self.options:
            opts = []
            for opt in self.options:
                text = f"{opt.name} = <{opt.type.metavar}>"
                opts.append(text if opt.required else f"[{text}]")
            parts.append(f"{self.clause} " + " and ".join(opts))
        return " ".join(parts)

    def opens_options(self, tok: Any) -> bool:
        """True for the word that starts the options: ``where``, or the command's own (``to``)."""
        return bool(tok.is_word("where") or tok.is_word(self.clause))

