"""The master's ledger table (SQLite and PostgreSQL), its commands, and members pushing to it over TCP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from anynode.errors import AnyNodeError, RemoteError
from anynode.metadata import master
from anynode.metadata.policy import PolicyError
from anynode.node import Node
from anynode.store.catalog import DatabaseCatalog
from tests.data_helpers import catalog, dbms, kind  # noqa: F401  (fixtures)
from tests.helpers import dead_address, start_tcp

OP = {"master": {"company": "acme", "name": "m1", "ip": "127.0.0.1", "port": 32048}}
QUERY = '{"query": {"company": "acme", "name": "q1", "ip": "127.0.0.1", "port": 32348}}'


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Node, Node, str]]:
    """A master (blockchain dbms, ledger table, TCP) and a member; the master's ip:port."""
    m, member = Node(tmp_path / "master", name="master"), Node(tmp_path / "member", name="member")
    m.execute("connect dbms blockchain where type = sqlite")
    m.execute("blockchain create table")
    addr = start_tcp(m)
    yield m, member, addr
    member.close()
    m.close()


def _ids(node: Node) -> list[str]:
    return [next(iter(p.values()))["id"] for p in json.loads(node.execute("blockchain pull to stdout").to_text())]


# -- the table, on both engines ---------------------------------------------------------------
def test_ledger_table_push_drop_and_export_on_both_engines(catalog: DatabaseCatalog, dbms: str) -> None:  # noqa: F811
    assert master.create_table(catalog, dbms) is True
    assert master.create_table(catalog, dbms) is False
    cols = [c for c, _ in catalog.columns(dbms, "ledger")]
    assert cols == ["sequence_id", *master.COLUMNS]
    added, known = master.push(catalog, [json.loads(json.dumps(OP)), json.loads(QUERY)], "10.0.0.5", dbms=dbms)
    assert (added, known) == (2, [])
    with pytest.raises(PolicyError, match="already") as err:
        master.push(catalog, [json.loads(json.dumps(OP))], "10.0.0.5", dbms=dbms)
    assert err.value.anylog_code == 70
    assert master.push(catalog, [json.loads(json.dumps(OP))], "h", ignore=True, dbms=dbms)[0] == 0
    rows = master.rows(catalog, dbms)
    assert [(r[0], r[2], r[4], r[5]) for r in rows] == [("master", "acme", "10.0.0.5", None),
                                                         ("query", "acme", "10.0.0.5", None)]
    data, md5 = master.export(catalog, master.Exports(), dbms)
    lines = [json.loads(x) for x in data.splitlines()]
    assert [next(iter(p)) for p in lines] == ["master", "query"]
    assert all(next(iter(p.values()))["ledger"] == "global" for p in lines)
    assert master.drop(catalog, rows[0][1], dbms) == 1
    assert master.drop(catalog, rows[0][1], dbms) == 0
    assert master.export(catalog, None, dbms)[1] != md5
    assert "insert into ledger" in master.to_sql(master.rows(catalog, dbms))


def test_master_commands_without_the_blockchain_database_say_what_to_connect(node: Node) -> None:
    for line in ("blockchain create table", f"blockchain push {QUERY}", "blockchain drop policy where id = x",
                 "blockchain pull to stdout"):
        with pytest.raises(PolicyError, match="needs the database 'blockchain'.*not connected") as err:
            node.execute(line)
        assert err.value.hint and "connect dbms blockchain" in err.value.hint


def test_push_pull_drop_and_update_dbms_on_the_master(node: Node, tmp_path: Path) -> None:
    node.execute("connect dbms blockchain where type = sqlite")
    with pytest.raises(PolicyError, match="no ledger table"):
        node.execute("blockchain pull to stdout")
    assert "added" in node.execute(f"blockchain push {QUERY}").to_text()  # makes the table
    with pytest.raises(PolicyError, match="already"):
        node.execute(f"blockchain push {QUERY}")
    assert "already in the ledger" in node.execute(f"blockchain push ignore {QUERY}").to_text()
    out = tmp_path / "l.json"
    assert "1 policies" in node.execute(f"blockchain pull to json {out}").to_text()
    assert json.loads(out.read_text())["query"]["name"] == "q1"
    sql = tmp_path / "l.sql"
    node.execute(f"blockchain pull to sql {sql}")
    assert sql.read_text().startswith("insert into ledger (policy_type, policy_id")
    pid = json.loads(out.read_text())["query"]["id"]
    assert "dropped" in node.execute(f"blockchain drop policy where id = {pid}").to_text()
    with pytest.raises(PolicyError, match="no policy with id"):
        node.execute(f"blockchain drop policy where id = {pid}")
    node.execute("blockchain insert where policy = " + json.dumps(OP) + " and local = true")
    assert "1 policies added" in node.execute("blockchain update dbms ignore message").to_text()
    assert "0 policies added to the ledger table, 1 were there" in node.execute("blockchain update dbms").to_text()


# -- members push over TCP ----------------------------------------------------------------------
def test_insert_with_master_writes_locally_and_pushes_to_the_master(pair: tuple[Node, Node, str]) -> None:
    m, member, addr = pair
    text = member.execute(f"blockchain insert where policy = {QUERY} and local = true and master = {addr}").to_text()
    assert "added to the local ledger and pushed to master" in text
    local = json.loads(member.execute("blockchain get query").to_text())[0]["query"]
    assert local["ledger"] == "local"
    row = master.rows(m.catalog)[0]
    assert row[1] == local["id"] and row[4] == "127.0.0.1"
    assert json.loads(row[6])["query"]["ledger"] == "global"
    # local defaults to true once a master is named; local = false pushes only
    op = json.dumps(OP)
    member.execute(f"blockchain insert where policy = {op} and master = {addr}")
    q2 = QUERY.replace("q1", "q2").replace("32348", "32349")
    assert "pushed to master" in member.execute(f"blockchain insert where policy = {q2} and local = false "
                                                f"and master = {addr}").to_text()
    assert len(_ids(m)) == 3 and len(json.loads(member.execute("blockchain get *").to_text())) == 2


def test_a_failed_push_after_the_local_write_is_a_warning_and_nothing_written_is_an_error(node: Node) -> None:
    dead = dead_address()
    text = node.execute(f"blockchain insert where policy = {QUERY} and local = true and master = {dead}").to_text()
    assert "added to the local ledger; warning: not pushed to master" in text and "refused" in text
    q2 = QUERY.replace("q1", "q2").replace("32348", "32349")
    with pytest.raises(PolicyError, match="was not written"):
        node.execute(f"blockchain insert where policy = {q2} and local = false and master = {dead}")
    assert len(json.loads(node.execute("blockchain get *").to_text())) == 1


def test_delete_policy_with_master_drops_it_there_too(pair: tuple[Node, Node, str]) -> None:
    m, member, addr = pair
    member.execute(f"blockchain insert where policy = {QUERY} and local = true and master = {addr}")
    pid = _ids(m)[0]
    text = member.execute(f"blockchain delete policy where id = {pid} and master = {addr}").to_text()
    assert "deleted from the local ledger and from master" in text
    assert _ids(m) == []
    with pytest.raises(PolicyError, match="not deleted"):
        member.execute(f"blockchain delete policy where id = {pid} and master = {addr}")


def test_a_peer_may_push_and_drop_but_not_run_the_other_master_commands(pair: tuple[Node, Node, str]) -> None:
    m, member, addr = pair
    assert "added" in member.execute(f"run client ({addr}) blockchain push {QUERY}").to_text()
    for line in ("blockchain create table", "blockchain drop table", "blockchain pull to json",
                 "blockchain update dbms", "blockchain insert where policy = {} and local = true"):
        with pytest.raises(RemoteError, match="may not be run by a peer"):
            member.execute(f"run client ({addr}) {line}")
    assert len(_ids(m)) == 1


def test_a_peer_push_is_not_expanded_with_the_masters_variables(pair: tuple[Node, Node, str]) -> None:
    m, member, addr = pair
    m.execute("secret_word = hunter2")
    policy = '{"query": {"company": "acme", "name": "q9", "note": !!secret_word}}'
    with pytest.raises(AnyNodeError, match="not valid JSON"):
        member.execute(f"run client ({addr}) blockchain push {policy}")
    assert "hunter2" not in json.dumps(json.loads(m.execute("blockchain pull to stdout").to_text()))


def test_an_unkeyed_member_cannot_push_to_a_keyed_master(pair: tuple[Node, Node, str]) -> None:
    m, member, addr = pair
    m.execute("set network key s3cret-network")
    with pytest.raises(PolicyError, match="was not written"):
        member.execute(f"blockchain insert where policy = {QUERY} and local = false and master = {addr}")
    assert _ids(m) == []
    member.execute("set network key s3cret-network")
    member.execute(f"blockchain insert where policy = {QUERY} and local = false and master = {addr}")
    assert len(_ids(m)) == 1


def test_drop_policy_takes_several_ids_and_refuses_the_ip_form(node: Node) -> None:
    node.execute("connect dbms blockchain where type = sqlite")
    node.execute(f"blockchain push {QUERY}")
    node.execute("blockchain push " + json.dumps(OP))
    both = ",".join(_ids(node))
    assert node.execute(f"blockchain drop policy where id = {both},nosuchid").to_text() == \
        "2 policies dropped from the master's ledger; not there: nosuchid"
    assert _ids(node) == []
    node.execute(f"p = {QUERY}")
    with pytest.raises(AnyNodeError, match="not supported"):
        node.execute("blockchain drop policy !p where ip = 10.0.0.25")
