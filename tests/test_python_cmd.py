"""python <expr>: the safe evaluator EdgeLake's deployment scripts call, and the attacks it must refuse."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from anynode.errors import AnyNodeError, CommandSyntaxError, NotPermitted
from anynode.grammar.dispatch import Source
from anynode.node import Node


@pytest.mark.parametrize("line, expected", [
    ('python !version.split(" ")[0]', "EdgeLake"),
    ('python !ledger_conn.split(":")[0]', "10.0.0.5"),
    ("python int(!a) + int(!b)", "12"),
    ("python int(!a)+1", "6"),
    ('python !opcua_name.strip().replace(" ", "_").replace("-", "_") + "_client.al"', "my_plc_1_client.al"),
    ("python !name.lower()", "op-1 node"),
    ("python !a.int * 2 + !b.float", "17.0"),
    ('python !ledger_conn.split(":")', '["10.0.0.5", "32048"]'),
    ('python !ledger_conn.startswith("10.") and int(!a) > 3', "true"),
    ('python {"k": [1, 2]}["k"][-1]', "2"),
    ('python "x" if !a == "5" else "y"', "x"),
    ("python 'abc'[1:] + \"!a\"", "bc!a"),  # quoted text is literal: no variable in it
    ("python 7 // 2 + 2 ** 3 - 10 % 4", "9"),
    ("python max(len(!name), 3)", "9"),
])
def test_the_forms_the_deployment_scripts_use(node: Node, line: str, expected: str) -> None:
    for name, value in {"version": "EdgeLake Version: 1.3.2501", "ledger_conn": "10.0.0.5:32048", "a": "5",
                        "b": "7", "opcua_name": "  my plc-1 ", "name": "Op-1 Node"}.items():
        node.set_var(name, value)
    assert node.execute(line).to_text() == expected


def test_the_value_is_assigned_and_the_quotes_around_a_value_are_dropped(node: Node) -> None:
    node.execute("ledger_conn = 127.0.0.1:32048")
    node.execute('ip = python !ledger_conn.split(":")[0]')
    assert node.get_var("ip") == "127.0.0.1"
    node.set_var("quoted", "'kept inside'")
    assert node.execute("python !quoted.upper()").to_text() == "KEPT INSIDE"  # AnyLog reads '...' as the text in it


def test_python_after_if_then_and_do_sees_the_variables_as_typed(node: Node, tmp_path: Path) -> None:
    """The deployment scripts call it behind `if ... then` and `do if ... then`: the words reach python unexpanded."""
    script = tmp_path / "s.al"
    script.write_text('env_ledger = 10.1.2.3:32048\n'
                      'if !env_ledger then start = python !env_ledger.split(":")[0]\n'
                      'if not !env_ledger then other = 1 else other = python !env_ledger.split(":")[1]\n'
                      'if !env_ledger\n'
                      'do if !env_ledger then again = python !env_ledger.split(":")[0] + "!"\n')
    node.execute(f"process {script}")
    assert (node.get_var("start"), node.get_var("other"), node.get_var("again")) == ("10.1.2.3", "32048", "10.1.2.3!")


@pytest.mark.parametrize("value", [
    "x') + __import__('os').system('touch PWNED') + ('",
    'x" + __import__("os").system("touch PWNED") + "',
    "x''' + open('PWNED', 'w').write('x') + '''y",
    "\\' + str(1) + \\'",
    "!other",
])
def test_a_value_is_a_string_whatever_it_holds(node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               value: str) -> None:
    monkeypatch.chdir(tmp_path)
    node.set_var("v", value)
    node.set_var("other", "should not be read")
    assert node.execute("python !v").to_text() == value
    assert node.execute("python len(!v)").to_text() == str(len(value))
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("expr, message", [
    ('__import__("os").system("id")', "only the functions"),
    ("().__class__.__bases__[0].__subclasses__()", "attribute '.__bases__' is not allowed"),
    ('"x".__class__', "attribute '.__class__' is not allowed"),
    ('"x".__len__()', "no method '__len__'"),
    ('"{0.__class__}".format(1)', "no method 'format'"),
    ('"x".encode()', "no method 'encode'"),
    ("[1].append(2)", "no method 'append'"),
    ("{}.update(a=1)", "no method 'update'"),
    ("(1).real", "attribute '.real' is not allowed"),
    ("getattr", "unknown name 'getattr'"),
    ("open('/etc/passwd')", "only the functions int, float, str"),
    ("eval('1')", "only the functions int, float, str"),
    ("lambda: 1", "lambda is not allowed"),
    ("[x for x in 'ab']", "a comprehension is not allowed"),
    ("{x: 1 for x in 'ab'}", "a comprehension is not allowed"),
    ("(x for x in 'ab')", "a generator is not allowed"),
    ('f"{1}"', "an f-string is not allowed"),
    ("(y := 1)", "':=' is not allowed"),
    ('"%s" % "x"', "'%' formatting"),
    ("1 << 100000", "'<<' is not allowed"),
    ("x", "unknown name 'x'"),
    ("len", "'len' can only be called"),
    ("b'x'", "a bytes literal is not allowed"),
    ("1; 2", "not an expression"),
    ("import os", "not an expression"),
    ("1 is 1", "'is' is not allowed"),
    ("{1, 2}", "a set is not allowed"),
    ("int(*[1])", "'*' and '**' in a call"),
    ("!!x", "means nothing here"),
    ("!undefined_var.upper()", "variable '!undefined_var' is not defined"),
    ("!a.int", "not a number"),
    ("(" * 300 + "1" + ")" * 300, "not an expression"),
    ("-" * 5000 + "1", "nested too deeply"),
])
def test_what_is_not_allowed_is_refused_with_a_one_line_error(node: Node, expr: str, message: str) -> None:
    node.set_var("a", "five")
    with pytest.raises(CommandSyntaxError) as err:
        node.execute(f"python {expr}")
    assert message in err.value.one_line() and "\n" not in err.value.one_line()


@pytest.mark.parametrize("expr, message", [
    ('"a" * 10**9', "repeating makes a value larger"),
    ("[0] * 10**9", "repeating makes a value larger"),
    ("[[1] * 1000] * 1000", "repeating makes a value larger"),
    ("9 ** 9 ** 9", "a power above 10000 bits"),
    ("2 ** 20000", "a power above 10000 bits"),
    ("(2 ** 9000) * (2 ** 9000)", "a number above 10000 bits"),
    ('("a" * 1000).replace("a", "b" * 10000)', "replace() makes text longer"),
    ('"x".center(10**9)', "center() to more than"),
    ('"x".zfill(10**9)', "zfill() to more than"),
    ('("ab" * 1000).join(["c" * 100] * 1000)', "join() makes text longer"),
    ('"a" * 600000 + "b" * 600000', "joining makes a value larger"),
    ("sum([[1], [2]], [])", "sum() adds numbers only"),
    ("1 / 0", "ZeroDivisionError"),
    ("[1, 2][5]", "IndexError"),
    ('{"a": 1}["b"]', "KeyError"),
    ('int("nine")', "ValueError"),
    ('int("9" * 5000)', "ValueError"),
    ("10.0 ** 400", "OverflowError"),
    ('"a" + 1', "TypeError"),
    ("(1)[0]", "a int cannot be indexed"),
])
def test_huge_values_fail_fast_and_failures_are_one_line(node: Node, expr: str, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(AnyNodeError) as err:
        node.execute(f"python {expr}")
    assert time.monotonic() - started < 1.0
    assert err.value.one_line().startswith("python: ") and message in err.value.one_line()


def test_a_value_read_from_a_secret_is_secret(node: Node) -> None:
    node.execute("db_password = s3cret-value-99")
    node.execute("shown = python !db_password.upper()")
    assert node.get_var("shown") == "S3CRET-VALUE-99"
    dictionary = node.execute("get dictionary where format = json").to_json()
    assert json.dumps(dictionary).count("****") >= 2 and "S3CRET" not in json.dumps(dictionary)


@pytest.mark.parametrize("source", [Source.REST, Source.REMOTE])
def test_peers_and_rest_clients_may_not_run_it(node: Node, source: Source) -> None:
    node.execute("db_password = s3cret-value-99")
    assert node.registry.get("python").remote is False
    with pytest.raises(NotPermitted, match="'python' may not be run by a peer or a REST client"):
        node.execute("python !db_password[0:6]", source=source)
