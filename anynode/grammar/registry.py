"""The command table: one declaration per command, looked up by its words.

``@command`` fills the default table when a commands module is imported (``anynode.assembly``
imports them all);
each Node works on its own :class:`Registry` copy, so two nodes in one
process never share mutable state.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from anynode.errors import AnyNodeError, CommandNotFound, ConfigError
from anynode.grammar.spec import Arg, CommandSpec, Opt
from anynode.grammar.tokens import GROUP, WORD, Token, split_tokens, tokenize
from anynode.secret import MASK, is_secret_name, json_secrets, mentions_secret

_DEFAULT: dict[tuple[str, ...], CommandSpec] = {}
_WORDS = re.compile(r"[^\s=]+")


def command(words: str, *, args: Iterable[Arg] = (), options: Iterable[Opt] = (),
            examples: Iterable[str] = (), keywords: Iterable[str] = (), remote: bool = False,
            http: str = "GET", hidden: bool = False, raw: bool = False, secret: bool = False,
            blocking: bool = True, aliases: Iterable[str] = (),
            clause: str = "where", syntax: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a command; the decorated function is its handler.

    The handler's docstring is the help text: its first line the summary,
    the rest the description. ``remote`` marks commands a peer or a REST
    client may run; ``http`` is the method AnyLog requires for it over REST
    (GET reads, POST changes state). ``raw`` handlers get the tokens after
    the command words unparsed (language forms such as ``if``). ``secret``
    commands are logged without their arguments (keys, passwords).
    ``blocking=False`` declares a command that only reads memory and returns
    at once: servers may run it on their event loop instead of a worker.
    ``clause`` is the word that starts the options when AnyLog uses another
    than ``where`` (``to``); ``where`` is accepted as well. ``syntax`` is the
    usage line after the command words for a ``raw`` command (its grammar is
    its handler's, so the declaration cannot build it).

    Raises:
        TypeError: the handler's parameters are not the context and exactly
            the declared arguments and options (ignored options left out);
            raw handlers take the context and the tokens.
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        doc = inspect.cleandoc(fn.__doc__ or "")
        summary, _, description = doc.partition("\n")
        spec = CommandSpec(
            words=tuple(words.split()), handler=fn, args=tuple(args), options=tuple(options),
            summary=summary.strip(), description=description.strip(), examples=tuple(examples),
            keywords=tuple(keywords), remote=remote, http=http.upper(), hidden=hidden, raw=raw, secret=secret,
            blocking=blocking,
            aliases=tuple(tuple(a.split()) for a in aliases), clause=clause, syntax=syntax)
        mismatch = handler_mismatch(spec)
        if mismatch:
            raise TypeError(f"command '{spec.name}': handler {fn.__name__}() does not match its declaration: "
                            f"{mismatch}")
        for key in (spec.words, *spec.aliases):
            if key in _DEFAULT and _DEFAULT[key].handler is not fn:
                raise RuntimeError(f"command {' '.join(key)!r} is declared twice")
            _DEFAULT[key] = spec
        return fn

    return register


def handler_mismatch(spec: CommandSpec) -> str:
    """How the handler's parameters differ from the declaration; "" when they match.

    A handler takes the context, then one keyword per declared argument and
    option, except options declared ``ignored``, with no default of its own
    (the declaration holds the defaults). A raw handler takes the context
    and the tokens.
    """
    names, defaulted, odd = _parameters(spec.handler)
    if odd:
        return f"*args/**kwargs or positional-only parameters are not allowed ({', '.join(odd)})"
    if not names:
        return "it takes no context"
    if spec.raw:
        return "" if len(names) == 2 else f"a raw handler takes (ctx, tokens), not {len(names)} parameter(s)"
    given = names[1:]
    problems = []
    ignored = [o.param for o in spec.ignored_options if o.param in given]
    if ignored:
        problems.append(f"option(s) declared ignored are never passed: {', '.join(ignored)}")
    missing = [n for n in spec.params if n not in given]
    if missing:
        problems.append(f"no parameter for declared {', '.join(missing)}")
    extra = [n for n in given if n not in spec.params and n not in ignored]
    if extra:
        problems.append(f"parameter(s) not declared: {', '.join(extra)}")
    defaulted = [n for n in defaulted if n in given]
    if defaulted:
        problems.append(f"parameter default(s) besides the declaration's: {', '.join(defaulted)}")
    return "; ".join(problems)


def _parameters(fn: Callable[..., Any]) -> tuple[list[str], list[str], list[str]]:
    """(parameter names, those with a default, those not plain) of ``fn``.

    Read from the code object when there is one (every command is declared at
    start-up: ``inspect.signature`` would cost milliseconds there).
    """
    code = getattr(fn, "__code__", None)
    if code is None:
        params = list(inspect.signature(fn).parameters.values())
        plain = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return ([p.name for p in params if p.kind in plain],
                [p.name for p in params if p.default is not inspect.Parameter.empty],
                [p.name for p in params if p.kind not in plain])
    count = code.co_argcount + code.co_kwonlyargcount
    names = list(code.co_varnames[:count])
    odd = names[:code.co_posonlyargcount]
    extra = code.co_varnames[count:count + bool(code.co_flags & inspect.CO_VARARGS)
                             + bool(code.co_flags & inspect.CO_VARKEYWORDS)]
    defaulted = names[code.co_argcount - len(fn.__defaults__ or ()):code.co_argcount]
    defaulted += [n for n in (fn.__kwdefaults__ or {}) if n in names]
    return [n for n in names if n not in odd], defaulted, [*odd, *extra]


class Registry:
    """A node's command table.

    ``parsed`` keeps command lines already bound to this table, for the
    dispatcher: a table does not change once made, so a line without
    variables binds to the same command and values every time.
    """

    def __init__(self, specs: dict[tuple[str, ...], CommandSpec] | None = None) -> None:
        self._by_words = dict(_DEFAULT if specs is None else specs)
        self._longest = max((len(k) for k in self._by_words), default=1)
        self.parsed: dict[str, Any] = {}

    @classmethod
    def default(cls) -> Registry:
        """A copy of the default table (what ``@command`` declared so far).

        Raises:
            ConfigError: nothing is declared: the caller did not import ``anynode.assembly``.
        """
        if not _DEFAULT:
            raise ConfigError("no command is declared", hint="import anynode.assembly before making a Node")
        return cls()

    def __iter__(self) -> Iterator[CommandSpec]:
        seen: set[int] = set()
        for key in sorted(self._by_words):
            spec = self._by_words[key]
            if id(spec) not in seen:
                seen.add(id(spec))
                yield spec

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def get(self, name: str) -> CommandSpec | None:
        """The command whose words are exactly ``name``."""
        return self._by_words.get(tuple(name.lower().split()))

    def match(self, words: list[str]) -> tuple[CommandSpec, int] | None:
        """Longest command whose words start ``words``; (spec, words used)."""
        low = [w.lower() for w in words[:self._longest]]
        for n in range(len(low), 0, -1):
            spec = self._by_words.get(tuple(low[:n]))
            if spec is not None:
                return spec, n
        return None

    def continuations(self, words: list[str]) -> list[str]:
        """Next words that extend ``words`` toward a command (for completion)."""
        low = tuple(w.lower() for w in words)
        out = {k[len(low)] for k in self._by_words if len(k) > len(low) and k[:len(low)] == low}
        return sorted(out)

    def suggest(self, words: list[str], limit: int = 3) -> list[str]:
        """Known command names closest to what was typed."""
        names = sorted({" ".join(k) for k in self._by_words})
        low = [w.lower() for w in words]
        picks = self._next_word(low, limit)
        if picks:
            return picks
        for n in range(min(len(low), self._longest), 0, -1):
            typed = " ".join(low[:n])
            same = [c for c in names if len(c.split()) == n]
            picks += difflib.get_close_matches(typed, same, n=limit, cutoff=0.6)
        if not picks and low:
            family = [c for c in names if c.split()[0] == low[0]]
            picks += difflib.get_close_matches(" ".join(low), family, n=limit, cutoff=0.3) or family[:limit]
        if not picks and low:
            picks += difflib.get_close_matches(low[0], names, n=limit, cutoff=0.5)
        return list(dict.fromkeys(picks))[:limit]

    def _next_word(self, low: list[str], limit: int) -> list[str]:
        """When the first words start some commands and the next one is wrong (``blockchain gte``), the
        commands of that family whose next word is closest to it."""
        known = 0
        while known < len(low) and self.continuations(low[:known + 1]):
            known += 1
        if not 0 < known < len(low):
            return []
        family = {k for k in self._by_words if len(k) > known and list(k[:known]) == low[:known]}
        scored = sorted(((difflib.SequenceMatcher(None, low[known], k[known]).ratio(), " ".join(k)) for k in family),
                        key=lambda pair: (-pair[0], len(pair[1]), pair[1]))
        return [name for ratio, name in scored if ratio >= 0.6][:limit]

    def redact(self, line: str) -> str:
        """``line`` as it may be logged or kept in history: secrets masked by name.

        Masked: the value of an assignment to a secret name (``db_password =
        ...``, ``set Token = ...``, ``$API_KEY = ...``), everything after the
        words of a ``secret`` command (``set network key ...``), and the value
        after any secret name and ``=`` (``where password = ...``), a JSON value
        with a secret key, in every command of the line and in the command
        ``run client (...)`` sends.
        Values are masked by the node's Secrets book on top of this.
        """
        if not mentions_secret(line):
            return line
        try:
            commands = split_tokens(tokenize(line))
        except AnyNodeError:  # unbalanced quotes: mask everything after the first secret word
            found = next((m for m in _WORDS.finditer(line) if is_secret_name(m.group())), None)
            return line if found is None else line[:found.end()] + " " + MASK
        spans: list[tuple[int, int]] = []
        for tokens in commands:
            spans += self._secret_spans(tokens)
        if not spans:
            return line
        out, cut = [], 0
        for start, end in sorted(spans):
            if start < cut:  # inside a span already masked
                continue
            out += [line[cut:start], MASK]
            cut = end
        return "".join(out) + line[cut:]

    def _secret_spans(self, tokens: list[Token]) -> list[tuple[int, int]]:
        """(start, end) offsets of the secret parts of one command's tokens."""
        spans: list[tuple[int, int]] = []
        name = None
        if len(tokens) >= 3 and tokens[1].is_op("=") and tokens[0].kind == WORD:
            name, value = tokens[0], tokens[2:]
        elif len(tokens) >= 4 and tokens[0].is_word("set") and tokens[2].is_op("=") and tokens[1].kind == WORD:
            name, value = tokens[1], tokens[3:]
        if name is not None:
            if is_secret_name(name.text):
                return [(value[0].start, value[-1].end)]
            tokens = value  # the command whose reply is assigned
        words = []
        for tok in tokens:
            if tok.kind != WORD:
                break
            words.append(tok.text)
        found = self.match(words) if words else None
        if found is not None:
            spec, used = found
            if spec.secret and len(tokens) > used:
                return [(tokens[used].start, tokens[-1].end)]
            if len(tokens) > used + 1 and tokens[used].kind == GROUP:  # run client (dest) <command>
                spans += self._secret_spans(tokens[used + 1:])
        for i, tok in enumerate(tokens):
            if tok.kind == WORD:
                if i + 2 < len(tokens) and tokens[i + 1].is_op("=") and is_secret_name(tok.text):
                    spans.append((tokens[i + 2].start, tokens[i + 2].end))
            elif json_secrets(tok.text):  # a JSON value with a secret key: {"db": {"password": "x"}}
                spans.append((tok.start, tok.end))
        return spans

    def not_found(self, words: list[str], offset: int = 0) -> CommandNotFound:
        """The error for words that name no command, with suggestions."""
        cut = next((i for i, w in enumerate(words) if w.lower() == "where"), len(words))
        words = words[:min(cut, 4)] or words[:1]
        typed = " ".join(words)
        close = self.suggest(words)
        hint = "did you mean " + " or ".join(f"'{c}'" for c in close) + "?" if close else "type 'help' for the commands"
        err = CommandNotFound(f"unknown command '{typed}'", hint=hint)
        err.offset = offset
        return err
