"""blockchain get root policies, an empty blockchain get at the prompt, and the blockchain-platform commands
that anynode knows and refuses (so scripts that name them parse, and their `on error` handles the refusal)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from anynode.metadata.platforms import PlatformUnavailable
from anynode.output.render import render
from anynode.script import check_script, run_script

TREE = [
    {"device": {"name": "plant", "id": "r1"}},
    {"device": {"name": "line", "id": "r2", "parent": "r1"}},
    {"device": {"name": "lonely", "id": "r3"}},
    {"device": {"name": "machine", "id": "r4", "parent": "r2"}},
    {"cluster": {"company": "acme", "name": "c1"}},
    {"cluster": {"company": "acme", "name": "c1", "parent": "73c605d0d80af6f816ad35839b575b66",
                 "table": [{"dbms": "demo", "name": "t"}]}},
]


@pytest.fixture
def tree(node: Any) -> Any:
    for n, policy in enumerate(TREE):
        node.set_var(f"p{n}", json.dumps(policy))
        node.execute(f"blockchain insert where policy = !p{n} and local = true")
    return node


def test_root_policies_have_children_and_no_parent(tree: Any) -> None:
    roots = tree.execute("blockchain get root policies").to_json()
    # r2 has a child but a parent too; r3 has no child; a cluster's table extension does not make its parent a root
    assert [p["device"]["id"] for p in roots] == ["r1"]
    assert tree.execute("blockchain get root policies bring [*][name]").to_text() == "plant"
    assert tree.execute("blockchain get root policies bring.count").to_text() == "1"


def test_no_root_shows_an_empty_list_and_assigns_nothing(node: Any) -> None:
    node.execute('blockchain insert where policy = {"device": {"name": "solo"}} and local = true')
    out = io.StringIO()
    render(node.execute("blockchain get root policies"), out)
    assert out.getvalue() == "[]\n"


def test_an_empty_blockchain_get_shows_brackets_at_the_prompt_and_assigns_nothing(node: Any) -> None:
    node.execute('blockchain insert where policy = {"device": {"name": "solo"}} and local = true')
    for line in ("blockchain get operator", "blockchain get device where name = other"):
        out = io.StringIO()
        render(node.execute(line), out)
        assert out.getvalue() == "[]\n"
        node.set_var("x", "before")
        node.execute(f"x = {line}")
        assert node.get_var("x") is None
    assert node.execute("if not !x then echo nothing matched").to_text() == "nothing matched"


@pytest.mark.parametrize("line, words", [
    ("blockchain connect to optimism where provider = https://example.invalid/v3/key", "cannot connect to optimism"),
    ("blockchain set account info where platform = optimism and contract = 0xab", "no optimism account to set"),
    ("blockchain deploy contract where platform = optimism and public_key = 0xcd", "no contract to deploy on optimism"),
    ('blockchain commit to ethereum {"operator": {"name": "op1"}}', "cannot commit to ethereum"),
    ("blockchain checkout from optimism", "cannot check out from optimism"),
])
def test_platform_commands_are_known_and_refused_with_the_reason(node: Any, line: str, words: str) -> None:
    with pytest.raises(PlatformUnavailable) as err:
        node.execute(line)
    assert words in err.value.message and "anynode does not connect to blockchain platforms" in err.value.message
    assert "run blockchain sync where source = master" in (err.value.hint or "")


# Our own script using the platform forms a deployment uses around a public blockchain: each refusal is handled
# by the script's `on error` as any failure is, and `get platforms` answers.
PLATFORM_SCRIPT = """
on error goto no-platform
blockchain connect to optimism where provider=https://example.invalid/v3/key
echo connected
:no-platform:
on error ignore
<blockchain set account info where
    platform = optimism and
    contract = !contract>
if not !contract then
do contract = blockchain deploy contract where platform = optimism and public_key = !pub
platforms = get platforms
echo done
"""


def test_a_script_using_platform_commands_parses_and_its_handlers_take_the_refusals(
        node: Any, tmp_path: Path) -> None:
    path = tmp_path / "platform.al"
    path.write_text(PLATFORM_SCRIPT)
    assert check_script(node, path) == []
    shown: list[str] = []
    run_script(node, path, emit=lambda r: shown.append(r.to_text()))
    assert shown == ["done"]
    assert node.get_var("contract") is None
    assert (node.get_var("platforms") or "").startswith("No blockchain platform is connected")
