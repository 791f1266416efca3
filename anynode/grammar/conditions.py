"""Conditions of ``if``: comparisons joined by ``and``/``or``.

``a == b``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``contains``,
``startswith``, ``endswith``; ``not X``; a bare ``X`` is true when it is not
empty, not ``false`` and not ``0``. Conditions join left to right with
``and``/``or`` (short-circuit) and ``(...)`` groups nest.

A variable that is not set reads as an empty value, as in AnyLog:
``$LEVEL == 1`` is then false and ``not !x`` true, never an error. Inside
a group, whose text is expanded as a whole, an empty value leaves no word,
so a group that named a missing variable reads a side without a value as
empty (``($A == x or $A == y)`` with A unset is false).

When both sides read as numbers the comparison is numeric, so
``if !count > 3`` means what it says even when ``count`` is ``"10"``
(EdgeLake compares the strings unless a side is cast with ``.int``, and
``"10" > "3"`` is then false). Otherwise text compares without regard to case,
as in AnyLog.
"""

from __future__ import annotations

import re

from anynode.errors import CommandSyntaxError
from anynode.grammar.tokens import GROUP, OP, Token, tokenize

_CMP = ("==", "!=", "<", "<=", ">", ">=")
_WORD_OPS = ("contains", "startswith", "endswith")


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _number(text: str) -> float | None:
    """The value of a decimal number; None for anything else (``nan``,
    ``inf`` and ``1_000`` are text here, although Python's float takes them)."""
    text = text.strip()
    return float(text) if _NUMBER.fullmatch(text) else None


def compare(left: str, op: str, right: str) -> bool:
    """Compare two values as numbers when both are numbers, else as text."""
    if op in _WORD_OPS:
        a, b = left.lower(), right.lower()
        return {"contains": b in a, "startswith": a.startswith(b), "endswith": a.endswith(b)}[op]
    ln, rn = _number(left), _number(right)
    x: float | str = ln if ln is not None and rn is not None else left.lower()
    y: float | str = rn if ln is not None and rn is not None else right.lower()
    return {"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y,  # type: ignore[operator]
            ">": x > y, ">=": x >= y}[op]  # type: ignore[operator]


def truthy(text: str) -> bool:
    """A bare value as a condition."""
    return text.strip().lower() not in ("", "false", "0")


def _operand(toks: list[Token]) -> str:
    return " ".join(t.text for t in toks)


def _is_op(tok: Token) -> bool:
    return (tok.kind == OP and tok.text in _CMP) or tok.is_word(*_WORD_OPS)


def _one(toks: list[Token], every: bool = False, blanks: bool = False) -> bool:
    """One comparison, ``not`` form, group or bare value (``blanks``: a missing value is an empty one)."""
    if not toks:
        if blanks:  # `(!x)` or `(not !x)` with x unset
            return False
        raise CommandSyntaxError("a condition is empty", hint="write e.g. if !x == 5 then ...")
    if toks[0].is_word("not"):
        return not _one(toks[1:], every, blanks)
    if len(toks) == 1 and toks[0].kind == GROUP:
        inner = toks[0].text[1:-1]
        return evaluate(tokenize(inner), every, blanks=blanks or bool(toks[0].missing))
    ops = [i for i, t in enumerate(toks) if _is_op(t)]
    if not ops:
        return truthy(_operand(toks))
    i = ops[0]
    if (i == 0 or i == len(toks) - 1) and not blanks:
        raise CommandSyntaxError(f"'{toks[i].text}' needs a value on each side", offset=toks[i].start,
                                 hint="write e.g. !x == 5")
    return compare(_operand(toks[:i]), toks[i].text.lower(), _operand(toks[i + 1:]))


def evaluate(toks: list[Token], every: bool = False, blanks: bool = False) -> bool:
    """Evaluate a condition whose variables are already expanded.

    ``every`` evaluates each part even when the outcome is already known
    (``anynode check`` uses it: a malformed part fails whatever the values).
    ``blanks`` reads a comparison without a side, or an empty part, as one
    with an empty value (a group whose variables were not set).

    Raises:
        CommandSyntaxError: an empty condition or an operator without operands.
    """
    result: bool | None = None
    joiner = ""
    part: list[Token] = []
    for tok in toks + [Token("and", "word", -1, -1)]:
        if tok.is_word("and", "or"):
            if every:
                value = _one(part, every, blanks)
                result = value if result is None else (result and value if joiner == "and" else result or value)
            elif result is None:
                result = _one(part, blanks=blanks)
            elif joiner == "and":
                result = result and _one(part, blanks=blanks)
            else:
                result = result or _one(part, blanks=blanks)
            joiner = tok.text.lower()
            part = []
        else:
            part.append(tok)
    return bool(result)
