"""blockchain get TYPE where ... bring ...: the ledger's policies through the where/bring language."""

from __future__ import annotations

import json
from typing import Any

import pytest

from anynode.errors import CommandSyntaxError

POLICIES = [
    {"cluster": {"company": "acme", "name": "c1"}},
    {"master": {"company": "acme", "name": "m1", "ip": "127.0.0.1", "internal_ip": "127.0.0.1", "port": 32048,
                "rest_port": 32049}},
    {"query": {"company": "Acme", "name": "q1", "ip": "10.0.0.3", "port": 32348, "rest_port": 32349}},
]


@pytest.fixture
def ledger_node(node: Any) -> Any:
    for i, policy in enumerate(POLICIES):
        node.set_var(f"p{i}", json.dumps(policy))
        node.execute(f"blockchain insert where policy = !p{i} and local = true")
    return node


@pytest.mark.parametrize("line, expected", [
    ("blockchain get master bring [master][name] : [master][port]", "m1:32048"),
    ("blockchain get * bring.count", "3"),
    # key/value where: strings compare without case (AnyLog: company = ACME matches acme)
    ("blockchain get cluster where company = ACME bring [*][id]", "73c605d0d80af6f816ad35839b575b66"),
    ("blockchain get (master, query) where company = acme bring [*][name] separator = ,", "m1,q1"),
    ("blockchain get (master, query) where [name] == q1 or [port] == 32048 bring.count", "2"),
    ("blockchain get * where [name] startswith q bring [*]", "query"),
    ("blockchain get (master, query) bring.ip_port", "127.0.0.1:32048,10.0.0.3:32348"),
    ("blockchain get operator bring [*][ip]", ""),
])
def test_where_and_bring_on_the_ledger(ledger_node: Any, line: str, expected: str) -> None:
    assert ledger_node.execute(line).to_text() == expected


def test_bring_table_and_json_read_the_ledgers_read_only_policies(ledger_node: Any) -> None:
    table = ledger_node.execute("blockchain get (master, query) bring.table [*][name] [*][port]")
    assert [list(r) for r in table.rows] == [["m1", 32048], ["q1", 32348]]
    assert ledger_node.execute("blockchain get master bring.json [*][name]").to_json() == [{"name": "m1"}]


def test_where_without_bring_gives_the_policies_and_an_assignment_gets_nothing_when_none_match(
        ledger_node: Any) -> None:
    found = ledger_node.execute("blockchain get * where name = q1").to_json()
    assert [next(iter(p)) for p in found] == ["query"]
    ledger_node.execute("x = blockchain get * where name = nobody")
    assert not ledger_node.get_var("x")
    ledger_node.execute("ip = blockchain get master bring [*][ip]")
    assert ledger_node.get_var("ip") == "127.0.0.1"


@pytest.mark.parametrize("line, word", [
    ("blockchain get master wher name = m1", "wher"),
    ("blockchain get master where", "where"),
    ("blockchain get master bring.nothing [*][name]", "bring.nothing"),
])
def test_a_bad_clause_points_at_the_word(ledger_node: Any, line: str, word: str) -> None:
    with pytest.raises(CommandSyntaxError) as info:
        ledger_node.execute(line)
    assert info.value.offset == line.index(word), info.value.one_line()
