"""Runs command lines: the language forms, then the declared commands.

A line may hold several commands separated by ``&``. Each is tokenized, its
variables expanded, and then it is one of:

* ``name = value`` / ``set name = value``: an assignment. When the value
  starts with a command, the command runs and its text is stored; ``a + b``
  concatenates; otherwise the words are stored as text. An empty value
  (``""``, or ``!x`` when x is not set) deletes the variable, so a later
  ``where k = !name`` says the variable is not defined. ``$NAME = v`` sets the environment (EdgeLake drops
  the first letter of the name; we do not). ``d[key] = v`` sets a key of a
  JSON object held in ``d``.
* ``!name`` or ``$NAME`` alone: the value.
* ``a + b + c``: the concatenation.
* a declared command, run by its handler.

Handlers receive a :class:`Context` and return a Result. Nothing here prints
and nothing here catches AnyNodeError: the edges render them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from anynode.cancel import Cancel
from anynode.errors import CommandNotFound, CommandSyntaxError, NotPermitted
from anynode.grammar.parser import Invocation, parse
from anynode.grammar.registry import Registry
from anynode.grammar.session import ControlFlow, Flow, OnError, Session, Source
from anynode.grammar.tokens import GROUP, OP, QUOTED, STRING, WORD, Token, split_tokens, tokenize
from anynode.grammar.variables import expand_tokens
from anynode.protocols import NodeView
from anynode.results import Batch, Empty, Message, Result
from anynode.secret import MASK, is_secret_name

# Defined in grammar/session.py; commands and the runners import them from here too.
__all__ = ["Context", "ControlFlow", "Flow", "OnError", "Session", "Source", "execute", "execute_tokens"]


@dataclass(slots=True)
class Context:
    """What a handler is called with: the node, where the command came from,
    the session or script it runs in, the peer that sent it, and the token
    that says when whoever waits for the answer has given up."""

    node: NodeView
    source: Source = Source.CLI
    frame: Session = field(default_factory=Session)
    peer: str | None = None
    fmt: str = "table"
    raw_rest: list[Token] = field(default_factory=list)  # a raw command's words as typed, before expansion
    cancel: Cancel | None = None
    tainted: bool = False  # the command being run read a secret variable (what it assigns is secret too)
    ignored: Mapping[str, Any] = field(default_factory=dict)  # options declared ignored that the line gave

    def run(self, line: str) -> Result:
        """Run a nested command line in this context."""
        return execute(self, line)

    def run_tokens(self, tokens: list[Token], raw: list[Token] | None = None) -> Result:
        """Run already-expanded tokens as one command in this context (``raw``: the same tokens as typed)."""
        return execute_tokens(self, tokens, raw if raw is not None and len(raw) == len(tokens) else None)

    def expand(self, tokens: list[Token]) -> list[Token]:
        """Expand variables in ``tokens``.

        For a peer or a REST client a secret variable reads as MASK and an
        environment variable is refused: neither ever leaves the node.
        """
        if self.source.external:
            return expand_tokens(tokens, self._masked_lookup, _NO_ENVIRONMENT)
        return expand_tokens(tokens, self._lookup, os.environ)

    def _lookup(self, name: str) -> str | None:
        value = self.node.get_var(name)
        if value is not None and not self.tainted and self.node.secrets.is_secret_var(name):
            self.tainted = True
        return value

    def _masked_lookup(self, name: str) -> str | None:
        value = self.node.get_var(name)
        return MASK if value is not None and self.node.secrets.is_secret_var(name) else value


class _NoEnvironment(Mapping[str, str]):
    """The environment a peer or a REST client sees: none; reading ``$NAME`` is refused."""

    def get(self, name: str, default: Any = None) -> Any:
        raise NotPermitted(f"environment variables are not read for peers and REST clients ('${name}')",
                           hint="use a node variable (!name) that the node's owner set")

    def __getitem__(self, name: str) -> str:
        return self.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


_NO_ENVIRONMENT = _NoEnvironment()


def execute(ctx: Context, line: str) -> Result:
    """Run every command of one line; the result of each, in a Batch when several.

    The line is tokenized once; token offsets stay those of the whole line,
    so an error points at the right column of any of its commands.
    """
    results: list[Result] = []
    for typed, bound in _steps(ctx.node.registry, line):
        ctx.tainted = False
        if bound is not None:
            results.append(_invoke(ctx, bound))
            continue
        raw = list(typed)
        if len(raw) == 1 and raw[0].kind == WORD and raw[0].text[:1] in "!$" and len(raw[0].text) > 1:
            results.append(Message(ctx.expand(raw)[0].text))
            continue
        results.append(execute_tokens(ctx, ctx.expand(raw), raw))
    if not results:
        return Empty()
    return results[0] if len(results) == 1 else Batch(tuple(results))


# Lines longer than this (policies, JSON values) are tokenized afresh each time.
_KEEP_LINE = 256
_KEEP_LINES = 1024
_PLAIN = (str, int, float, bool, type(None))
Step = tuple[tuple[Token, ...], Invocation | None]


def _steps(registry: Registry, line: str) -> tuple[Step, ...]:
    """The commands of ``line``: tokens as typed, and the parse when it cannot change.

    A command is parsed here, once per table, when nothing in it is read at
    run time: no variable, no ``~`` (a path converter reads $HOME), not an
    assignment, and its values are plain (a handler cannot change them for
    the next caller). Repeated lines (REST polling, scheduled tasks) then
    skip the tokenizer and the parser; everything else runs as before.
    """
    cache = registry.parsed
    steps: tuple[Step, ...] | None = cache.get(line)
    if steps is None:
        commands = split_tokens(tokenize(line))
        if len(line) > _KEEP_LINE:
            return tuple((tuple(raw), None) for raw in commands)
        steps = tuple((tuple(raw), _bound(registry, raw)) for raw in commands)
        if len(cache) >= _KEEP_LINES:
            cache.clear()
        cache[line] = steps
    return steps


def _bound(registry: Registry, raw: list[Token]) -> Invocation | None:
    for tok in raw:
        if "~" in tok.text or (tok.kind in (WORD, GROUP) and ("!" in tok.text or "$" in tok.text)):
            return None
    if ((len(raw) >= 2 and raw[1].kind == OP) or raw[0].kind == OP
            or (len(raw) >= 4 and raw[0].is_word("set") and raw[2].is_op("="))):
        return None  # an assignment, a concatenation, or an error that execute_tokens words
    try:
        inv = parse(list(raw), registry)
    except Exception:  # not kept: the same parse fails again, in its turn, when the line runs
        return None
    if inv.spec.raw or not all(isinstance(v, _PLAIN) for v in inv.kwargs.values()):
        return None
    return inv


def _concat(tokens: list[Token]) -> str:
    parts: list[list[str]] = [[]]
    for tok in tokens:
        if tok.is_op("+"):
            parts.append([])
        else:
            parts[-1].append(tok.text)
    return "".join(" ".join(p) for p in parts)


def _value_of(ctx: Context, tokens: list[Token], shape: str, raw: list[Token]) -> Any:
    """What an assignment stores: text, or for ``name[]``/``name{}`` a JSON
    list/object of the peers' replies; None deletes."""
    if not tokens or (len(tokens) == 1 and (tokens[0].kind, tokens[0].text) in ((STRING, ""), (QUOTED, "''"))):
        return None  # k = "" and k = '' delete k (spec 2.4)
    words: list[str] = []
    for tok in tokens:
        if tok.kind != WORD:
            break
        words.append(tok.text)
    if words and ctx.node.registry.match(words):
        result = execute_tokens(ctx, tokens, raw)
        if shape and hasattr(result, "pairs"):
            pairs = result.pairs()
            return json.dumps(pairs if shape == "[]" else dict(pairs))
        return result.to_text()
    check_assigned_command(ctx.node.registry, raw)
    if any(t.is_op("+") for t in tokens):
        return _concat(tokens)
    return " ".join(t.text for t in tokens)


# First words of AnyLog's command families: a value that starts with one and goes on is meant to be a command.
COMMAND_FAMILIES = frozenset({"get", "blockchain", "sql", "python", "from", "info", "rest", "create", "system", "run",
                              "connect", "disconnect", "job", "query", "schedule", "task"})


def check_assigned_command(registry: Registry, raw: list[Token]) -> None:
    """Refuse ``name = <words>`` when the words start like a command (``blockchain get ...``,
    ``python ...``) but are none: stored as text, they would read as true in a later ``if``.

    A single word, a quoted value or one read from a variable stays text
    (``company_name = New Company``, ``mode = "run fast"``).

    Raises:
        CommandNotFound: the words name no command; it points at the first wrong word.
    """
    words: list[str] = []
    for tok in raw:
        if tok.kind != WORD:
            break
        words.append(tok.text)
    if len(words) < 2 or words[0].lower() not in COMMAND_FAMILIES or registry.match(words):
        return
    try:
        parse(list(raw), registry)
    except CommandNotFound as exc:
        exc.message = f"{exc.message}: the value starts like a command, so it is not stored as text"
        exc.hint = f"{exc.hint} (to store it as text, put it in double quotes)"
        exc.args = (exc.message,)
        raise


def _assign(ctx: Context, target: Token, value_tokens: list[Token], raw_value: list[Token]) -> Result:
    if ctx.source.external:
        raise NotPermitted(f"a peer may not set variables ('{target.text} = ...')",
                           hint="run the assignment on the node itself")
    name = target.text
    shape = name[-2:] if name.endswith(("[]", "{}")) else ""
    name = name[:-2] if shape else name
    value = _value_of(ctx, value_tokens, shape, raw_value) or None  # an empty value deletes, as "" does
    secrets = ctx.node.secrets
    if name.startswith("$"):
        if value is None:
            os.environ.pop(name[1:], None)
        else:
            if ctx.tainted or secrets.contains(value):
                secrets.add(value)
            secrets.add_environment({name[1:]: value})
            os.environ[name[1:]] = value
        return Empty()
    if "[" in name and name.endswith("]"):
        base, _, key = name[:-1].partition("[")
        current = ctx.node.get_var(base) or "{}"
        try:
            obj = json.loads(current)
        except ValueError:
            raise CommandSyntaxError(f"'{base}' does not hold a JSON object", offset=target.start,
                                     hint=f"start it with: {base} = {{}}") from None
        if not isinstance(obj, dict):
            raise CommandSyntaxError(f"'{base}' does not hold a JSON object", offset=target.start)
        if value is None:
            obj.pop(key, None)
        else:
            obj[key] = value
        if value is not None and (ctx.tainted or is_secret_name(key) or secrets.contains(value)):
            secrets.mark(base)  # it holds a secret now: the whole object is masked while it does
        ctx.node.set_var(base, json.dumps(obj))
        return Empty()
    if value is None:
        ctx.node.del_var(name)
    else:
        secrets.assigned(name, value, ctx.tainted)
        ctx.node.set_var(name, value)
    return Empty()


def execute_tokens(ctx: Context, tokens: list[Token], raw: list[Token] | None = None) -> Result:
    """Run one command given as expanded tokens (``raw``: as typed, if known)."""
    if not tokens:
        return Empty()
    raw = raw or tokens
    if len(tokens) >= 2 and tokens[1].is_op("=") and raw[0].kind == WORD:
        return _assign(ctx, raw[0], tokens[2:], raw[2:])
    if len(tokens) >= 4 and tokens[0].is_word("set") and tokens[2].is_op("=") and raw[1].kind == WORD:
        return _assign(ctx, raw[1], tokens[3:], raw[3:])
    if len(tokens) >= 3 and tokens[1].is_op("+"):
        return Message(_concat(tokens))
    if tokens[0].kind == OP:
        raise CommandSyntaxError(f"a command cannot start with '{tokens[0].text}'", offset=tokens[0].start,
                                 hint="write a command, or name = value")
    if ctx.source in _PEOPLE and _family_only(ctx.node.registry, tokens):
        return execute_tokens(ctx, [Token("help", WORD, -1, -1), *tokens])  # `get` alone: the get commands
    inv = parse(tokens, ctx.node.registry)
    if inv.spec.raw:
        _check_source(ctx, inv)
        ctx.raw_rest = raw[len(raw) - len(inv.rest):] if len(raw) == len(tokens) else list(inv.rest)
        return _shaped(inv.spec.handler(ctx, inv.rest))
    return _invoke(ctx, inv)


_PEOPLE = (Source.CLI, Source.REPL)  # a person typing: a bare family word lists its commands (a script errs)


def _family_only(registry: Registry, tokens: list[Token]) -> bool:
    """True when the line is only the first word(s) of several commands and no command itself (``get``)."""
    if not all(t.kind == WORD for t in tokens):
        return False
    words = [t.text for t in tokens]
    return registry.match(words) is None and bool(registry.continuations(words))


def _check_source(ctx: Context, inv: Invocation) -> None:
    if ctx.source.external and not inv.spec.remote:
        raise NotPermitted(f"'{inv.spec.name}' may not be run by a peer or a REST client: it is local only (it "
                           "changes the node or shows what only its owner may see)",
                           hint="run it at the node's own prompt or in its scripts; 'help <command>' says which "
                                "commands peers and REST clients may run")


def _invoke(ctx: Context, inv: Invocation) -> Result:
    """Call the handler of a parsed (not raw) command; ``inv`` is left as it was."""
    _check_source(ctx, inv)
    kwargs = inv.kwargs
    if inv.spec.secret_params and not ctx.source.external:
        for param in inv.spec.secret_params:  # `password = x`, `token = x`, `set network key x`: x is secret
            if isinstance(kwargs.get(param), str):
                ctx.node.secrets.add(kwargs[param])
    if ctx.fmt == "json" and "format" in kwargs and "format" not in inv.given:
        kwargs = {**kwargs, "format": "json"}
    spec = inv.spec
    if spec.ignored_options:  # AnyLog options anynode does nothing with: the handler never gets them
        ctx.ignored = {o.param: kwargs[o.param] for o in spec.ignored_options if o.name in inv.given}
        kwargs = {k: kwargs[k] for k in spec.params}
    elif ctx.ignored:
        ctx.ignored = {}
    return _shaped(inv.spec.handler(ctx, **kwargs))


def _shaped(result: Any) -> Result:
    if result is None:
        return Empty()
    if isinstance(result, str):
        return Message(result)
    return result
