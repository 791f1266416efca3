"""The parser: command lookup, positional arguments, where options, types and
the errors a user sees (message, hint, offset of the word)."""

from __future__ import annotations

from typing import Any

import pytest

from anynode.errors import CommandNotFound, CommandSyntaxError, ValidationError
from anynode.grammar.parser import Invocation, parse
from anynode.grammar.registry import Registry
from anynode.grammar.spec import Arg, CommandSpec, Opt
from anynode.grammar.tokens import tokenize
from anynode.grammar.types import (
    BOOL,
    SECONDS,
    TEXT,
    Choice,
    Destinations,
    HostPort,
    Int,
    JsonValue,
    Port,
    Seconds,
    Storage,
    Words,
)
from anynode.grammar.variables import expand_tokens


def _handler(ctx: Any, **kwargs: Any) -> Any:
    return kwargs


def _spec(words: str, **kw: Any) -> CommandSpec:
    return CommandSpec(words=tuple(words.split()), handler=_handler, summary="A test command.", **kw)


SPECS = [
    _spec("run", args=(Arg("what", TEXT),)),
    _spec("run scheduler", args=(Arg("id", Int(0), required=False, default=1),)),
    _spec("run tcp server", options=(
        Opt("external ip"), Opt("external port", Port()), Opt("internal_ip"), Opt("internal_port", Port()),
        Opt("bind", BOOL, default=False), Opt("threads", Int(1, 100), default=6))),
    _spec("run blockchain sync", options=(
        Opt("source", Choice("master", "blockchain"), required=True), Opt("time", SECONDS, required=True),
        Opt("dest", Choice("file", "dbms"), multiple=True), Opt("connection", HostPort()))),
    _spec("set buffer threshold", options=(Opt("time", Seconds()), Opt("volume", Storage()),
                                           Opt("write_immediate", BOOL))),
    _spec("run client", args=(Arg("dest", Destinations()), Arg("command", Words()))),
    _spec("blockchain insert", options=(Opt("policy", JsonValue(), required=True), Opt("local", BOOL))),
    _spec("set node name", args=(Arg("name", TEXT),)),
]
REGISTRY = Registry({s.words: s for s in SPECS})
VARS = {"ip": "10.0.0.1", "port": "32048", "ledger_conn": "10.0.0.9:32048", "sync": "30 seconds", "n": "3"}


def p(line: str, lenient: bool = False, registry: Registry = REGISTRY) -> Invocation:
    return parse(expand_tokens(tokenize(line), VARS.get, {}), registry, lenient=lenient)


def fails(line: str, kind: type = CommandSyntaxError) -> Any:
    with pytest.raises(kind) as err:
        p(line)
    return err.value


# -- command lookup ---------------------------------------------------------

@pytest.mark.parametrize("line,name", [
    ("run tcp server", "run tcp server"),
    ("run scheduler 2", "run scheduler"),
    ("run blockchain sync where source = master and time = 1 minute", "run blockchain sync"),
    ("run tcp", "run"),                 # no 'run tcp': the shorter command takes 'tcp' as its argument
    ("RUN TCP Server", "run tcp server"),
])
def test_parser_longest_match_wins(line: str, name: str) -> None:
    assert p(line).spec.name == name


def test_parser_unknown_command_suggests_the_close_one() -> None:
    err = fails("run tcp servr where threads = 3", CommandSyntaxError)   # 'run' takes 'tcp', then 'servr' is extra
    assert err.offset == 8
    err = fails("rn tcp server", CommandNotFound)
    assert "did you mean 'run tcp server'" in err.hint
    assert err.offset == 0


# -- positional arguments ------------------------------------------------------

def test_parser_positional_argument_is_converted() -> None:
    assert p("run scheduler 7").kwargs == {"id": 7}
    assert p("run scheduler").kwargs == {"id": 1}


def test_parser_positional_argument_bad_value_names_argument_and_accepts() -> None:
    err = fails("run scheduler -1", ValidationError)
    assert "<id>" in err.message and "run scheduler" in err.message
    assert "at least 0" in err.hint
    assert err.offset == 14


def test_parser_missing_required_argument() -> None:
    err = fails("set node name")
    assert "needs <name>" in err.message
    assert "set node name <name>" in err.hint


def test_parser_rest_argument_keeps_tokens_for_nested_command() -> None:
    inv = p('run client (10.0.0.1:2048, !ip:!port) get status where format = "json"')
    assert list(inv.kwargs["dest"].dests) == ["10.0.0.1:2048", "10.0.0.1:32048"]
    assert inv.kwargs["command"].source == "get status where format = \"json\""
    assert inv.kwargs["command"].text == "get status where format = json"


def test_parser_extra_word_after_command_is_refused_with_usage() -> None:
    err = fails("run tcp server now")
    assert "unexpected 'now'" in err.message
    assert err.hint.startswith("usage: run tcp server where")
    assert err.offset == 15


# -- where options ------------------------------------------------------------

def test_parser_where_options_with_defaults() -> None:
    kw = p("run tcp server where external_ip = !ip and external_port = !port and threads = 3").kwargs
    assert kw == {"external_ip": "10.0.0.1", "external_port": 32048, "internal_ip": None, "internal_port": None,
                  "bind": False, "threads": 3}


@pytest.mark.parametrize("line", [
    "run tcp server where external ip = 1.2.3.4",
    "run tcp server where external_ip = 1.2.3.4",
    "run tcp server where EXTERNAL_IP = 1.2.3.4",
])
def test_parser_option_name_with_space_or_underscore(line: str) -> None:
    assert p(line).kwargs["external_ip"] == "1.2.3.4"


def test_parser_multi_word_values_run_to_the_next_and() -> None:
    kw = p("run blockchain sync where source = master and time = 30 seconds and dest = file "
           "and connection = !ledger_conn").kwargs
    assert kw == {"source": "master", "time": 30.0, "dest": ["file"], "connection": "10.0.0.9:32048"}


def test_parser_variable_holding_words_is_one_value() -> None:
    assert p("run blockchain sync where source = master and time = !sync").kwargs["time"] == 30.0


def test_parser_repeatable_option_collects_values() -> None:
    kw = p("run blockchain sync where source = master and time = 1 minute and dest = file and dest = dbms").kwargs
    assert kw["dest"] == ["file", "dbms"]


def test_parser_options_without_where_use_defaults() -> None:
    assert p("set buffer threshold").kwargs == {"time": None, "volume": None, "write_immediate": None}


@pytest.mark.parametrize("text,value", [
    ("30 seconds", 30.0), ("1 minute", 60.0), ("5 minutes", 300.0), ("2 hours", 7200.0), ("1 day", 86400.0),
    ("45", 45.0), ("2h", 7200.0), ("1.5 minutes", 90.0),
])
def test_parser_seconds_type(text: str, value: float) -> None:
    assert p(f"set buffer threshold where time = {text}").kwargs["time"] == value


@pytest.mark.parametrize("text,value", [("10000", 10000), ("64KB", 65536), ("2 MB", 2 * 1024 ** 2),
                                        ("1gb", 1024 ** 3)])
def test_parser_storage_type(text: str, value: int) -> None:
    assert p(f"set buffer threshold where volume = {text}").kwargs["volume"] == value


@pytest.mark.parametrize("text,value", [("true", True), ("FALSE", False), ("on", True), ("off", False)])
def test_parser_bool_type(text: str, value: bool) -> None:
    assert p(f"set buffer threshold where write_immediate = {text}").kwargs["write_immediate"] is value


def test_parser_choice_is_case_insensitive() -> None:
    assert p("run blockchain sync where source = MASTER and time = 1 minute").kwargs["source"] == "master"


@pytest.mark.parametrize("text,value", [
    ("(10.0.0.1:2048)", ["10.0.0.1:2048"]),
    ("(10.0.0.1:2048, 10.0.0.2:2048)", ["10.0.0.1:2048", "10.0.0.2:2048"]),
    ("(10.0.0.1:2048, 10.0.0.1:2048)", ["10.0.0.1:2048"]),
    ("(localhost:7848)", ["127.0.0.1:7848"]),
    ("10.0.0.78:7848", ["10.0.0.78:7848"]),
    ("(!ip 2048)", ["10.0.0.1:2048"]),      # AnyLog's "ip port" form
    ("()", []),
])
def test_parser_destinations_type(text: str, value: list[str]) -> None:
    assert list(p(f"run client {text} get status").kwargs["dest"].dests) == value


def test_parser_json_option_value() -> None:
    kw = p('blockchain insert where policy = {"operator": {"ip": "1.2.3.4", "port": 2048}} and local = true').kwargs
    assert kw == {"policy": {"operator": {"ip": "1.2.3.4", "port": 2048}}, "local": True}


@pytest.mark.parametrize("line,option,value,accepts", [
    ("run tcp server where threads = 0", "threads", "0", "from 1 to 100"),
    ("run tcp server where threads = 101", "threads", "101", "from 1 to 100"),
    ("run tcp server where threads = many", "threads", "many", "from 1 to 100"),
    ("run tcp server where external_port = 70000", "external port", "70000", "from 0 to 65535"),
    ("run tcp server where bind = maybe", "bind", "maybe", "true or false"),
    ("run blockchain sync where source = ledger and time = 1 minute", "source", "ledger", "master, blockchain"),
    ("run blockchain sync where source = master and time = soon", "time", "soon", "30 seconds"),
    ("set buffer threshold where volume = lots", "volume", "lots", "64KB"),
    ("run blockchain sync where source = master and time = 1 minute and connection = 10.0.0.9",
     "connection", "10.0.0.9", "127.0.0.1:32048"),
    ("run client (10.0.0.1) get status", "<dest>", "10.0.0.1", "127.0.0.1:32048"),
    ('blockchain insert where policy = {"a": }', "policy", "", "JSON"),
])
def test_parser_bad_value_names_option_value_and_what_it_accepts(line: str, option: str, value: str,
                                                                 accepts: str) -> None:
    err = fails(line, ValidationError)
    assert option in err.message
    assert value in err.message
    assert accepts in err.hint
    assert line[err.offset:].lstrip("(").startswith(value or "{")


def test_parser_unknown_option_did_you_mean() -> None:
    err = fails("run tcp server where thread = 3")
    assert err.message == "unknown option 'thread' for 'run tcp server'"
    assert err.hint == "did you mean 'threads'?"
    assert err.offset == 21


def test_parser_unknown_option_without_close_match_lists_the_valid_ones() -> None:
    err = fails("set buffer threshold where colour = red")
    assert "valid options: time, volume, write_immediate" in err.hint


def test_parser_missing_required_option() -> None:
    err = fails("run blockchain sync where time = 1 minute")
    assert "needs option 'source'" in err.message
    assert "where source = <master|blockchain>" in err.hint


def test_parser_duplicate_option_points_at_the_second() -> None:
    line = "run tcp server where threads = 3 and threads = 4"
    err = fails(line)
    assert "'threads' is given twice" in err.message
    assert err.offset == line.rindex("threads")


def test_parser_where_with_nothing_after_it() -> None:
    err = fails("run tcp server where")
    assert "'where' is not followed by an option" in err.message
    assert err.offset == 15


def test_parser_trailing_and() -> None:
    line = "run tcp server where threads = 3 and"
    err = fails(line)
    assert "'and' at the end" in err.message
    assert err.offset == line.rindex("and")


@pytest.mark.parametrize("line,message", [
    ("run tcp server where threads 3", "option 'threads' needs '= value'"),
    ("run tcp server where threads =", "option 'threads' has no value"),
    ("run tcp server where = 3", "expected an option name, found '='"),
    ("run tcp server where threads = 3 and and bind = true", "unknown option 'and'"),
])
def test_parser_malformed_where_clause(line: str, message: str) -> None:
    assert message in fails(line).message


def test_parser_undefined_variable_in_option_is_refused_naming_it() -> None:
    line = "run tcp server where external_ip = !ip and threads = !thread_count"
    err = fails(line)
    assert "option 'threads'" in err.message
    assert "'!thread_count' is not defined" in err.message
    assert err.offset == line.index("!thread_count")


def test_parser_undefined_variable_in_argument_is_refused() -> None:
    err = fails("set node name !nobody")
    assert "'!nobody' is not defined" in err.message
    assert err.offset == 14


def test_parser_lenient_accepts_undefined_variables_unconverted() -> None:
    inv = p("run tcp server where threads = !thread_count and bind = !b", lenient=True)
    assert inv.kwargs["threads"] == "" and inv.kwargs["bind"] == ""


def test_parser_offsets_shift_by_base() -> None:
    toks = tokenize("run tcp server where thread = 3")
    with pytest.raises(CommandSyntaxError) as err:
        parse(toks, REGISTRY, base=10)
    assert err.value.offset == 31


def test_parser_real_registry_format_option(node) -> None:  # type: ignore[no-untyped-def]
    assert p("get status where format = json", registry=node.registry).kwargs == {"format": "json"}
    with pytest.raises(ValidationError) as err:
        p("get status where format = yaml", registry=node.registry)
    assert "table, json" in err.value.hint
