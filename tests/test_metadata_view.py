"""The metadata view: get data nodes, blockchain query metadata, test network, liveness and the metadata ping.

Two clusters of two operators each on 127.0.0.1 (real TCP servers), one of
them down (tests/view_helpers.py), described by policies in the query
node's own ledger.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from anynode.errors import AnyNodeError
from anynode.metadata.view import metadata_view, view_cache
from tests.helpers import wait_until
from tests.view_helpers import Net, data_nodes, insert, make_net, status_of

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    n = make_net(tmp_path)
    yield n
    n.close()


def test_get_data_nodes_lists_each_table_s_clusters_and_their_operators_main_first(net: Net) -> None:
    rows = data_nodes(net.query)
    c1, c2 = net.clusters["c1"], net.clusters["c2"]
    got = [(r["Table"], r["Cluster ID"], r["Node Name"], r["Member ID"], r["External IP/Port"], r["Main"])
           for r in rows]
    a = net.addresses
    assert got == [("sensor", c1, "op1", 2, a[1], "+"), ("sensor", c1, "op0", 1, a[0], "-"),
                   ("sensor", c2, "op2", 3, a[2], "-"), ("sensor", c2, "op3", 4, a[3], "-"),
                   ("other", c2, "op2", 3, a[2], "-"), ("other", c2, "op3", 4, a[3], "-")]
    assert {(r["Company"], r["DBMS"], r["Cluster Status"], r["Node Status"]) for r in rows} == {
        ("acme", "demo", "active", "active")}  # nobody has been sent anything yet
    assert [r["Node Name"] for r in data_nodes(net.query, "table = other")] == ["op2", "op3"]
    assert data_nodes(net.query, "company = other_co") == []
    table = net.query.execute("get data nodes").to_text().splitlines()
    assert table[0].split("  ")[0] == "Company" and "Node Status" in table[0]
    assert table[2].startswith("acme     demo  sensor  " + c1)
    assert table[3].split()[0] == "active"  # company, dbms, table and cluster are written once per group


def test_test_network_says_who_answered_and_marks_the_silent_operator_not_responding(net: Net) -> None:
    rows = net.query.execute("test network where format = json").to_json()
    assert [(r["address"], r["type"], r["name"], r["status"]) for r in rows] == [
        (net.addresses[0], "operator", "op0", "+"), (net.addresses[1], "operator", "op1", "+"),
        (net.addresses[2], "operator", "op2", "+"), (net.addresses[3], "operator", "op3", "not_responding")]
    text = net.query.execute("test network with operator").to_text()
    assert text.splitlines()[0].split() == ["Address", "Node", "Type", "Node", "Name", "Status"]
    assert status_of(net.query, "op3") == "not_responding" and status_of(net.query, "op2") == "active"
    one = net.query.execute(f"test network with {net.addresses[0]} where format = json").to_json()
    assert one == [{"address": net.addresses[0], "type": "node", "name": "node", "status": "+"}]
    with pytest.raises(AnyNodeError, match="no node to test"):
        net.query.execute("test network with master")


def test_blockchain_query_metadata_draws_company_dbms_table_cluster_operators(net: Net) -> None:
    net.query.execute("test network")  # op3 is marked not_responding
    c1, c2 = net.clusters["c1"], net.clusters["c2"]
    a = net.addresses
    lines = net.query.execute("blockchain query metadata").to_text().splitlines()
    squeezed = [re.sub(r" {2,}", "  ", line) for line in lines]
    assert squeezed == [
        f"acme ==> demo ==> sensor ==> {c1} (c1) ==> [0002  remote active]  {a[1]}",
        f"  ==> [0001  remote active]  {a[0]}",
        f"  ==> {c2} (c2) ==> [0003  remote active]  {a[2]}",
        f"  ==> [0004  remote not_responding]  {a[3]}",
        f"  ==> other  ==> {c2} (c2) ==> [0003  remote active]  {a[2]}",
        f"  ==> [0004  remote not_responding]  {a[3]}"]
    arrows = [line.index("==>", 40) for line in lines[:2]]
    assert arrows[0] == arrows[1]  # the second operator sits under the first
    only = net.query.execute("blockchain query metadata where table = other").to_text().splitlines()
    assert len(only) == 2 and "other" in only[0] and "sensor" not in only[0]


def test_the_view_is_rebuilt_only_when_the_ledger_changes(net: Net) -> None:
    first = metadata_view(net.query)
    builds = view_cache(net.query).builds
    net.query.execute("get data nodes")
    net.query.execute("blockchain query metadata")
    assert metadata_view(net.query) is first and view_cache(net.query).builds == builds
    insert(net.query, {"cluster": {"company": "acme", "name": "c1", "parent": net.clusters["c1"],
                                   "table": [{"dbms": "demo", "name": "events"}]}})
    assert [r["Node Name"] for r in data_nodes(net.query, "table = events")] == ["op1", "op0"]
    second = metadata_view(net.query)
    assert second is not first and second.version != first.version and view_cache(net.query).builds == builds + 1
    assert [c.name for c in second.clusters_of("demo", "events")] == ["c1"]


def test_routing_api_clusters_of_operators_of_and_pick(net: Net) -> None:
    view = metadata_view(net.query)
    assert [c.name for c in view.clusters_of("demo", "sensor")] == ["c1", "c2"]
    assert [c.name for c in view.clusters_of("DEMO", "Sensor", company="ACME")] == ["c1", "c2"]
    assert view.clusters_of("demo", "nothing") == []
    assert [m.name for m in view.operators_of(net.clusters["c1"])] == ["op1", "op0"]
    assert [m.address for m in view.pick("demo", "sensor")] == [net.addresses[1], net.addresses[2]]
    net.query.execute(f"run client ({net.addresses[2]}) get status")
    net.operators[2].execute("exit tcp")
    with pytest.raises(AnyNodeError):
        net.query.execute(f"run client ({net.addresses[2]}) get status")
    assert status_of(net.query, "op2") == "not_responding"  # the failed send marked it
    view.alive.mark(net.addresses[3], False)
    with pytest.raises(AnyNodeError, match="no responding operator in cluster .* for table demo.other"):
        view.pick("demo", "other")
    assert [m.name for m in view.pick("demo", "sensor", subset=True)] == ["op1"]


def test_blockchain_test_cluster_ok_and_a_broken_cluster_named(net: Net, tmp_path: Path) -> None:
    assert net.query.execute("blockchain test cluster").to_text() == "Blockchain cluster policies status: OK"
    assert net.query.execute("blockchain test cluster where name = c2").to_text().endswith("OK")
    with pytest.raises(AnyNodeError, match="no cluster policy in the local ledger matches"):
        net.query.execute("blockchain test cluster where name = c9")
    ledger = Path(net.query.get_var("blockchain_file") or "")
    with ledger.open("a") as f:
        f.write('{"cluster": {"company": "acme", "name": "c3", "id": "c3id", "table": [{"name": "t"}]}}\n')
    with pytest.raises(AnyNodeError) as err:
        net.query.execute("blockchain test cluster")
    assert "Failure: cluster c3id: table entry 0 needs a name and a dbms" in err.value.message
    assert getattr(err.value, "anylog_code", None) == 87


def test_the_metadata_ping_brings_a_returning_operator_back(tmp_path: Path) -> None:
    net = make_net(tmp_path, "metadata_ping_interval = 0.2\npeer_ping_timeout = 1\n")
    try:
        net.query.execute("test network")
        assert status_of(net.query, "op3") == "not_responding"
        assert net.query.execute("set servers ping").to_text() == "1 operator(s) not responding pinged, 0 answered"
        port = net.addresses[3].split(":")[1]
        net.operators[0].execute("exit tcp")  # op0 goes away and op3 comes up, served by the same node
        net.operators[0].execute(f"run tcp server where internal_ip = 127.0.0.1 and internal_port = {port} "
                                 "and bind = true")
        with pytest.raises(AnyNodeError):
            net.query.execute(f"run client ({net.addresses[0]}) get status")
        assert status_of(net.query, "op0") == "not_responding"
        net.query.execute("run scheduler 0")
        wait_until(lambda: status_of(net.query, "op3") == "active", 10, "the ping to bring op3 back")
        assert status_of(net.query, "op0") == "not_responding"  # still down: pinged, no answer
        row = next(t for t in net.query.execute("get scheduler 0 where format = json").to_json()[0]["Tasks"]
                   if t["Name"] == "Metadata ping")
        assert row["Repeat time"] == "0:00:00.2" and row["Runs"] >= 1 and row["System"] is True
        assert re.fullmatch(r"Success: [12] operator\(s\) pinged", row["Last status"])
    finally:
        net.close()


def test_a_node_without_metadata_has_no_data_nodes_and_nothing_to_ping(node, run) -> None:  # type: ignore[no-untyped-def]
    assert node.execute("get data nodes where format = json").to_json() == []
    assert run("blockchain query metadata") == "no table is assigned to a cluster in the metadata"
    assert run("set servers ping") == "0 operator(s) not responding pinged, 0 answered"
    assert run("get cluster info").startswith("Cluster data is not available: no operator policy")
    with pytest.raises(AnyNodeError, match="no cluster policy in the local ledger"):
        run("blockchain test cluster")


def test_a_down_cluster_or_table_does_not_route(net: Net) -> None:
    c4 = insert(net.query, {"cluster": {"company": "acme", "name": "c4", "status": "down"}})
    insert(net.query, {"cluster": {"company": "acme", "name": "c4", "parent": c4,
                                   "table": [{"dbms": "demo", "name": "sensor"}]}})
    insert(net.query, {"cluster": {"company": "acme", "name": "c1", "parent": net.clusters["c1"],
                                   "table": [{"dbms": "demo", "name": "other", "status": "down"}]}})
    view = metadata_view(net.query)
    assert [c.name for c in view.clusters_of("demo", "sensor")] == ["c1", "c2"]  # c4 is down
    assert [c.name for c in view.clusters_of("demo", "other")] == ["c2"]  # c1 lists it down
    rows = data_nodes(net.query, "table = other")
    assert {(r["Cluster ID"], r["Cluster Status"]) for r in rows} == {(net.clusters["c2"], "active"),
                                                                      (net.clusters["c1"], "down")}
    assert c4 not in {r["Cluster ID"] for r in data_nodes(net.query)}


def test_test_node_checks_the_metadata_and_this_node_s_own_servers(net: Net) -> None:
    from tests.rest_helpers import start as start_rest

    node = net.operators[1]
    before = node.execute("test node where format = json").to_json()
    assert before["Metadata Version"] == "none" and "does not exist" in before["Metadata Test"]
    assert before["TCP test using " + net.addresses[1]] == "op1@" + node.get_var("tcp_address") + " running"
    assert before["REST test"] == "the REST server is not running"
    url = start_rest(node)
    insert(node, {"cluster": {"company": "acme", "name": "c1"}})
    after = node.execute("test node where format = json").to_json()
    assert after["Metadata Version"] == node.execute("get metadata version").to_text()
    assert after["Metadata Test"] == "Pass"
    assert after[f"REST test using {url}"].endswith(" running")
    assert node.execute("test node").to_text().splitlines()[0].split() == ["Test", "Status"]
