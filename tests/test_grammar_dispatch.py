"""Dispatch: assignments, set, environment variables, concatenation, JSON
objects, printing a variable, several commands on a line, remote sources."""

from __future__ import annotations

import os

import pytest

from anynode.errors import CommandNotFound, CommandSyntaxError, NotPermitted
from anynode.grammar.dispatch import Batch, Source
from anynode.results import Empty, Json, Message


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Environment variables the test may set; each is removed afterwards."""
    names = ["ANYNODE_T_ONE", "ANYNODE_T_TWO", "NYNODE_T_TWO"]
    for name in names:
        monkeypatch.delenv(name, raising=False)
    yield names
    for name in names:
        os.environ.pop(name, None)


def test_assign_joins_words_with_single_spaces(run, node) -> None:  # type: ignore[no-untyped-def]
    assert run("k = v1   v2") == ""
    assert node.get_var("k") == "v1 v2"
    run("d = 30 seconds")
    assert node.get_var("d") == "30 seconds"


def test_assign_quoted_value_keeps_its_spaces(run, node) -> None:  # type: ignore[no-untyped-def]
    run('company_name = "New  Company"')
    assert node.get_var("company_name") == "New  Company"


def test_assign_without_spaces_around_equal(run, node) -> None:  # type: ignore[no-untyped-def]
    run("tcp_threads=6")
    assert node.get_var("tcp_threads") == "6"


@pytest.mark.parametrize("delete", ['k = ""', "k = ''", 'set k = ""', "k = !never_set"])
def test_assign_empty_value_deletes(run, node, delete: str) -> None:  # type: ignore[no-untyped-def]
    run("k = v")
    run(delete)
    assert node.get_var("k") is None
    assert "k" not in node.variables()


def test_set_assigns_even_over_a_command_name(run, node) -> None:  # type: ignore[no-untyped-def]
    run("set k = w")
    assert node.get_var("k") == "w"
    run("set debug_mode=true")
    assert node.get_var("debug_mode") == "true"


@pytest.mark.parametrize("line", ["set $ANYNODE_T_ONE = hello", "$ANYNODE_T_ONE = hello"])
def test_assign_dollar_sets_the_named_environment_variable(run, env, line: str) -> None:  # type: ignore[no-untyped-def]
    run(line)
    assert os.environ.get("ANYNODE_T_ONE") == "hello"


def test_assign_dollar_does_not_strip_a_letter(run, env) -> None:  # type: ignore[no-untyped-def]
    # EdgeLake bug #2: `$NEWENV = abc` sets EWENV.
    run("$ANYNODE_T_TWO = abc")
    assert os.environ.get("ANYNODE_T_TWO") == "abc"
    assert "NYNODE_T_TWO" not in os.environ
    assert run("echo $ANYNODE_T_TWO") == "abc"


def test_assign_dollar_empty_removes_the_environment_variable(run, env) -> None:  # type: ignore[no-untyped-def]
    run("$ANYNODE_T_ONE = x")
    run('$ANYNODE_T_ONE = ""')
    assert "ANYNODE_T_ONE" not in os.environ


def test_assign_command_stores_its_text(run, node) -> None:  # type: ignore[no-untyped-def]
    run("set node name op1")
    run("z = get status")
    assert node.get_var("z") == run("get status")
    assert node.get_var("z").startswith("op1@")
    run("ver = get version")
    assert node.get_var("ver").startswith("anynode version")


def test_assign_failing_command_raises_and_leaves_the_variable(run, node) -> None:  # type: ignore[no-untyped-def]
    run("z = old")
    with pytest.raises(CommandSyntaxError):
        run("z = get status where format = yaml")
    assert node.get_var("z") == "old"


@pytest.mark.parametrize("line,value", [
    ('c = !a + " " + !b', "hello world"),
    ("c = !a + !b", "helloworld"),
    ("c = !a + - + !b + -configs", "hello-world-configs"),
    ("c = 1 + 2", "12"),                       # parts are text (spec 2.4)
    ('c = !a + ":" + !port', "hello:32048"),
])
def test_assign_concatenation(run, node, line: str, value: str) -> None:  # type: ignore[no-untyped-def]
    run("a = hello")
    run("b = world")
    run("port = 32048")
    run(line)
    assert node.get_var("c") == value


def test_concatenation_alone_prints(run) -> None:  # type: ignore[no-untyped-def]
    run("a = hello")
    run("b = world")
    assert run('!a + " " + !b') == "hello world"


def test_assign_json_object_then_keys(run, node) -> None:  # type: ignore[no-untyped-def]
    run("d = {}")
    run("d[k1] = v1")
    run("d[k2] = two words")
    assert node.get_var("d") == '{"k1": "v1", "k2": "two words"}'
    assert run("!d[k2]") == "two words"
    run('d[k1] = ""')
    assert node.get_var("d") == '{"k2": "two words"}'


def test_assign_key_of_non_json_is_refused_with_hint(run) -> None:  # type: ignore[no-untyped-def]
    run("t = text")
    with pytest.raises(CommandSyntaxError) as err:
        run("t[k] = v")
    assert "t = {}" in err.value.hint


def test_assign_json_literal_is_kept_as_text(run, node) -> None:  # type: ignore[no-untyped-def]
    run('c = {"k": "v", "n": 3}')
    assert node.get_var("c") == '{"k": "v", "n": 3}'


@pytest.mark.parametrize("line,out", [("!a", "hello"), ("!undefined", ""), ("!a.len", "5")])
def test_variable_alone_prints_its_value(run, line: str, out: str) -> None:  # type: ignore[no-untyped-def]
    run("a = hello")
    assert run(line) == out


def test_dollar_alone_prints_environment(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANYNODE_T_ONE", "from-env")
    assert run("$ANYNODE_T_ONE") == "from-env"


def test_several_commands_on_a_line(node) -> None:  # type: ignore[no-untyped-def]
    result = node.execute("k = v & echo !k & echo 'a & b'")
    assert isinstance(result, Batch)
    assert [r.to_text() for r in result.results] == ["", "v", "'a & b'"]
    assert result.to_text() == "v\n'a & b'"


def test_error_offset_in_second_command_counts_from_line_start(node) -> None:  # type: ignore[no-untyped-def]
    line = "echo ok & get status where formt = json"
    with pytest.raises(CommandSyntaxError) as err:
        node.execute(line)
    assert err.value.offset == line.index("formt")


def test_command_cannot_start_with_an_operator(node) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandSyntaxError, match="cannot start with '='"):
        node.execute("= 3")


def test_unknown_command_did_you_mean(node) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandNotFound) as err:
        node.execute("get statu")
    assert "'get status'" in err.value.hint


def test_results_are_typed(node) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(node.execute("k = v"), Empty)
    assert isinstance(node.execute("echo x"), Message)
    assert isinstance(node.execute("get status where format = json"), Json)
    assert isinstance(node.execute("# nothing"), Empty)


# -- remote sources -------------------------------------------------------------

@pytest.mark.parametrize("source", [Source.REMOTE, Source.REST])
@pytest.mark.parametrize("line", [
    "k = v", "set k = v", "$ANYNODE_T_ONE = v", "d[k] = v", "k = get status",
    "set node name evil", "exit node", "create work directories", "if 1 == 1 then echo x", "process /tmp/x.al",
])
def test_remote_source_refused_for_local_commands_and_assignments(node, env, source: Source,  # type: ignore[no-untyped-def]
                                                                  line: str) -> None:
    with pytest.raises(NotPermitted):
        node.execute(line, source)
    assert node.get_var("k") is None
    assert node.name == "anynode"
    assert not node.exit_event.is_set()
    assert "ANYNODE_T_ONE" not in os.environ


@pytest.mark.parametrize("source", [Source.REMOTE, Source.REST])
def test_remote_source_allowed_for_remote_commands(node, source: Source) -> None:  # type: ignore[no-untyped-def]
    assert node.execute("get status", source).to_text().endswith("running")
    assert node.execute("get version", source).to_text().startswith("anynode version")
    assert "get status" in node.execute("help", source).to_text()


def test_remote_source_does_not_touch_the_session_if_state(node) -> None:  # type: ignore[no-untyped-def]
    node.execute("if 1 == 2")
    with pytest.raises(NotPermitted):
        node.execute("if 1 == 1", Source.REMOTE)
    assert node.session.last_if is False


# -- a line run again (its parse is kept) -----------------------------------------

def test_a_repeated_line_answers_each_caller_in_its_format(node) -> None:  # type: ignore[no-untyped-def]
    node.fmt = "json"  # anynode --format json
    for _ in range(2):
        assert isinstance(node.execute("get status"), Json)
        assert isinstance(node.execute("get status", Source.REST), Message)


def test_a_repeated_line_reads_variables_each_time(node, run) -> None:  # type: ignore[no-untyped-def]
    for fmt, kind in (("json", Json), ("table", Message), ("json", Json)):
        run(f'f = "{fmt}"')
        assert isinstance(node.execute("get status where format = !f"), kind)
    run("set node name first")
    assert run("get status").startswith("first@")
    run("set node name second")
    assert run("get status").startswith("second@")


def test_a_repeated_bad_line_fails_every_time(node) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2):
        with pytest.raises(CommandSyntaxError, match="xml"):
            node.execute("get status where format = xml")
        with pytest.raises(CommandNotFound):
            node.execute("get statuz")


def test_a_line_run_locally_is_still_refused_to_a_peer(node) -> None:  # type: ignore[no-untyped-def]
    node.execute("create work directories")
    with pytest.raises(NotPermitted):
        node.execute("create work directories", Source.REMOTE)
