"""The tokenizer of the command language (AnyLog's rules, made predictable).

Pure code: no I/O, no node state. A line becomes a list of :class:`Token`
with their offsets so that errors can point at the word.

Rules, in priority order:

* ``#`` at the start of a word, outside quotes, ends the line (a comment).
* Whitespace separates words.
* ``=``, ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` and ``+`` are tokens of
  their own even without spaces around them (``a=b`` is three tokens). A
  ``!`` not followed by ``=`` belongs to the word (``!name``). A word that
  starts with ``->`` gives the token ``->``.
* ``"..."`` is one word with the quotes removed (``\\"`` inside is a quote);
  ``'...'`` and `````...````` are one word with their quotes kept.
* ``(...)``, ``{...}`` and ``[...]`` at the start of a word are one word,
  nesting and quotes respected; ``[a][b]`` and ``name[]`` stay one word.
* An unmatched quote or bracket (opening or closing) is an error that names
  its position.

Separating several commands with ``&`` is :func:`split_commands`'s job: it
splits only on a lone ``&`` outside quotes and brackets (EdgeLake splits
inside quotes too; that is a bug we do not copy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from anynode.errors import CommandSyntaxError

WORD = "word"        # plain word (variables are expanded in these)
STRING = "string"    # "double quoted", quotes removed
QUOTED = "quoted"    # 'single' or `back` quoted, quotes kept
OP = "op"            # = == != < <= > >= +
GROUP = "group"      # (...) with the parentheses
BRACKET = "bracket"  # {...} or [...] (JSON, policy paths) with the brackets

OPERATORS = ("==", "!=", "<=", ">=", "=", "<", ">", "+")
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class Token:
    """One word of a command line.

    ``text`` is the value (quotes removed for STRING); ``start``/``end`` are
    offsets in the line; ``typed`` is set by variable expansion when a value
    was cast (``!x.int``); ``missing`` names variables that had no value.
    """

    text: str
    kind: str
    start: int
    end: int
    typed: str | None = None
    missing: tuple[str, ...] = ()

    def is_word(self, *words: str) -> bool:
        """True when this is a plain word equal (any case) to one of ``words``."""
        return self.kind == WORD and self.text.lower() in words

    def is_op(self, op: str) -> bool:
        """True when this token is the operator ``op``."""
        return self.kind == OP and self.text == op

    def render(self) -> str:
        """Source text that tokenizes back to this token (for re-dispatch)."""
        if self.kind == STRING or (self.kind == WORD and (not self.text or _needs_quotes(self.text))):
            return '"' + self.text.replace('"', '\\"') + '"'
        return self.text

    def with_text(self, text: str, **changes: object) -> Token:
        """A copy with another value (used by variable expansion)."""
        return replace(self, text=text, **changes)  # type: ignore[arg-type]


def _needs_quotes(text: str) -> bool:
    return any(c.isspace() for c in text) or text[0] in "#\"'`([{" or any(text.startswith(o) for o in OPERATORS)


def _scan_quoted(line: str, i: int) -> tuple[str, int]:
    """Scan a quoted string starting at ``line[i]``; return (body, index after)."""
    q = line[i]
    j = i + 1
    out: list[str] = []
    while j < len(line):
        c = line[j]
        if q == '"' and c == "\\" and j + 1 < len(line) and line[j + 1] in '"\\':
            out.append(line[j + 1])
            j += 2
            continue
        if c == q:
            return "".join(out), j + 1
        out.append(c)
        j += 1
    raise CommandSyntaxError(
        f"missing closing {q} for the text that starts at column {i + 1}",
        hint=f"close it with {q}", offset=i)


def _scan_nested(line: str, i: int) -> int:
    """Scan a bracketed run starting at ``line[i]``; return the index after it."""
    stack = [_CLOSERS[line[i]]]
    j = i + 1
    while j < len(line):
        c = line[j]
        if c in "\"'`":
            _, j = _scan_quoted(line, j)
            continue
        if c in _CLOSERS:
            stack.append(_CLOSERS[c])
        elif c in ")]}":
            if c != stack[-1]:
                raise CommandSyntaxError(
                    f"'{c}' at column {j + 1} does not close '{line[i]}' from column {i + 1}",
                    hint=f"expected '{stack[-1]}'", offset=j)
            stack.pop()
            if not stack:
                return j + 1
        j += 1
    raise CommandSyntaxError(
        f"'{line[i]}' at column {i + 1} is never closed",
        hint=f"add '{stack[-1]}'", offset=i)


def _op_at(line: str, i: int) -> str | None:
    two = line[i:i + 2]
    if two in ("==", "!=", "<=", ">="):
        return two
    if line[i] in "=<>+":
        return line[i]
    return None


# Characters that can never end or nest a word: scanned in one step.
_PLAIN = re.compile(r"[^\s=<>+!\[\]{}()]+")


def _scan_word(line: str, i: int) -> int:
    """Scan a plain word; brackets inside it (``a[0]``, ``x[]``) nest.

    A closing bracket that nothing opened is an error, as an unmatched
    opening one is (EdgeLake refuses unbalanced parentheses too).
    """
    j = i
    n = len(line)
    while j < n:
        m = _PLAIN.match(line, j)
        if m:
            j = m.end()
            if j >= n:
                break
        c = line[j]
        if c.isspace() or _op_at(line, j):
            break
        if c in "[{(":
            j = _scan_nested(line, j)
            continue
        if c in ")]}":
            opener = {")": "(", "]": "[", "}": "{"}[c]
            raise CommandSyntaxError(f"'{c}' at column {j + 1} closes nothing",
                                     hint=f"remove it, open it with '{opener}', or quote the text", offset=j)
        j += 1
    return j


def tokenize(line: str) -> list[Token]:
    """Split one command line into tokens.

    Raises:
        CommandSyntaxError: an unmatched quote or bracket, with its offset.
    """
    tokens: list[Token] = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c.isspace():
            i += 1
            continue
        if c == "#":
            break
        if line.startswith("->", i):
            tokens.append(Token("->", WORD, i, i + 2))
            i += 2
            continue
        op = _op_at(line, i)
        if op:
            tokens.append(Token(op, OP, i, i + len(op)))
            i += len(op)
            continue
        if c == '"':
            body, j = _scan_quoted(line, i)
            tokens.append(Token(body, STRING, i, j))
        elif c in "'`":
            _, j = _scan_quoted(line, i)
            tokens.append(Token(line[i:j], QUOTED, i, j))
        elif c == "(":
            j = _scan_nested(line, i)
            tokens.append(Token(line[i:j], GROUP, i, j))
        elif c in "[{":
            j = _scan_nested(line, i)
            if c == "[" and j < n and not line[j].isspace() and not _op_at(line, j):
                j = _scan_word(line, j)
            tokens.append(Token(line[i:j], BRACKET, i, j))
        else:
            j = _scan_word(line, i)
            tokens.append(Token(line[i:j], WORD, i, j))
        i = j
    return tokens


def split_commands(line: str) -> list[tuple[str, int]]:
    """Split a line on lone ``&`` words outside quotes and brackets.

    Returns (command text, offset of the command in ``line``) pairs; empty
    commands are dropped. The split uses the tokenizer, so quotes and brackets
    mean the same here as in the command itself (a quote inside a word, as in
    ``don't``, starts nothing).

    Raises:
        CommandSyntaxError: an unmatched quote or bracket, with its offset.
    """
    return [(line[g[0].start:g[-1].end], g[0].start) for g in split_tokens(tokenize(line))]


def split_tokens(tokens: list[Token]) -> list[list[Token]]:
    """The tokens of a line grouped into commands at each lone ``&`` word."""
    groups: list[list[Token]] = [[]]
    for tok in tokens:
        if tok.kind == WORD and tok.text == "&":
            groups.append([])
        else:
            groups[-1].append(tok)
    return [g for g in groups if g]


def is_complete(text: str) -> bool:
    """True when every quote and bracket opened in ``text`` is closed.

    Scripts use it to join a JSON value that spans several lines.
    """
    try:
        tokenize(text)
    except CommandSyntaxError:
        return False
    return True


def join_tokens(tokens: list[Token]) -> str:
    """Rebuild command text from tokens (for ``then``, ``run client`` ...)."""
    return " ".join(t.render() for t in tokens)
