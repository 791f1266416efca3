"""Policies: AnyLog's id rule (the ids EdgeLake gave the same policies), dates, the ledger line, policy text."""

from __future__ import annotations

import copy
import json
import re

import pytest

from anynode.errors import CommandSyntaxError
from anynode.metadata.frozen import FrozenDict, freeze, loads_frozen, thaw
from anynode.metadata.policy import PolicyError, add_id_date, compute_id, parse_policy, to_line

CLUSTER_ID = "73c605d0d80af6f816ad35839b575b66"  # observed on EdgeLake for cluster c1 of acme (notes §7.2)


def _fixed(policy: dict) -> dict:  # type: ignore[type-arg]
    return add_id_date(policy, now=lambda: "2026-11-22T06:14:13.462698Z")


def test_policy_id_of_a_root_cluster_is_anylogs() -> None:
    assert compute_id({"cluster": {"company": "acme", "name": "c1"}}) == CLUSTER_ID
    # status and other keys do not take part: the same name and company always give the same id
    assert _fixed({"cluster": {"company": "acme", "name": "c1", "status": "active"}})["cluster"]["id"] == CLUSTER_ID


def test_policy_id_of_a_master_is_the_md5_of_pythons_str() -> None:
    master = {"master": {"company": "acme", "name": "m1", "ip": "127.0.0.1", "internal_ip": "127.0.0.1",
                         "port": 32048, "rest_port": 32049}}
    assert _fixed(master)["master"]["id"] == "0f3b3512d8535bcd611b95c9c5707cb6"


def test_policy_id_of_a_child_cluster_operator_and_table_match_edgelake() -> None:
    child = {"cluster": {"parent": CLUSTER_ID, "name": "c1", "company": "acme",
                         "table": [{"dbms": "demo", "name": "sensor"}], "source": "Node at 127.0.0.1:32148"}}
    assert _fixed(child)["cluster"]["id"] == "a4e67d77867210f59673930e1f27df1e"
    operator = {"operator": {"company": "acme", "name": "op1", "cluster": CLUSTER_ID, "ip": "127.0.0.1",
                             "internal_ip": "127.0.0.1", "port": 32148, "rest_port": 32149, "member": 28}}
    assert _fixed(operator)["operator"]["id"] == "7f09768280911a651fa1869c39e1c406"
    table = {"table": {"name": "sensor", "dbms": "demo", "create": "CREATE TABLE IF NOT EXISTS sensor(x int);"}}
    assert _fixed(table)["table"]["id"] == "fd20527a0562cd09cac4591d5ad3176f"


def test_policy_id_depends_on_key_order_and_value_types_as_on_anylog() -> None:
    a = compute_id({"master": {"name": "m1", "port": 32048}})
    assert a != compute_id({"master": {"port": 32048, "name": "m1"}})
    assert a != compute_id({"master": {"name": "m1", "port": "32048"}})


def test_policy_date_and_ledger_do_not_change_the_id_and_go_last() -> None:
    policy = {"master": {"company": "acme", "date": "2020-01-01T00:00:00.000000Z", "ledger": "local", "name": "m1"}}
    add_id_date(policy)
    assert list(policy["master"]) == ["company", "name", "id", "date", "ledger"]
    assert policy["master"]["id"] == compute_id({"master": {"company": "acme", "name": "m1"}})
    assert policy["master"]["date"] == "2020-01-01T00:00:00.000000Z"


def test_policy_with_id_and_date_is_left_as_it_is() -> None:
    policy = {"config": {"id": "monitoring-config", "date": "d", "name": "x"}}
    assert add_id_date(copy.deepcopy(policy)) == policy


def test_policy_date_is_utc_with_microseconds() -> None:
    date = add_id_date({"query": {"name": "q1"}})["query"]["date"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", date)


def test_policy_line_is_written_as_edgelake_writes_it() -> None:
    assert to_line({"a": {"b": 1, "c": [1, 2]}}) == '{"a": {"b": 1, "c": [1, 2]}}'


@pytest.mark.parametrize("text", ['{"a": 1}', '{"a": {}, "b": {}}', "[]", '"x"', "{nope", ""])
def test_policy_that_is_not_one_object_under_one_key_is_87(text: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(text)
    assert err.value.anylog_code == 87
    assert err.value.message.startswith("Wrong policy structure: ")


def test_policy_in_a_list_of_one_is_taken() -> None:
    assert parse_policy('[{"master": {"name": "m1"}}]') == {"master": {"name": "m1"}}


def _expand(word: str) -> tuple[str, tuple[str, ...], str | None]:
    values = {"!company": "Acme Inc", "!port.int": "32148", "!main.bool": "true", "!tables": '["a", "b"]'}
    if word not in values:
        return "", (word,), None
    cast = word.rsplit(".", 1)[1] if "." in word else None
    return values[word], (), cast


def test_policy_text_unquoted_variables_are_filled_quoted_ones_stay() -> None:
    text = '{"operator": {"company": !company, "port": !port.int, "main": !main.bool, "t": !tables, "ip": "!ip"}}'
    assert parse_policy(text, _expand) == {"operator": {"company": "Acme Inc", "port": 32148, "main": True,
                                                        "t": ["a", "b"], "ip": "!ip"}}


def test_policy_text_with_an_undefined_variable_names_it() -> None:
    with pytest.raises(CommandSyntaxError, match="!nothing"):
        parse_policy('{"a": {"b": !nothing}}', _expand)


def test_frozen_policies_refuse_changes_and_copy_to_plain_values() -> None:
    policy = loads_frozen('{"cluster": {"table": [{"dbms": "d"}], "name": "c1"}}')
    assert isinstance(policy, dict) and isinstance(policy["cluster"]["table"], list)
    for change in (lambda: policy.update(x=1), lambda: policy["cluster"].pop("name"),
                   lambda: policy["cluster"]["table"].append(1), lambda: policy["cluster"]["table"][0].clear()):
        with pytest.raises(TypeError, match="read-only"):
            change()
    plain = copy.deepcopy(policy)
    plain["cluster"]["table"].append({"dbms": "e"})
    assert type(plain) is dict and len(policy["cluster"]["table"]) == 1
    assert json.dumps(freeze(thaw(policy))) == json.dumps(policy)
    assert isinstance(freeze({"a": [1]}), FrozenDict)
