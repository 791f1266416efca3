"""The tokenizer: AnyLog's observed tokens (spec 2.1), errors with offsets,
``&`` between commands, comments."""

from __future__ import annotations

import pytest

from anynode.errors import CommandSyntaxError
from anynode.grammar.tokens import (
    BRACKET,
    GROUP,
    OP,
    QUOTED,
    STRING,
    WORD,
    Token,
    is_complete,
    join_tokens,
    split_commands,
    tokenize,
)


def texts(line: str) -> list[str]:
    return [t.text for t in tokenize(line)]


# Every row of spec 2.1 "Observed results": EdgeLake's tokens for the line.
OBSERVED = [
    ("a = hello world", ["a", "=", "hello", "world"]),
    ('x = !a + " " + !b', ["x", "=", "!a", "+", " ", "+", "!b"]),
    ("if !a==3 then echo ok", ["if", "!a", "==", "3", "then", "echo", "ok"]),
    ("run client (10.0.0.1:2048, 10.0.0.2:2048) get status",
     ["run", "client", "(10.0.0.1:2048, 10.0.0.2:2048)", "get", "status"]),
    ("run client () sql demo format = table \"select * from t where a = 'x'\"",
     ["run", "client", "()", "sql", "demo", "format", "=", "table", "select * from t where a = 'x'"]),
    ("echo \"hello   world\" 'single  q' `back tick`", ["echo", "hello   world", "'single  q'", "`back tick`"]),
    ("set policy p [config][name] = !n", ["set", "policy", "p", "[config][name]", "=", "!n"]),
    ('blockchain insert where policy = {"a": {"b": 1, "c": [1,2]}} and local = true',
     ["blockchain", "insert", "where", "policy", "=", '{"a": {"b": 1, "c": [1,2]}}', "and", "local", "=", "true"]),
    ('run msg client where broker = local and topic = (name = t1 and dbms = "bring [dbms]")',
     ["run", "msg", "client", "where", "broker", "=", "local", "and", "topic", "=",
      '(name = t1 and dbms = "bring [dbms]")']),
    ("nodes_stat[] = run client (10.0.0.1:32148) get status",
     ["nodes_stat[]", "=", "run", "client", "(10.0.0.1:32148)", "get", "status"]),
    ("get status # a comment", ["get", "status"]),
]


@pytest.mark.parametrize("line,expected", OBSERVED, ids=[row[0][:40] for row in OBSERVED])
def test_tokens_match_edgelake_observed_results(line: str, expected: list[str]) -> None:
    assert texts(line) == expected


@pytest.mark.parametrize("line,expected", [
    ("a=b", ["a", "=", "b"]),
    ("a==b", ["a", "==", "b"]),
    ("a!=b", ["a", "!=", "b"]),
    ("a<=b", ["a", "<=", "b"]),
    ("a>=b", ["a", ">=", "b"]),
    ("a<b", ["a", "<", "b"]),
    ("a>b", ["a", ">", "b"]),
    ("a+b", ["a", "+", "b"]),
    ("!a", ["!a"]),
    ("x -> y", ["x", "->", "y"]),
    ("a#b c", ["a#b", "c"]),
    ("[a][b]", ["[a][b]"]),
    ("[tags][name]:[tags][host]", ["[tags][name]:[tags][host]"]),
    ("count(*) max(a)", ["count(*)", "max(a)"]),
    ("echo don't stop", ["echo", "don't", "stop"]),
    ("\tget\t status  ", ["get", "status"]),
])
def test_tokens_operators_and_words(line: str, expected: list[str]) -> None:
    assert texts(line) == expected


def test_tokens_kinds_and_offsets() -> None:
    toks = tokenize("""set x = "a b" 'c' (d) {"e": 1} [f] g""")
    assert [(t.kind, t.start) for t in toks] == [
        (WORD, 0), (WORD, 4), (OP, 6), (STRING, 8), (QUOTED, 14), (GROUP, 18), (BRACKET, 22), (BRACKET, 31),
        (WORD, 35)]
    assert toks[3].end == 13


def test_tokens_double_quotes_removed_and_escaped_quote_kept() -> None:
    assert texts(r'echo "say \"hi\""') == ["echo", 'say "hi"']


def test_tokens_empty_string_is_a_token() -> None:
    toks = tokenize('k = ""')
    assert [(t.text, t.kind) for t in toks][-1] == ("", STRING)


def test_tokens_brackets_nest_and_respect_quotes() -> None:
    assert texts('x = {"a": "}", "b": [1, {"c": ")"}]} y') == ["x", "=", '{"a": "}", "b": [1, {"c": ")"}]}', "y"]


@pytest.mark.parametrize("line,culprit", [
    ('echo "abc', 5),
    ("echo 'abc", 5),
    ("echo `abc", 5),
    ("run client (10.0.0.1:2048 get status", 11),
    ("x = [1, 2", 4),
    ('policy = {"a": 1', 9),
    ("x = {a]", 6),
    ("echo a b)", 8),
    ("echo [x]] y", 8),
    ('echo (a "b)', 8),
])
def test_tokens_unmatched_quote_or_bracket_names_its_offset(line: str, culprit: int) -> None:
    with pytest.raises(CommandSyntaxError) as err:
        tokenize(line)
    assert err.value.offset == culprit
    assert f"column {culprit + 1}" in err.value.message


@pytest.mark.parametrize("line", ["# only a comment", "   ", "", "  # indented comment"])
def test_tokens_comment_or_blank_line_gives_nothing(line: str) -> None:
    assert tokenize(line) == []


def test_tokens_hash_inside_quotes_or_word_is_kept() -> None:
    assert texts('echo "a # b" x#y # gone') == ["echo", "a # b", "x#y"]


@pytest.mark.parametrize("line,expected", [
    ("echo a & echo b", [("echo a", 0), ("echo b", 9)]),
    ("a & b & c", [("a", 0), ("b", 4), ("c", 8)]),
    ('x = "a & b" & y', [('x = "a & b"', 0), ("y", 14)]),
    ("echo 'a & b'", [("echo 'a & b'", 0)]),
    ("echo (a & b) & c", [("echo (a & b)", 0), ("c", 15)]),
    ('policy = {"k": "a & b"}', [('policy = {"k": "a & b"}', 0)]),
    ("echo count(a & b)", [("echo count(a & b)", 0)]),
    ("a&b", [("a&b", 0)]),
    ("& a &", [("a", 2)]),
    ("echo x # & y", [("echo x", 0)]),
    ("echo don't & echo x", [("echo don't", 0), ("echo x", 13)]),
])
def test_split_commands_only_on_lone_ampersand_outside_quotes(line: str, expected: list[tuple[str, int]]) -> None:
    # EdgeLake splits inside quotes too (spec 14 #10); we do not.
    assert split_commands(line) == expected


def test_split_commands_unmatched_quote_is_an_error() -> None:
    with pytest.raises(CommandSyntaxError):
        split_commands('echo "a & b')


@pytest.mark.parametrize("text,complete", [
    ('p = {"a": 1,', False), ('p = {"a": 1, "b": [1,', False), ('p = {"a": 1}', True), ('echo "open', False),
    ("echo fine", True)])
def test_is_complete_tells_when_brackets_and_quotes_close(text: str, complete: bool) -> None:
    assert is_complete(text) is complete


@pytest.mark.parametrize("line", [
    'echo "two  spaces" and `tick` \'q\'',
    'set policy p [config][name] = "my node"',
    'x = "" + "#hash" + "=" + "(x"',
    "run client (a:1, b:2) get status where format = json",
    'k = {"a": [1, "x y"]}',
])
def test_join_tokens_round_trips(line: str) -> None:
    toks = tokenize(line)
    again = tokenize(join_tokens(toks))
    assert [(t.text, t.kind) for t in again] == [(t.text, t.kind) for t in toks]


def test_token_is_word_is_case_insensitive_and_only_for_words() -> None:
    assert Token("WHERE", WORD, 0, 5).is_word("where")
    assert not Token("where", STRING, 0, 7).is_word("where")
