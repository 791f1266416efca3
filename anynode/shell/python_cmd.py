"""``python <expr>``: compute a value from the node's variables with a safe evaluator (``safe_eval.py``).

Variables are never pasted into the expression as text. The words are taken
as typed, each ``!name`` (and ``$NAME``) outside a quoted string becomes a
name bound to the variable's value, as a string, and only then is the text
parsed: a value holding quotes, brackets or code is just a string.
"""

from __future__ import annotations

import re
from typing import Any

from anynode.errors import CommandSyntaxError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.tokens import QUOTED, STRING, WORD, Token
from anynode.results import Message, Result
from anynode.shell.safe_eval import evaluate, render

_REF = re.compile(r"(!!|!|\$)([A-Za-z_][A-Za-z0-9_]*)(?:\.(int|float|str|bool)(?![A-Za-z0-9_]))?")
_PLACEHOLDER = "_anynode_var{}_"


def expression_text(tokens: list[Token]) -> str:
    """The Python text of the words as typed: spacing kept from the line, quoted words as string literals."""
    out: list[str] = []
    end: int | None = None
    for tok in tokens:
        if end is not None:
            out.append(" " * (tok.start - end) if tok.start >= end else " ")  # adjacent words stay adjacent
        if tok.kind == STRING:
            out.append(repr(tok.text))
        elif tok.kind == QUOTED:
            out.append(repr(tok.text[1:-1]))
        else:
            out.append(tok.text)
        end = tok.end
    return "".join(out)


def _string_end(text: str, i: int) -> int:
    """The index after the Python string literal that starts at ``text[i]`` (its end of text if unclosed)."""
    quote = text[i] * 3 if text[i:i + 3] in ('"""', "'''") else text[i]
    j = i + len(quote)
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text.startswith(quote, j):
            return j + len(quote)
        j += 1
    return len(text)


def bind_references(text: str) -> tuple[str, list[tuple[str, str, str, str | None]]]:
    """Replace each ``!name[.cast]`` / ``$NAME`` outside string literals by a placeholder name.

    Returns the new text and (placeholder, sigil, name, cast) for each reference.

    Raises:
        CommandSyntaxError: a ``!!name`` (deferred to a peer), which means nothing here.
    """
    out: list[str] = []
    refs: list[tuple[str, str, str, str | None]] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c in "'\"":
            j = _string_end(text, i)
            out.append(text[i:j])
            i = j
            continue
        m = _REF.match(text, i) if c in "!$" else None
        if m is None:
            out.append(c)
            i += 1
            continue
        sigil, name, cast = m.groups()
        if sigil == "!!":
            raise CommandSyntaxError(f"python: '!!{name}' (a variable of the peer) means nothing here",
                                     hint=f"write !{name}")
        placeholder = _PLACEHOLDER.format(len(refs))
        refs.append((placeholder, sigil, name, cast))
        out.append(placeholder)
        i = m.end()
    return "".join(out), refs


def _cast(ref: str, value: str, cast: str | None) -> Any:
    if cast is None or cast == "str":
        return value
    if cast == "bool":
        return value.strip().lower() not in ("", "false", "0")
    try:
        return float(value) if cast == "float" else int(value) if value.strip().lstrip("+-").isdigit() \
            else int(float(value))
    except ValueError:
        raise CommandSyntaxError(f"python: {ref}.{cast} is '{value}', not a number",
                                 hint=f"check the value of {ref}") from None


def _value(ctx: Context, sigil: str, name: str, cast: str | None) -> Any:
    ref = f"{sigil}{name}"
    expanded = ctx.expand([Token(ref, WORD, 0, len(ref))])[0]  # masks secrets for strangers; marks a secret read
    if expanded.missing:
        raise CommandSyntaxError(f"python: variable '{ref}' is not defined",
                                 hint="set it first (name = value), or test it with 'if !name then ...'")
    value = expanded.text
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]  # a value kept with its quotes is the text inside them, as in AnyLog
    return _cast(ref, value, cast)


@command("python", raw=True, syntax="<expression>", keywords=("script",),
         examples=['python !version.split(" ")[0]', 'ledger_ip = python !ledger_conn.split(":")[0]',
                   "python int(!count) + 1", "python !node_name.upper()", 'python !ip.startswith("10.") and !x == "y"'])
def python(ctx: Context, tokens: list[Token]) -> Result:
    """Compute a value with a small, safe part of Python: python <expression>.

    Allowed: text, numbers, true/false, [lists], {dicts}, arithmetic (+ - *
    / // % **), comparisons, and/or/not, x if c else y, [index] and
    [a:b] slices, calls of int, float, str, bool, len, abs, min, max,
    round, sum, sorted, list, tuple, dict, and of the methods of values
    that change nothing: str's (split, rsplit, strip, replace, upper,
    lower, startswith, endswith, find, count, join, partition, zfill,
    isdigit, ...; not format, encode or translate), list's and tuple's
    count, index; dict's get, keys, values, items. Never imports, other
    attributes, lambda, comprehensions, f-strings or '%' formatting;
    values are bounded (1,000,000 characters or items, 10,000-bit numbers). !name is the variable's value
    as a string (add .int, .float or .bool to convert it), never pasted
    into the text, so quotes in a value cannot change the expression. Lists
    and dicts come back as JSON, true/false in lower case. Local only.
    """
    typed = ctx.raw_rest if len(ctx.raw_rest) == len(tokens) else tokens
    if not typed:
        raise CommandSyntaxError("'python' needs an expression", hint='write: python !name.split(":")[0]')
    text, refs = bind_references(expression_text(typed))
    bindings = {placeholder: _value(ctx, sigil, name, cast) for placeholder, sigil, name, cast in refs}
    return Message(render(evaluate(text, bindings)))
