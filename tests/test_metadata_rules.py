"""Validation at insert, per type, with AnyLog's codes and texts (notes §7.1, §1.4)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from anynode.errors import AnyNodeError
from anynode.metadata.policy import PolicyError

CLUSTER_ID = "73c605d0d80af6f816ad35839b575b66"


def insert(node: Any, policy: dict[str, Any]) -> str:
    return node.execute(f"blockchain insert where policy = {json.dumps(policy)} and local = true").to_text()


def refused(node: Any, policy: dict[str, Any], code: int, text: str) -> PolicyError:
    with pytest.raises(PolicyError) as err:
        insert(node, policy)
    assert err.value.anylog_code == code
    assert err.value.message.startswith(text + ": "), err.value.message
    assert err.value.to_wire()["code"] == code
    return err.value


def stored(node: Any) -> list[dict[str, Any]]:
    return json.loads(node.execute("blockchain get *").to_text() or "[]")


def operator(name: str = "op1", port: int = 32148, **more: Any) -> dict[str, Any]:
    return {"operator": {"company": "acme", "name": name, "ip": "127.0.0.1", "port": port,
                         "cluster": CLUSTER_ID, **more}}


@pytest.fixture
def with_cluster(node):  # type: ignore[no-untyped-def]
    insert(node, {"cluster": {"company": "acme", "name": "c1"}})
    return node


def test_rules_cluster_gets_status_active_and_anylogs_id(node) -> None:  # type: ignore[no-untyped-def]
    assert CLUSTER_ID in insert(node, {"cluster": {"company": "acme", "name": "c1"}})
    (cluster,) = stored(node)
    assert cluster["cluster"]["status"] == "active" and cluster["cluster"]["ledger"] == "local"


def test_rules_second_root_cluster_with_the_same_name_is_180(with_cluster) -> None:  # type: ignore[no-untyped-def]
    err = refused(with_cluster, {"cluster": {"company": "other", "name": "C1"}}, 180, "Non unique policy values")
    assert CLUSTER_ID in err.message


def test_rules_child_cluster_needs_its_parent_118(with_cluster) -> None:  # type: ignore[no-untyped-def]
    child = {"cluster": {"parent": "0" * 32, "name": "c1", "company": "acme",
                         "table": [{"dbms": "demo", "name": "sensor"}]}}
    refused(with_cluster, child, 118, "Missing parent policy")
    child["cluster"]["parent"] = CLUSTER_ID
    child["cluster"]["company"] = "other"
    refused(with_cluster, child, 118, "Missing parent policy")
    child["cluster"]["company"] = "acme"
    assert "a4e67d77867210f59673930e1f27df1e" in insert(with_cluster, child)  # EdgeLake's id for this child
    table = stored(with_cluster)[-1]["cluster"]["table"]
    assert table == [{"dbms": "demo", "name": "sensor", "status": "active"}]


def test_rules_cluster_table_list_entries_are_checked(with_cluster) -> None:  # type: ignore[no-untyped-def]
    twice = {"cluster": {"company": "acme", "name": "c2", "table": [{"dbms": "d", "name": "t"}] * 2}}
    assert "twice" in refused(with_cluster, twice, 87, "Wrong policy structure").message
    refused(with_cluster, {"cluster": {"company": "acme", "name": "c3", "table": [{"dbms": "d"}]}}, 87,
            "Wrong policy structure")


def test_rules_operator_without_cluster_is_87(node) -> None:  # type: ignore[no-untyped-def]
    policy = operator()
    del policy["operator"]["cluster"]
    assert "not associated with a cluster" in refused(node, policy, 87, "Wrong policy structure").message


def test_rules_operator_port_as_text_is_87(with_cluster) -> None:  # type: ignore[no-untyped-def]
    err = refused(with_cluster, operator(port="32148"), 87, "Wrong policy structure")  # type: ignore[arg-type]
    assert "'port'" in err.message and "number" in err.message


def test_rules_operator_of_an_unknown_cluster_is_222(node) -> None:  # type: ignore[no-untyped-def]
    refused(node, operator(), 222, "Missing cluster policy")


def test_rules_operator_ip_port_and_name_are_unique(with_cluster) -> None:  # type: ignore[no-untyped-def]
    insert(with_cluster, operator())
    refused(with_cluster, operator(name="op2"), 149, "None unique IP:Port in policy")
    refused(with_cluster, operator(name="OP1", port=32150), 180, "Non unique policy values")
    insert(with_cluster, operator(name="op2", port=32150))


def test_rules_operators_get_distinct_members_in_their_cluster(with_cluster) -> None:  # type: ignore[no-untyped-def]
    for n in range(12):
        insert(with_cluster, operator(name=f"op{n}", port=40000 + n))
    members = [p["operator"]["member"] for p in stored(with_cluster) if "operator" in p]
    assert len(set(members)) == 12 and all(1 <= m <= 255 for m in members)
    refused(with_cluster, operator(name="x", port=41000, member=members[0]), 180, "Non unique policy values")


def test_rules_table_needs_name_dbms_create_and_is_unique(node) -> None:  # type: ignore[no-untyped-def]
    table = {"table": {"name": "sensor", "dbms": "demo", "create": "CREATE TABLE sensor(x int);"}}
    refused(node, {"table": {"name": "sensor", "dbms": "demo"}}, 87, "Wrong policy structure")
    insert(node, table)
    again = {"table": {"name": "Sensor", "dbms": "demo", "create": "CREATE TABLE sensor(y int);"}}
    refused(node, again, 180, "Non unique policy values")


def test_rules_mapping_schema_is_checked(node) -> None:  # type: ignore[no-untyped-def]
    mapping = {"mapping": {"id": "m1", "dbms": "bring [dbms]", "table": "t",
                           "schema": {"value": {"type": "int", "bring": "[v]", "default": "x"}}}}
    assert "default" in refused(node, mapping, 87, "Wrong policy structure").message
    mapping["mapping"]["schema"]["value"]["default"] = 0
    del mapping["mapping"]["schema"]["value"]["type"]
    refused(node, mapping, 87, "Wrong policy structure")
    mapping["mapping"]["schema"]["value"]["type"] = "int"
    assert "mapping policy m1 added" in insert(node, mapping)


def test_rules_same_id_twice_is_70(node) -> None:  # type: ignore[no-untyped-def]
    master = {"master": {"company": "acme", "name": "m1", "ip": "127.0.0.1", "port": 32048}}
    insert(node, master)
    refused(node, master, 70, "Duplicate blockchain object id")


def test_rules_free_form_types_need_only_one_root(node) -> None:  # type: ignore[no-untyped-def]
    for policy in ({"config": {"name": "c", "script": ["run scheduler 1"]}}, {"schedule": {"x": 1}},
                   {"blockchain-info": {"name": "b"}}):
        insert(node, policy)
    assert [next(iter(p)) for p in stored(node)] == ["config", "schedule", "blockchain-info"]


def test_rules_global_policies_skip_type_rules_but_not_uniqueness(node) -> None:  # type: ignore[no-untyped-def]
    from_master = operator()
    from_master["operator"]["ledger"] = "global"  # its cluster is not here: the master checked it
    assert "added" in node.execute(f"blockchain add {json.dumps(from_master)}").to_text()
    again = operator(name="op1", port=1)
    again["operator"]["ledger"] = "global"
    with pytest.raises(AnyNodeError) as err:
        node.execute(f"blockchain add {json.dumps(again)}")
    assert err.value.anylog_code == 180
