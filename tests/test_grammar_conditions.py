"""Conditions of `if`: comparisons, text and numbers, and/or, not, groups;
`if ... then ... else`, `do`/`else` lines, `r = if ...`."""

from __future__ import annotations

import pytest

from anynode.errors import CommandSyntaxError
from anynode.grammar.conditions import compare, evaluate, truthy
from anynode.grammar.tokens import tokenize


@pytest.mark.parametrize("left,op,right,result", [
    ("10", ">", "3", True),        # numbers, although they are text (EdgeLake bug #12: "10" > "3" is false)
    ("5", "<", "10", True),
    ("5.0", "==", "5", True),
    ("-2", "<", "1e1", True),
    ("007", "==", "7", True),
    ("hello", "==", "HELLO", True),   # text ignores case, as AnyLog
    ("abc", "<", "abd", True),
    ("abc", "!=", "ABC", False),
    ("b", ">=", "B", True),
    ("10", ">", "9x", False),          # one side is not a number: text comparison
    ("nan", "==", "NaN", True),        # not numbers here (float('nan') != float('nan'))
    ("inf", "==", "infinity", False),
    ("1_000", "==", "1000", False),
    ("Operator", "contains", "PER", True),
    ("operator", "contains", "xyz", False),
    ("Operator", "startswith", "op", True),
    ("operator", "endswith", "TOR", True),
    ("operator", "endswith", "op", False),
])
def test_conditions_compare(left: str, op: str, right: str, result: bool) -> None:
    assert compare(left, op, right) is result


@pytest.mark.parametrize("value,result", [("", False), ("false", False), ("FALSE", False), ("0", False),
                                          ("x", True), ("true", True), ("1", True), ("  ", False)])
def test_conditions_bare_value(value: str, result: bool) -> None:
    assert truthy(value) is result


@pytest.mark.parametrize("text,result", [
    ("1 == 1 and 2 == 2", True),
    ("1 == 1 and 2 == 3", False),
    ("1 == 2 or 2 == 2", True),
    ("1 == 2 and 3 == 3 or 1 == 1", True),     # left to right
    ("not 1 == 2", True),
    ("not x", False),
    ("(1 == 2) or (3 == 3)", True),
    ("(1 == 1 and 2 == 3) or (4 == 5)", False),
    ("((1 == 1) and (2 == 2))", True),
    ("My Company == my company", True),         # operands may be several words
    ("x", True),
])
def test_conditions_evaluate(text: str, result: bool) -> None:
    assert evaluate(tokenize(text)) is result


@pytest.mark.parametrize("text", ["", "== 3", "3 =="])
def test_conditions_malformed_is_an_error(text: str) -> None:
    with pytest.raises(CommandSyntaxError):
        evaluate(tokenize(text))


# -- through the node -----------------------------------------------------------

@pytest.mark.parametrize("setup,line,out", [
    ("x = 10", "if !x > 3 then echo yes else echo no", "yes"),
    ("x = 5", "if !x > 3 and !x < 10 then echo inside", "inside"),      # spec 2.6 trap, fixed
    ("x = 5", "if !x.int > 3 and !x.int < 10 then echo inside", "inside"),
    ("x = 9", "if !x < 10 then echo yes else echo no", "yes"),
    ("a = Hello", "if !a == HELLO then echo same", "same"),
    ("a = hello", "if !a contains ell then echo c", "c"),
    ("a = hello", "if not !a then echo empty else echo full", "full"),
    ("a = hello", "if !undefined then echo t else echo f", "f"),
    ("a = hello", "if not !undefined then echo missing", "missing"),
    ("a = hello", "if !a == bye then echo x", ""),
    ("a = hello", "if !a == hello then echo x y  z", "x y z"),
    ("a = hello", 'if !a == hello then echo "two  spaces"', "two  spaces"),
    ("a = hello", "if (!a == hello or !a == hi) and 1 == 1 then echo grp", "grp"),
    ("a = hello", "if 1 == 1 then if 2 == 2 then echo nested", "nested"),
])
def test_if_then_else_on_one_line(run, setup: str, line: str, out: str) -> None:  # type: ignore[no-untyped-def]
    run(setup)
    assert run(line) == out


def test_if_then_runs_an_assignment(run) -> None:  # type: ignore[no-untyped-def]
    run("a = hello")
    run("b = world")
    run('if !a == hello then name = !a + " " + !b else name = nobody')
    assert run("!name") == "hello world"
    run("if !a == bye then name = x else name = nobody")
    assert run("!name") == "nobody"


def test_if_without_then_returns_and_records_the_outcome(run, node) -> None:  # type: ignore[no-untyped-def]
    assert run("if 1 == 2") == "false"
    assert node.session.last_if is False
    assert run("if 1 == 1") == "true"
    assert node.session.last_if is True


def test_if_then_with_nothing_after_records_for_do_and_else(run) -> None:  # type: ignore[no-untyped-def]
    assert run("if 1 == 1 then") == ""
    assert run("do echo done") == "done"
    assert run("else echo other") == ""
    run("if 1 == 2 then")
    assert run("do echo done") == ""
    assert run("else echo other") == "other"
    assert run("else if 3 == 3 then echo chained") == "chained"


def test_do_without_if_is_refused(node) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandSyntaxError, match="without an 'if'"):
        node.execute("do echo x")


def test_if_assigned_stores_true_or_false(run) -> None:  # type: ignore[no-untyped-def]
    run("x = 10")
    run("r = if !x > 3")
    assert run("!r") == "true"
    run("r = if !x > 30")
    assert run("!r") == "false"


def test_if_needs_a_condition(node) -> None:  # type: ignore[no-untyped-def]
    for line in ("if", "if then echo x"):
        with pytest.raises(CommandSyntaxError, match="needs a condition"):
            node.execute(line)
