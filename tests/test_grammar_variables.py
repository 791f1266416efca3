"""Variable expansion: !name, $NAME, deferral, paths, casts, JSON indexing."""

from __future__ import annotations

import pytest

from anynode.grammar.tokens import tokenize
from anynode.grammar.variables import expand_text, expand_tokens

VARS = {
    "a": "hello", "n": "5", "f": "2.5", "t": "true", "off": "false", "name": "My Company",
    "watch_dir": "/node/data/watch", "host": "edge1", "s": "abcdefgh",
    "d": '{"k": "v", "n": {"x": 1}, "l": [1, 2]}', "l": '["x", "y", "z"]',
}
ENV = {"DOMAIN": "example.com", "REF": "!a", "PORT": "32048"}


def expand(line: str, env: dict[str, str] | None = None) -> list[str]:
    return [t.text for t in expand_tokens(tokenize(line), VARS.get, ENV if env is None else env)]


def one(word: str) -> str:
    (text,) = expand(word)
    return text


@pytest.mark.parametrize("word,value", [
    ("!a", "hello"),
    ("$DOMAIN", "example.com"),
    ("$REF", "hello"),          # an env value that starts with ! is looked up again
    ("!!a", "!a"),              # deferred to the peer
    ("!!n.int", "!n.int"),      # deferred whole, cast included
    ("!!d[k]", "!d[k]"),
    ("!watch_dir/sub/f.json", "/node/data/watch/sub/f.json"),
    ("!host.$DOMAIN", "edge1.example.com"),
    ("$PORT/x", "32048/x"),
    ("x!a", "xhello"),
    ("!a-b", "hello-b"),
    ("mqtt4AnyLog!", "mqtt4AnyLog!"),  # a password from the deployment scripts: no name after !
])
def test_variables_substitute_in_words(word: str, value: str) -> None:
    assert one(word) == value


@pytest.mark.parametrize("word", ["!undefined", "$UNDEFINED_ANYNODE_TEST"])
def test_variables_undefined_is_empty_and_remembered(word: str) -> None:
    (tok,) = expand_tokens(tokenize(word), VARS.get, ENV)
    assert tok.text == ""
    assert tok.missing == (word,)


def test_variables_undefined_inside_a_path_is_remembered() -> None:
    (tok,) = expand_tokens(tokenize("!nope/x.json"), VARS.get, ENV)
    assert tok.missing == ("!nope",)


@pytest.mark.parametrize("word,value", [
    ("!n.int", "5"), ("!f.int", "2"), ("!a.int", ""),
    ("!n.float", "5.0"), ("!f.float", "2.5"),
    ("!t.bool", "true"), ("!off.bool", "false"), ("!a.bool", "true"), ("!undefined.bool", "false"),
    ("!n.str", "5"),
    ("!d.len", "3"), ("!l.len", "3"), ("!s.len", "8"),
    ("!name.name", "my_company"),
    ("!a.txt", "hello.txt"),     # not a cast: a file name
])
def test_variables_casts(word: str, value: str) -> None:
    assert one(word) == value


def test_variables_cast_is_recorded_on_the_token() -> None:
    (tok,) = expand_tokens(tokenize("!n.int"), VARS.get, ENV)
    assert tok.typed == "int"


@pytest.mark.parametrize("word,value", [
    ("!d[k]", "v"), ("!d[n]", '{"x": 1}'), ("!d[n][x]", "1"), ("!d[l][1]", "2"),
    ("!l[0]", "x"), ("!l[2]", "z"), ("!l[9]", ""), ("!d[missing]", ""), ("!a[k]", ""),
    ("!s[1:3]", "bc"), ("!s[:3]", "abc"), ("!s[-2:]", "gh"),
    ("!d[k].len", "1"), ("!l[0].name", "x"),
])
def test_variables_json_indexing_and_slicing(word: str, value: str) -> None:
    assert one(word) == value


@pytest.mark.parametrize("line,expected", [
    ('echo "!a $DOMAIN"', ["echo", "!a $DOMAIN"]),
    ("echo '!a'", ["echo", "'!a'"]),
    ('c = {"parent": "!a"}', ["c", "=", '{"parent": "!a"}']),   # spec 2.4: not substituted in JSON
    ("set policy p [!a] = x", ["set", "policy", "p", "[!a]", "=", "x"]),
])
def test_variables_quoted_text_and_json_are_literal(line: str, expected: list[str]) -> None:
    assert expand(line) == expected


def test_variables_groups_are_expanded() -> None:
    assert expand("run client (!host:$PORT, !a:1)")[-1] == "(edge1:32048, hello:1)"


def test_variables_value_with_spaces_stays_one_word() -> None:
    assert expand("echo !name here") == ["echo", "My Company", "here"]


def test_expand_text_without_references_is_untouched() -> None:
    assert expand_text("plain.int", VARS.get, ENV) == ("plain.int", (), None)


@pytest.mark.parametrize("word", ["!d[missing]", "!l[9]", "!a[k]"])
def test_variables_selector_that_selects_nothing_counts_as_undefined(word: str) -> None:
    # so that `where dbms = !cfg[dbms]` is refused instead of passing an empty value
    (tok,) = expand_tokens(tokenize(word), VARS.get, ENV)
    assert (tok.text, tok.missing) == ("", (word,))
