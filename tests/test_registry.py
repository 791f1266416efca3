"""Every declared command: summary, examples that parse, handler name, help."""

from __future__ import annotations

import builtins
import keyword

import pytest

from anynode.errors import CommandNotFound
from anynode.grammar.parser import parse
from anynode.grammar.registry import Registry
from anynode.grammar.spec import CommandSpec
from anynode.grammar.tokens import split_commands, tokenize
from anynode.grammar.variables import expand_tokens

REGISTRY = Registry.default()
SPECS = list(REGISTRY)
IDS = [s.name for s in SPECS]

# Handlers whose names cannot be the command words joined with '_' (documented in the report).
HANDLER_EXCEPTIONS = {"exit": "exit_service"}


def test_registry_is_not_empty_and_has_no_duplicates() -> None:
    assert len(SPECS) >= 20
    assert len({s.name for s in SPECS}) == len(SPECS)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_registry_command_has_a_summary_sentence(spec: CommandSpec) -> None:
    assert spec.summary, f"'{spec.name}' has no docstring"
    assert spec.summary.endswith("."), f"summary of '{spec.name}' does not end with a period: {spec.summary!r}"
    assert spec.summary[0].isupper() or spec.summary[0] in "`'\"", spec.summary


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_registry_command_has_an_example(spec: CommandSpec) -> None:
    assert spec.examples, f"'{spec.name}' has no example"


def _command_part(tokens: list) -> list:  # type: ignore[type-arg]
    """The command of an example (after `k = ` or `set k = `)."""
    if len(tokens) > 2 and tokens[1].is_op("="):
        return tokens[2:]
    if len(tokens) > 3 and tokens[0].is_word("set") and tokens[2].is_op("="):
        return tokens[3:]
    return tokens


EXAMPLES = [(s, e) for s in SPECS for e in s.examples]


@pytest.mark.parametrize("spec,example", EXAMPLES, ids=[f"{s.name}: {e}" for s, e in EXAMPLES])
def test_registry_every_example_parses_to_its_command(spec: CommandSpec, example: str) -> None:
    (text, _), *more = split_commands(example)
    assert not more, "an example is one command"
    tokens = _command_part(expand_tokens(tokenize(text), lambda name: None, {}))
    inv = parse(tokens, REGISTRY, lenient=True)
    assert inv.spec is spec, f"'{example}' parses as '{inv.spec.name}', not '{spec.name}'"


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_registry_handler_is_named_by_the_words(spec: CommandSpec) -> None:
    expected = "_".join(spec.words)
    name = spec.handler.__name__
    if spec.name in HANDLER_EXCEPTIONS:
        assert name == HANDLER_EXCEPTIONS[spec.name]
        return
    clash = keyword.iskeyword(expected) or hasattr(builtins, expected)
    assert name == expected or (clash and name == expected + "_"), f"'{spec.name}' is handled by {name}()"


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_registry_options_have_distinct_names(spec: CommandSpec) -> None:
    names = [o.param for o in spec.options]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_registry_usage_starts_with_the_words(spec: CommandSpec) -> None:
    assert spec.usage().startswith(spec.name)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_registry_http_method_is_get_or_post(spec: CommandSpec) -> None:
    assert spec.http in ("GET", "POST")


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_registry_lookup_by_name_and_match(spec: CommandSpec) -> None:
    assert REGISTRY.get(spec.name) is spec
    assert REGISTRY.match(list(spec.words) + ["extra"]) == (spec, len(spec.words))


# -- help --------------------------------------------------------------------------

def test_help_lists_every_visible_command(run) -> None:  # type: ignore[no-untyped-def]
    text = run("help")
    for spec in SPECS:
        if not spec.hidden:
            assert spec.name in text and spec.summary in text


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_help_command_explains_it(run, spec: CommandSpec) -> None:  # type: ignore[no-untyped-def]
    text = run(f"help {spec.name}")
    assert text.startswith(f"Usage:\n    {spec.usage()}")
    assert spec.summary in text
    for example in spec.examples:
        assert example in text
    for opt in spec.options:
        assert opt.name in text


def test_help_index_lists_keywords(run) -> None:  # type: ignore[no-untyped-def]
    text = run("help index")
    for key in ("script", "node info", "help"):
        assert key in text


def test_help_index_script_lists_the_flow_commands(run) -> None:  # type: ignore[no-untyped-def]
    text = run("help index script")
    for name in ("call", "do", "else", "end script", "exit scripts", "goto", "if", "on error", "process",
                 "return"):
        assert f" {name}" in text or text.startswith(name)
    assert "get status" not in text


def test_help_index_unknown_keyword(run) -> None:  # type: ignore[no-untyped-def]
    assert "no keyword starts with 'zzz'" in run("help index zzz")


@pytest.mark.parametrize("typed,suggested", [
    ("get statu", "get status"), ("get proceses", "get processes"), ("proces", "process"),
    ("get node nme", "get node name"), ("ech", "echo"),
])
def test_unknown_command_did_you_mean(node, typed: str, suggested: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandNotFound) as err:
        node.execute(typed)
    assert f"'{suggested}'" in err.value.hint


def test_help_unknown_command_did_you_mean(node) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandNotFound) as err:
        node.execute("help get statu")
    assert "'get status'" in err.value.hint


def test_two_nodes_have_separate_registries(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from anynode.node import Node

    a, b = Node(tmp_path / "a"), Node(tmp_path / "b")
    try:
        assert a.registry is not b.registry
        assert [s.name for s in a.registry] == [s.name for s in b.registry]
    finally:
        a.close()
        b.close()


def test_what_peers_and_rest_clients_may_run_only_reads() -> None:
    """docs/security.md: the remote allow-list holds reads (GET) and exactly the master's ledger writes members need."""
    writes = sorted(" ".join(s.words) for s in REGISTRY if s.remote and s.http != "GET")
    assert writes == ["blockchain drop policy", "blockchain push", "blockchain push ignore"], \
        f"remote commands that change state: {writes}"
    assert len([s for s in REGISTRY if s.remote]) >= 30
