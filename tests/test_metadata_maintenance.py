"""Ledger maintenance in AnyLog's spellings: `blockchain replace policy`, `blockchain drop by host`,
`create table ledger where dbms = blockchain`, `blockchain update file`, `blockchain update to`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anynode.errors import AnyNodeError
from anynode.metadata import master
from anynode.node import Node
from anynode.store.catalog import DatabaseCatalog
from tests.data_helpers import catalog, dbms, kind  # noqa: F401  (fixtures)

GAUGE = '{"gauge": {"company": "acme", "name": "g1", "city": "Turin"}}'
OTHER = '{"gauge": {"company": "acme", "name": "g0"}}'


@pytest.fixture
def master_node(tmp_path: Path) -> Iterator[Node]:
    """A node with the master's ledger table and a local ledger, both holding g0 then g1."""
    node = Node(tmp_path / "m", name="m")
    node.execute("connect dbms blockchain where type = sqlite")
    node.execute("create table ledger where dbms = blockchain")
    for policy in (OTHER, GAUGE):
        node.execute(f"blockchain insert where policy = {policy} and local = true")
        node.execute(f"blockchain push {policy}")
    yield node
    node.close()


def _local(node: Node) -> list[dict[str, Any]]:
    return [p["gauge"] for p in json.loads(node.execute("blockchain get gauge").to_text())]


def _table(node: Node) -> list[dict[str, Any]]:
    return [p["gauge"] for p in json.loads(node.execute("blockchain pull to stdout").to_text())]


def _id(node: Node, name: str) -> str:
    return node.execute(f"blockchain get gauge where name = {name} bring [*][id]").to_text().strip()


def test_create_table_ledger_where_dbms_is_blockchain_makes_the_masters_table(tmp_path: Path) -> None:
    node = Node(tmp_path / "n")
    try:
        node.execute("connect dbms blockchain where type = sqlite")
        assert node.execute("create table ledger where dbms = blockchain").to_text() == \
            "ledger table created in blockchain"
        assert "exists" in node.execute("create table ledger where dbms = blockchain").to_text()
        assert "added to the master's ledger" in node.execute(f"blockchain push {GAUGE}").to_text()
        with pytest.raises(AnyNodeError, match="lives in the database 'blockchain', not 'demo'"):
            node.execute("create table ledger where dbms = demo")
        assert "created" in node.execute("create table tsd_info where dbms = blockchain").to_text()  # as before
    finally:
        node.close()


def test_replace_policy_keeps_the_id_in_the_masters_table_and_the_local_ledger(master_node: Node) -> None:
    node = master_node
    pid = _id(node, "g1")
    node.set_var("new_gauge", '{"gauge": {"company": "acme", "name": "g1b", "city": "Milan"}}')
    before = node.execute("blockchain fetch").to_text()
    reply = node.execute(f"blockchain replace policy {pid} with !new_gauge").to_text()
    assert reply == f"gauge policy {pid} replaced in the master's ledger and the local ledger"
    local = _local(node)
    assert [(p["name"], p["id"]) for p in local] == [("g0", _id(node, "g0")), ("g1b", pid)]  # in its place
    assert local[1]["city"] == "Milan" and local[1]["ledger"] == "local"
    table = _table(node)
    assert [(p["name"], p["id"], p["ledger"]) for p in table] == [("g0", _id(node, "g0"), "global"),
                                                                  ("g1b", pid, "global")]
    fetched = json.loads(node.execute("blockchain fetch").to_text())  # what members copy: a new version
    assert fetched["version"] != json.loads(before)["version"] and '"g1b"' in fetched["data"]


def test_replace_policy_refuses_another_type_an_unknown_id_and_a_missing_with(master_node: Node) -> None:
    node = master_node
    pid = _id(node, "g1")
    with pytest.raises(AnyNodeError, match="is of type gauge, the new one of type sensor") as err:
        node.execute(f'blockchain replace policy {pid} with {{"sensor": {{"name": "s"}}}}')
    assert err.value.anylog_code == 87
    assert [p["name"] for p in _local(node)] == ["g0", "g1"] and [p["name"] for p in _table(node)] == ["g0", "g1"]
    with pytest.raises(AnyNodeError, match="no gauge policy with id 1234 to replace") as err:
        node.execute(f"blockchain replace policy 1234 with {GAUGE}")
    assert err.value.anylog_code == 113
    with pytest.raises(AnyNodeError, match="needs the id, 'with' and the new policy"):
        node.execute(f"blockchain replace policy {pid} {GAUGE}")


def test_replace_policy_on_a_member_changes_its_local_ledger_only(tmp_path: Path) -> None:
    node = Node(tmp_path / "member")
    try:
        node.execute(f"blockchain insert where policy = {GAUGE} and local = true")
        pid = _id(node, "g1")
        reply = node.execute(f'blockchain replace policy {pid} with {{"gauge": {{"name": "g2"}}}}').to_text()
        assert reply == f"gauge policy {pid} replaced in the local ledger"
        assert [(p["name"], p["id"]) for p in _local(node)] == [("g2", pid)]
    finally:
        node.close()


def test_replace_and_drop_by_host_on_both_engines(catalog: DatabaseCatalog, dbms: str) -> None:  # noqa: F811
    master.create_table(catalog, dbms)
    policies = [{"gauge": {"name": f"g{i}", "company": "acme"}} for i in range(4)]
    master.push(catalog, policies[:3], "10.0.0.78", dbms=dbms)
    master.push(catalog, policies[3:], "10.0.0.9", dbms=dbms)
    first = master.rows(catalog, dbms)[0][1]
    assert master.replace(catalog, first, {"gauge": {"name": "new"}}, "10.0.0.9", dbms=dbms)
    assert not master.replace(catalog, first, {"sensor": {"name": "new"}}, "10.0.0.9", dbms=dbms)
    assert not master.replace(catalog, "nope", {"gauge": {"name": "x"}}, "10.0.0.9", dbms=dbms)
    assert master.drop_by_host(catalog, "10.0.0.78", dbms=dbms) == 2
    assert master.drop_by_host(catalog, "10.0.0.78", dbms=dbms) == 0
    rows = master.rows(catalog, dbms)
    assert [(r[4], json.loads(r[6])["gauge"]["name"]) for r in rows] == [("10.0.0.9", "g3"), ("10.0.0.9", "new")]
    assert rows[1][1] == first


def test_drop_by_host_deletes_what_one_node_pushed(master_node: Node) -> None:
    node = master_node
    master.push(node.catalog, [{"gauge": {"name": "far", "company": "acme"}}], "10.0.0.78")
    assert node.execute("blockchain drop by host 10.0.0.78").to_text() == \
        "1 policy pushed by 10.0.0.78 dropped from the master's ledger"
    assert [p["name"] for p in _table(node)] == ["g0", "g1"]
    with pytest.raises(AnyNodeError, match="no policy pushed by 10.0.0.78") as err:
        node.execute("blockchain drop by host 10.0.0.78")
    assert err.value.anylog_code == 101


def test_update_file_takes_a_complete_ledger_file_only(master_node: Node, tmp_path: Path) -> None:
    node = master_node
    new = Path(str(node.get_var("blockchain_file"))).with_name("blockchain.new")
    new.write_text(json.dumps({"gauge": {"name": "only", "id": "0" * 32}}) + "\n")
    assert "(1 policies)" in node.execute("blockchain update file").to_text()
    assert [p["name"] for p in _local(node)] == ["only"]
    broken = tmp_path / "broken.json"
    broken.write_text('{"gauge": {"name": "half"\n')
    with pytest.raises(AnyNodeError, match="not complete"):
        node.execute(f"blockchain update file {broken}")
    assert [p["name"] for p in _local(node)] == ["only"]
    with pytest.raises(AnyNodeError, match="does not exist"):
        node.execute(f"blockchain update file {tmp_path / 'missing.json'}")


def test_update_to_a_platform_says_what_to_use_instead(master_node: Node) -> None:
    with pytest.raises(AnyNodeError, match="cannot update a policy on optimism"):
        master_node.execute(f"blockchain update to optimism 1234 {GAUGE}")
