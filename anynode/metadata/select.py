"""Choosing policies: the two ``where`` forms, and :func:`select`.

Pure code over a list of policy dicts; it knows nothing of how policies are
stored. A policy is a JSON object with one root key, its type
(``{"operator": {"name": "op1", ...}}``); the object under the root is its
body.

``where`` comes in two forms, and one condition may mix them:

* key/value: ``company = acme and table[dbms] = demo``. Text compares without
  regard to case, a policy value ``*`` matches anything, ``table[dbms]``
  looks inside a dict or in every dict of a list, a list attribute matches
  when it holds the value, numbers and booleans compare as such.
* expressions: ``[name] == a or ([port] >= 32100 and [city] contains jose)``
  with ``== != < <= > >=`` (numeric when both sides are numbers, else text
  without case), ``contains``, ``startswith``, ``endswith``, ``childfrom``,
  ``not``, parentheses; ``and`` binds tighter than ``or``.

EdgeLake differs in ways we do not copy (docs/metadata-query.md lists them):
it compares ``[port] > 4`` as text, reads ``a and b or c`` as
``a and (b or c)``, never matches ``main = true``, and looks only at the
first dict of a list for ``table[dbms] = x``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from anynode import safejson
from anynode.errors import CommandSyntaxError
from anynode.grammar.conditions import compare, truthy
from anynode.grammar.tokens import BRACKET, GROUP, OP, QUOTED, WORD, Token, tokenize
from anynode.metadata.paths import as_text, body_or_none, fan, getter, located_error, number, parse_path

Policy = dict[str, Any]
Test = Callable[[Any], bool]
Lookup = tuple[str, tuple[str, ...]]
"""A requirement an index can answer: attribute ``name`` equals one of the values (key/value form)."""

_OPERATORS = ("=", "==", "!=", "<", "<=", ">", ">=", "contains", "startswith", "startwith", "endswith",
              "childfrom", "with")


def _equals(wanted: str) -> Test:
    """A test of one policy value against a key/value condition's value."""
    low, num = wanted.lower(), number(wanted)

    def scalar(value: Any) -> bool:
        if isinstance(value, str):
            return value == "*" or value.lower() == low
        if isinstance(value, bool):
            return low == ("true" if value else "false")
        if isinstance(value, (int, float)):
            return num is not None and value == num
        return False

    def test(value: Any) -> bool:
        if isinstance(value, list):
            return any(scalar(v) for v in value)
        return scalar(value)

    return test


def _childfrom(text: str, parent: str) -> bool:
    """True when ``text`` is an immediate child of ``parent`` (whose last character separates levels)."""
    text, parent = text.lower(), parent.lower()
    if len(parent) < 2 or len(text) == len(parent) or not text.startswith(parent):
        return False
    rest = text[len(parent):]
    count = rest.count(parent[-1])
    return count == 0 or (count == 1 and rest.endswith(parent[-1]))


_ORDER: dict[str, Callable[[Any, Any], bool]] = {"==": operator.eq, "!=": operator.ne, "<": operator.lt,
                                                 "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_TEXT_OPS: dict[str, Callable[[str, str], bool]] = {"contains": operator.contains, "startswith": str.startswith,
                                                   "endswith": str.endswith}


def _against(op: str, literal: str) -> Test:
    """A test of a policy value against a literal: what :func:`_compare` does, with the literal read once."""
    if op == "childfrom":
        return lambda value: _childfrom(as_text(value), literal)
    low, num = literal.lower(), number(literal)
    if op in _TEXT_OPS:
        text_op = _TEXT_OPS[op]
        if op == "contains":
            return lambda value: (any(low in as_text(v).lower() for v in value) if isinstance(value, list)
                                  else low in as_text(value).lower())
        return lambda value: text_op(as_text(value).lower(), low)
    order = _ORDER[op]

    def test(value: Any) -> bool:
        if num is not None:
            if type(value) in (int, float):
                return order(value, num)
            text = as_text(value)
            found = number(text)
            return order(found, num) if found is not None else order(text.lower(), low)
        return order(as_text(value).lower(), low)
    return test


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "childfrom":
        return _childfrom(as_text(left), as_text(right))
    if op == "contains" and isinstance(left, list):
        return any(compare(as_text(v), op, as_text(right)) for v in left)
    return compare(as_text(left), op, as_text(right))


# -- conditions --------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """A parsed ``where`` condition; ``form`` is ``key/value`` or ``expression``."""

    text: str
    form: str
    test: Callable[[Any], bool] = field(repr=False, compare=False)
    lookups: tuple[Lookup, ...] = ()
    """Key/value comparisons every match satisfies (the top-level ``and``): what an index may look up."""

    def matches(self, policy: Any) -> bool:
        """True when ``policy`` satisfies the condition."""
        return self.test(policy)


class _Parser:
    """Recursive descent over the tokens of one condition (``or`` of ``and`` of comparisons)."""

    def __init__(self, tokens: list[Token], base: int) -> None:
        self.tokens, self.base, self.i = tokens, base, 0
        self.expression = False
        self.simple: dict[Test, Lookup] = {}
        self.lookups: tuple[Lookup, ...] = ()
        self._required: tuple[Lookup, ...] = ()

    def fail(self, message: str, tok: Token | None, hint: str | None = None) -> CommandSyntaxError:
        return located_error(f"where: {message}", tok, self.base, hint)

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def run(self) -> Test:
        test = self.either()
        tok = self.peek()
        if tok is not None:
            raise self.fail(f"unexpected '{tok.text}'", tok, hint="join conditions with 'and' or 'or'")
        return test

    def either(self) -> Test:
        parts = [self.both()]
        first_required = self._required
        while (tok := self.peek()) is not None and tok.is_word("or"):
            self.i += 1
            self.expression = True
            parts.append(self.both())
        if len(parts) == 1:
            self.lookups = first_required
        if len(parts) == 2:
            first, second = parts
            return lambda p: first(p) or second(p)
        return parts[0] if len(parts) == 1 else (lambda p: any(t(p) for t in parts))

    def both(self) -> Test:
        parts = [self.unary()]
        while (tok := self.peek()) is not None and tok.is_word("and"):
            self.i += 1
            parts.append(self.unary())
        self._required = tuple(self.simple[t] for t in parts if t in self.simple)
        if len(parts) == 2:
            first, second = parts
            return lambda p: first(p) and second(p)
        return parts[0] if len(parts) == 1 else (lambda p: all(t(p) for t in parts))

    def unary(self) -> Test:
        tok = self.peek()
        if tok is None:
            last = self.tokens[-1] if self.tokens else None
            raise self.fail(f"the condition ends after '{last.text}'" if last else "the condition is empty", last,
                            hint="write a comparison such as [name] == op1 or name = op1")
        if tok.is_word("not"):
            self.i += 1
            self.expression = True
            inner = self.unary()
            return lambda p: not inner(p)
        if tok.kind == GROUP:
            self.i += 1
            self.expression = True
            inner_tokens = tokenize(tok.text[1:-1])
            if not inner_tokens:
                raise self.fail("'()' holds no condition", tok)
            return _Parser(inner_tokens, self.base + tok.start + 1).run()
        return self.comparison()

    def comparison(self) -> Test:
        left = self.tokens[self.i]
        self.i += 1
        if left.is_word("and", "or") or left.kind == OP:
            raise self.fail(f"expected a condition, found '{left.text}'", left,
                            hint="write a comparison such as [name] == op1 or name = op1")
        op = self.peek()
        if op is None or op.is_word("and", "or"):
            if left.kind == BRACKET and left.text.startswith("["):
                self.expression = True
                get = getter(parse_path(left.text, left, self.base), True)
                return lambda p: truthy(as_text(get(p)))
            raise self.fail(f"'{left.text}' is not a condition", left,
                            hint=f"write {left.text} = <value>, or [{left.text}] == <value>")
        name = op.text.lower() if op.kind in (OP, WORD) else ""
        if name not in _OPERATORS:
            raise self.fail(f"'{op.text}' is not a comparison", op,
                            hint="use =, ==, !=, <, <=, >, >=, contains, startswith, endswith, childfrom or with")
        self.i += 1
        right = self.peek()
        if right is None or right.is_word("and", "or") or right.kind in (OP, GROUP):
            raise self.fail(f"'{op.text}' needs a value after it", right or op,
                            hint="quote a value that has spaces or is empty: \"San Jose\"")
        self.i += 1
        after = self.peek()
        if after is not None and not after.is_word("and", "or"):
            raise self.fail(f"expected 'and' or 'or' after '{left.text} {op.text} {right.text}', found '{after.text}'",
                            after, hint="quote a value that has spaces: \"San Jose\"")
        if name in ("=", "with"):
            return self.key_value(left, name, right)
        self.expression = True
        return self.expression_test(left, "startswith" if name == "startwith" else name, right)

    def key_value(self, key: Token, op: str, value: Token) -> Test:
        if key.kind not in (WORD, BRACKET) or key.text.startswith("{"):
            raise self.fail(f"expected an attribute name before '{op}', found '{key.text}'", key,
                            hint="write company = acme or table[dbms] = demo")
        text = key.text
        if text.startswith("["):
            keys = parse_path(text, key, self.base).keys
        elif "[" in text:
            head, _, rest = text.partition("[")
            keys = (head, *parse_path("[" + rest, key, self.base).keys)
        else:
            keys = (text,)
        if keys[0] is None or keys == ("*",):
            raise self.fail(f"'{text}' names no attribute", key, hint="write name = op1 or [operator][name] = op1")
        wanted = [_literal(value)]
        if op == "with" and value.kind == BRACKET and value.text.startswith("["):
            try:
                listed = safejson.loads(value.text)
            except ValueError:
                raise self.fail(f"'{value.text}' is not a JSON list", value, hint='write with ["a", "b"]') from None
            wanted = [as_text(v) for v in (listed if isinstance(listed, list) else [listed])]
        tests = [_equals(w) for w in wanted]
        match = tests[0] if len(tests) == 1 else (lambda v: any(t(v) for t in tests))
        if len(keys) == 1 and isinstance(keys[0], str):
            attr = keys[0]

            def one(policy: Any) -> bool:
                inner = body_or_none(policy)
                if inner is not None and attr in inner:
                    return match(inner[attr])
                return isinstance(policy, dict) and attr in policy and match(policy[attr])
            self.simple[one] = (attr, tuple(wanted))
            return one

        def test(policy: Any) -> bool:
            if keys[0] == "*":
                found = fan(body_or_none(policy), keys[1:])
            else:
                inner = body_or_none(policy)
                found = fan(inner, keys) if inner is not None else []
                if not found:
                    found = fan(policy, keys)
            return any(match(v) for v in found)

        return test

    def expression_test(self, left: Token, op: str, right: Token) -> Test:
        op = "==" if op == "=" else op
        a, b = self.operand(left), self.operand(right)
        if not _is_path(right):
            test = _against(op, _literal(right))
            return lambda p: test(a(p))
        return lambda p: _compare(a(p), op, b(p))

    def operand(self, tok: Token) -> Callable[[Any], Any]:
        if _is_path(tok):
            return getter(parse_path(tok.text, tok, self.base), True)
        if tok.kind in (GROUP, OP):
            raise self.fail(f"'{tok.text}' is not a value", tok, hint="quote it: \"(a)\"")
        text = _literal(tok)
        return lambda p: text


def _is_path(tok: Token) -> bool:
    return tok.kind == BRACKET and tok.text.startswith("[")


def _literal(tok: Token) -> str:
    if tok.kind == QUOTED and len(tok.text) >= 2:
        return tok.text[1:-1]
    return tok.text


def parse_where(source: str | Sequence[Token], base: int = 0) -> Condition:
    """Parse a ``where`` condition (either form, or both mixed) from text or tokens.

    Tokens keep their offsets in the command line, so errors point at the
    word; ``base`` is added to every offset (for text cut from a longer line).

    Raises:
        CommandSyntaxError: the condition is empty or malformed; the message
            names the word and its column, the hint what would be right.
    """
    if isinstance(source, str):
        tokens, text = tokenize(source), source.strip()
    else:
        tokens, text = list(source), " ".join(t.render() for t in source)
    parser = _Parser(tokens, base)
    test = parser.run()
    return Condition(text, "expression" if parser.expression else "key/value", test, parser.lookups)


# -- selection ---------------------------------------------------------------------


def parse_types(types: str | Iterable[str]) -> frozenset[str] | None:
    """The policy types asked for: ``operator``, ``(operator, query)``, a tuple, or ``*`` (None: every type).

    Raises:
        CommandSyntaxError: no type at all.
    """
    if isinstance(types, str):
        text = types.strip()
        items = text[1:-1].split(",") if text.startswith("(") and text.endswith(")") else [text]
    else:
        items = list(types)
    names = [str(i).strip().lower() for i in items if str(i).strip()]
    if not names:
        raise CommandSyntaxError("no policy type given",
                                 hint="write a type (operator), several ((operator, query)) or *")
    return None if "*" in names else frozenset(names)


def select(policies: Iterable[Any], types: str | Iterable[str] = "*", condition: Condition | None = None) -> list[Any]:
    """The policies of the given types that satisfy ``condition``, in their order."""
    wanted = parse_types(types)
    out = []
    test = condition.test if condition is not None else None
    for policy in policies:
        if not isinstance(policy, dict) or not policy:
            continue
        if wanted is not None:
            kind = next(iter(policy))
            if kind not in wanted and kind.lower() not in wanted:
                continue
        if test is None or test(policy):
            out.append(policy)
    return out


def children_of(policies: Iterable[Any], parents: Iterable[Any]) -> list[Any]:
    """The policies whose ``parent`` is the id of one of ``parents`` (immediate children), in their order."""
    ids = {inner.get("id") for inner in (body_or_none(p) for p in parents) if inner is not None and inner.get("id")}
    return [p for p in policies if (inner := body_or_none(p)) is not None and inner.get("parent") in ids]


def roots_of(policies: Iterable[Any]) -> list[Any]:
    """The root policies: those without a ``parent`` that another policy names as its parent, in ledger order.

    A cluster policy's ``parent`` (a cluster's table extension) does not make
    a root: EdgeLake leaves cluster policies out of its parent index.
    """
    everything = list(policies)
    parents = {inner.get("parent") for p in everything
               if (inner := body_or_none(p)) is not None and next(iter(p)).lower() != "cluster"}
    return [p for p in everything if (inner := body_or_none(p)) is not None and "parent" not in inner
            and inner.get("id") is not None and inner.get("id") in parents]
