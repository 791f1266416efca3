"""A command is declared once, in code too: handlers match their declaration, AnyLog-only options are
declared ignored, and a service's config takes its defaults from the command's declaration."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from anynode.errors import ValidationError
from anynode.grammar.registry import _DEFAULT, command, handler_mismatch
from anynode.grammar.spec import Arg, CommandSpec, Opt
from anynode.grammar.types import BOOL, Int
from anynode.node import Node
from anynode.operator.files import OperatorConfig
from anynode.rest.app import AppSettings
from anynode.rest.server import RestConfig
from anynode.tcp.service import TcpConfig
from tests.rest_helpers import start

OPTIONS = [Opt("size", Int(), default=5), Opt("legacy", BOOL, default=False, ignored=True)]


def _declare(handler: Any, **kw: Any) -> str:
    """Declare ``test declared once`` with ``handler``; the TypeError's text (the table is left as it was)."""
    before = dict(_DEFAULT)
    with pytest.raises(TypeError) as err:
        command("test declared once", args=[Arg("name")], options=OPTIONS, examples=["x"], **kw)(handler)
    assert _DEFAULT == before, "a refused declaration must not enter the command table"
    return str(err.value)


def test_a_handler_without_a_declared_option_is_refused_at_declaration() -> None:
    def test_declared_once(ctx: Any, name: str) -> None: ...

    text = _declare(test_declared_once)
    assert text.startswith("command 'test declared once': handler test_declared_once() does not match")
    assert "no parameter for declared size" in text


def test_a_handler_parameter_nothing_declares_is_refused() -> None:
    def test_declared_once(ctx: Any, name: str, size: int, colour: str) -> None: ...

    assert "parameter(s) not declared: colour" in _declare(test_declared_once)


def test_a_handler_may_not_take_an_option_declared_ignored() -> None:
    def test_declared_once(ctx: Any, name: str, size: int, legacy: bool) -> None: ...

    assert "option(s) declared ignored are never passed: legacy" in _declare(test_declared_once)


def test_a_handler_may_not_hold_a_second_default() -> None:
    def test_declared_once(ctx: Any, name: str, size: int = 7) -> None: ...

    assert "parameter default(s) besides the declaration's: size" in _declare(test_declared_once)


def test_a_handler_taking_keywords_in_bulk_is_refused() -> None:
    def test_declared_once(ctx: Any, **kwargs: Any) -> None: ...

    assert "*args/**kwargs" in _declare(test_declared_once)


def test_raw_handlers_take_the_context_and_the_tokens() -> None:
    def raw(ctx: Any, tokens: list[Any]) -> None: ...

    def wrong(ctx: Any) -> None: ...

    assert handler_mismatch(CommandSpec(words=("x",), handler=raw, raw=True, options=tuple(OPTIONS))) == ""
    assert "(ctx, tokens)" in handler_mismatch(CommandSpec(words=("x",), handler=wrong, raw=True))


def test_every_declared_command_matches_its_handler(node: Node) -> None:
    assert {spec.name: handler_mismatch(spec) for spec in node.registry if handler_mismatch(spec)} == {}


def test_anylog_only_options_are_declared_ignored(node: Node) -> None:
    ignored = {spec.name: [o.name for o in spec.ignored_options] for spec in node.registry if spec.ignored_options}
    assert ignored == {
        "connect dbms": ["autocommit", "unlog", "provider", "access_key", "secret_key", "region", "endpoint",
                         "network_id", "bucket_name", "connection"],
        "run operator": ["move_json", "update_tsd_info", "compress_sql", "archive_sql", "distributor", "company"],
        "run streamer": ["prep_dir", "watch_dir", "err_dir"],
        "run blockchain sync": ["platform", "trace"],
        "run blobs archiver": ["compress", "reuse_blobs"],
    }


def test_help_shows_ignored_options_as_ignored_without_a_default(node: Node) -> None:
    text = node.execute("help connect dbms").to_text()
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("    ") and line.split()}
    assert "accepted for AnyLog scripts, ignored: every write commits" in lines["autocommit"]
    assert "default" not in lines["autocommit"]
    assert lines["unlog"].endswith("accepted for AnyLog scripts, ignored")
    assert "(default: False)" in lines["memory"]  # an option that is used keeps its default in help


def test_an_ignored_option_is_still_checked_and_then_dropped(node: Node) -> None:
    reply = node.execute("connect dbms demo where type = sqlite and autocommit = false and unlog = true")
    assert reply.to_text().startswith("Database demo using sqlite connected")
    with pytest.raises(ValidationError, match="autocommit"):
        node.execute("connect dbms other where type = sqlite and autocommit = maybe")


@pytest.mark.parametrize("words, config", [
    ("run rest server", RestConfig), ("run tcp server", TcpConfig), ("run operator", OperatorConfig)])
def test_a_service_config_holds_no_default_of_a_declared_option(node: Node, words: str, config: type) -> None:
    spec = node.registry.get(words)
    assert spec is not None
    declared = {o.param for o in spec.options}
    doubled = [f.name for f in dataclasses.fields(config) if f.name in declared
               and (f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING)]
    assert doubled == [], f"{config.__name__} repeats the declared default of {doubled}: the declaration holds it"


def test_the_rest_app_settings_repeat_no_default() -> None:
    assert [f.name for f in dataclasses.fields(AppSettings) if f.default is not dataclasses.MISSING] == []


def test_the_declared_defaults_reach_the_running_services(node: Node) -> None:
    start(node)
    info = node.execute("get rest server info where format = json").to_json()
    assert info["Threads Pool"] == 5 and info["Timeout"] == "20 s" and info["Body limit"] == 16 * 1024 * 1024
    node.execute("run tcp server where internal_ip = 127.0.0.1 and internal_port = 0 and bind = true")
    assert node.services.get("TCP").config.threads == 6  # type: ignore[union-attr]
