"""Real AnyLog command lines (tests/data/anylog_lines.py) through our
tokenizer, variable expansion and parser.

The tokens are checked for every line now. The parse is checked for the
commands declared in the registry; a line whose command is not declared yet
is skipped with "not declared yet: <command>", so it becomes a real check as
soon as someone declares the command.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from anynode import errors
from anynode.grammar.parser import parse
from anynode.grammar.tokens import Token, tokenize
from tests.data.anylog_lines import LINES
from tests.helpers import logical


def _id(entry: dict[str, Any]) -> str:
    return f"{entry['source'][1].rsplit('/', 1)[-1]}: {entry['line'][:60]}"


PARSED = [e for e in LINES if "error" not in e]


def test_corpus_is_large_and_cited() -> None:
    assert len(LINES) >= 60
    for entry in LINES:
        repo, path = entry["source"]
        assert repo in ("AnyLog-co/documentation", "EdgeLake/deployment-scripts") and path
        assert "tokens" in entry or "error" in entry


@pytest.mark.parametrize("entry", LINES, ids=[_id(e) for e in LINES])
def test_corpus_tokens(entry: dict[str, Any]) -> None:
    text = logical(entry)
    if "error" in entry:
        kind, offset = entry["error"]
        with pytest.raises(getattr(errors, kind)) as err:
            tokenize(text)
        assert err.value.offset == offset
    else:
        assert [t.text for t in tokenize(text)] == entry["tokens"]


def _same(actual: Any, expected: Any) -> bool:
    """Equal, allowing a command to keep a value as text or convert it."""
    if hasattr(actual, "dests"):  # run client destinations: compare the addresses
        actual = list(actual.dests)
    if isinstance(expected, bool):
        return actual is expected or str(actual).lower() == str(expected).lower()
    if isinstance(expected, (int, float)):
        try:
            return float(actual) == float(expected)
        except (TypeError, ValueError):
            return False
    if isinstance(expected, list):
        return isinstance(actual, (list, tuple)) and len(actual) == len(expected) and all(
            _same(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(expected, dict):
        return (json.loads(actual) if isinstance(actual, str) else actual) == expected
    return str(actual) == expected


def _after_assignment(tokens: list[Token]) -> list[Token]:
    if len(tokens) > 2 and tokens[1].is_op("="):
        return tokens[2:]
    if len(tokens) > 3 and tokens[0].is_word("set") and tokens[2].is_op("="):
        return tokens[3:]
    return tokens


def _nested(name: str, rest: list[Token]) -> list[Token]:
    """The command an if/do/else line runs."""
    if name == "if":
        then = next(i for i, t in enumerate(rest) if t.is_word("then"))
        action = rest[then + 1:]
        other = next((i for i, t in enumerate(action) if t.is_word("else")), len(action))
        rest = action[:other]
    if rest and rest[0].is_word("if"):
        return _nested("if", rest[1:])
    return _after_assignment(rest)


def _check(node: Any, expect: dict[str, Any], tokens: list[Token]) -> None:
    words = expect.get("command")
    if "error" in expect or "parse_error" in expect:
        with pytest.raises(getattr(errors, expect.get("error") or expect["parse_error"])):
            parse(tokens, node.registry, lenient=True)
        return
    spec = node.registry.get(words)
    if spec is None:
        pytest.skip(f"not declared yet: {words}")
    inv = parse(tokens, node.registry, lenient=True)
    assert inv.spec.name == words
    for value in expect.get("args", []):
        assert any(_same(v, value) for v in inv.kwargs.values()), f"no argument {value!r} in {inv.kwargs}"
    for name, value in expect.get("options", {}).items():
        opt = spec.option(name)
        assert opt is not None, f"'{words}' has no option '{name}'"
        assert _same(inv.kwargs[opt.param], value), f"{name}: {inv.kwargs[opt.param]!r} != {value!r}"
    if "then" in expect:
        _check(node, expect["then"], _nested(spec.name, inv.rest))


@pytest.mark.parametrize("entry", PARSED, ids=[_id(e) for e in PARSED])
def test_corpus_parses(node, entry: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    for name, value in entry.get("vars", {}).items():
        node.set_var(name, value)
    text = logical(entry)
    if "stores" in entry:
        name, value = entry["stores"]
        node.set_var(name, "old value")
        assert node.execute(text).to_text() == ""
        assert node.get_var(name) == value
        return
    tokens = _after_assignment(node.context().expand(tokenize(text)))
    _check(node, entry, tokens)
    if "output" in entry:
        assert node.execute(text).to_text() == entry["output"]
