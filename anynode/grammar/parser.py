"""Binds a token list to a declared command.

``parse`` finds the longest command whose words start the line, binds the
positional arguments, then the ``where k = v and k = v`` options, converting
each value through its declared type. Every error names the word, what was
wrong and what would be right, and carries the word's offset.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from anynode.errors import CommandSyntaxError, ValidationError
from anynode.grammar.registry import Registry
from anynode.grammar.spec import CommandSpec, Opt
from anynode.grammar.tokens import WORD, Token, join_tokens
from anynode.grammar.types import Words


class Rest(list):
    """The tokens of a rest-of-line argument, with both ways to read them."""

    @property
    def text(self) -> str:
        """The words joined by single spaces, quotes removed (for ``echo``)."""
        return " ".join(t.text for t in self)

    @property
    def source(self) -> str:
        """Command text that re-tokenizes to the same words (for nested commands)."""
        return join_tokens(list(self))


@dataclass
class Invocation:
    """A parsed command: what to call and with which values."""

    spec: CommandSpec
    kwargs: dict[str, Any] = field(default_factory=dict)
    rest: list[Token] = field(default_factory=list)
    given: frozenset[str] = frozenset()


def _fail(message: str, tok: Token | None, hint: str | None = None, base: int = 0) -> CommandSyntaxError:
    return CommandSyntaxError(message, hint=hint, offset=(tok.start + base) if tok else None)


def _undefined(tok: Token, what: str, base: int) -> CommandSyntaxError:
    names = ", ".join(f"'{m}'" for m in tok.missing)
    return _fail(f"{what}: variable {names} is not defined", tok,
                 hint="set it first (name = value) or quote the text", base=base)


def _convert(spec: CommandSpec, what: str, typ: Any, text: str, tok: Token | None, base: int) -> Any:
    try:
        return typ.convert(text)
    except ValidationError as exc:
        hint = exc.hint or f"expected {typ.accepts()}"
        raise ValidationError(f"{what} of '{spec.name}': {exc.message}",
                              hint=hint, offset=(tok.start + base) if tok else None) from None


def _bind_args(spec: CommandSpec, toks: list[Token], base: int, lenient: bool) -> tuple[dict[str, Any], int]:
    kwargs: dict[str, Any] = {}
    i = 0
    for arg in spec.args:
        if arg.rest or isinstance(arg.type, Words):
            rest = Rest(toks[i:])
            if arg.required and not rest:
                raise _fail(f"'{spec.name}' needs <{arg.name}>", None, hint=f"usage: {spec.usage()}")
            kwargs[arg.name] = rest
            i = len(toks)
            continue
        if i >= len(toks) or spec.opens_options(toks[i]):
            if arg.required:
                at = toks[i] if i < len(toks) else None
                raise _fail(f"'{spec.name}' needs <{arg.name}>", at, hint=f"usage: {spec.usage()}", base=base)
            kwargs[arg.name] = arg.default
            continue
        tok = toks[i]
        if tok.missing and lenient:
            kwargs[arg.name] = tok.text
        elif tok.missing:
            raise _undefined(tok, f"<{arg.name}>", base)
        else:
            kwargs[arg.name] = _convert(spec, f"<{arg.name}>", arg.type, tok.text, tok, base)
        i += 1
    return kwargs, i


def _option_values(spec: CommandSpec, toks: list[Token], base: int) -> list[tuple[Opt, list[Token], Token]]:
    """Split ``k = v and k = v`` into (option, value tokens, key token)."""
    out: list[tuple[Opt, list[Token], Token]] = []
    i = 0
    while i < len(toks):
        key = toks[i]
        if key.kind != WORD:
            raise _fail(f"expected an option name, found '{key.text}'", key, hint=f"usage: {spec.usage()}", base=base)
        # The name runs up to '=' and may hold several words ("external ip").
        k = i
        while k < len(toks) and toks[k].kind == WORD and not toks[k].is_word("and"):
            k += 1
        has_eq = k < len(toks) and toks[k].is_op("=")
        name = " ".join(t.text for t in toks[i:k]) if has_eq else key.text
        opt = spec.option(name)
        if opt is None and has_eq and k - i > 1 and spec.option(key.text) is not None:
            opt, has_eq = spec.option(key.text), False
        if opt is None:
            names = [o.name for o in spec.options]
            close = difflib.get_close_matches(name.lower(), names, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"valid options: {', '.join(names) or 'none'}"
            raise _fail(f"unknown option '{name}' for '{spec.name}'", key, hint=hint, base=base)
        if not has_eq:
            raise _fail(f"option '{opt.name}' needs '= value'", key, hint=f"write: {opt.name} = <{opt.type.metavar}>",
                        base=base)
        i = k - 1
        j = i + 2
        while j < len(toks) and not toks[j].is_word("and"):
            j += 1
        value = toks[i + 2:j]
        if not value:
            raise _fail(f"option '{opt.name}' has no value", key, hint=f"write: {opt.name} = <{opt.type.metavar}>",
                        base=base)
        out.append((opt, value, key))
        i = j + 1
        if j < len(toks) and i >= len(toks):
            raise _fail("'and' at the end of the line is not followed by an option", toks[j], base=base)
    return out


def _bind_options(spec: CommandSpec, toks: list[Token], base: int, lenient: bool) -> tuple[dict[str, Any], set[str]]:
    kwargs: dict[str, Any] = {o.param: ([] if o.multiple else o.default) for o in spec.options}
    seen: set[str] = set()
    for opt, value, key in _option_values(spec, toks, base):
        missing = next((t for t in value if t.missing), None)
        if missing is not None and not lenient:
            raise _undefined(missing, f"option '{opt.name}'", base)
        text = value[0].text if len(value) == 1 else " ".join(t.text for t in value)
        converted = (text if missing is not None
                     else _convert(spec, f"option '{opt.name}'", opt.type, text, value[0], base))
        if opt.multiple:
            kwargs[opt.param].append(converted)
        elif opt.name in seen:
            raise _fail(f"option '{opt.name}' is given twice", key, hint="give it once", base=base)
        else:
            kwargs[opt.param] = converted
        seen.add(opt.name)
    for opt in spec.options:
        if opt.required and opt.name not in seen:
            raise _fail(f"'{spec.name}' needs option '{opt.name}'", None,
                        hint=f"add: where {opt.name} = <{opt.type.metavar}>")
    return kwargs, seen


def _known_prefix(registry: Registry, words: list[str]) -> int:
    """How many leading words start some command: the caret goes under the first word that does not."""
    n = 0
    while n < len(words) and registry.continuations(words[:n + 1]):
        n += 1
    return n


def parse(tokens: list[Token], registry: Registry, base: int = 0, lenient: bool = False) -> Invocation:
    """Bind ``tokens`` (variables already expanded) to a command.

    ``base`` is added to token offsets, for lines that held several commands.
    ``lenient`` accepts values of undefined variables without converting them
    (``anynode check`` knows no variable values).

    Raises:
        CommandNotFound: no command starts with these words.
        CommandSyntaxError: arguments or options that do not fit.
    """
    words: list[str] = []
    for tok in tokens:
        if tok.kind != WORD:
            break
        words.append(tok.text)
    found = registry.match(words) if words else None
    if found is None:
        known = _known_prefix(registry, words)
        at = tokens[known] if known < len(words) else tokens[0]
        raise registry.not_found(words or [tokens[0].text], offset=at.start + base)
    spec, n = found
    rest = tokens[n:]
    if spec.raw:
        return Invocation(spec, {}, rest)
    kwargs, used = _bind_args(spec, rest, base, lenient)
    rest = rest[used:]
    if rest and spec.opens_options(rest[0]):
        if len(rest) == 1:
            raise _fail(f"'{rest[0].text}' is not followed by an option", rest[0], hint=f"usage: {spec.usage()}",
                        base=base)
        rest = rest[1:]
    elif rest:
        raise _fail(f"unexpected '{rest[0].text}' after '{spec.name}'", rest[0],
                    hint=f"usage: {spec.usage()}", base=base)
    options, given = _bind_options(spec, rest, base, lenient)
    kwargs.update(options)
    return Invocation(spec, kwargs, [], frozenset(given))
