"""Routing by the metadata: run client destinations from policies, and an operator that joins its cluster.

The network of tests/view_helpers.py: clusters c1 (op0, op1 main) and c2
(op2, op3), op3 down.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from anynode.errors import AnyNodeError
from tests.helpers import INGEST_WAIT, count_rows, drop, wait_until, watch
from tests.view_helpers import Net, data_nodes, make_net, publish, status_of

pytestmark = pytest.mark.timeout(40)


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    n = make_net(tmp_path)
    yield n
    n.close()


def replies(net: Net, line: str) -> dict[str, object]:
    found: dict[str, object] = net.query.execute(line).to_json()
    return found


def test_run_client_to_the_operators_a_blockchain_get_names(net: Net) -> None:
    a = net.addresses
    got = replies(net, "run client (blockchain get operator bring.ip_port) get node name")
    assert list(got) == a and got[a[0]] == "op0" and got[a[2]] == "op2"
    assert "refused" in str(got[a[3]])  # op3: nothing listens
    assert status_of(net.query, "op3") == "not_responding"  # the failed send marked it
    assert replies(net, "run client (blockchain get operator where name = op1 bring.ip_port) get node name") == {
        a[1]: "op1"}
    assert replies(net, "run client (blockchain get operator where cluster = " + net.clusters["c2"]
                   + ") get node name")[a[2]] == "op2"  # bring.ip_port is added when the query has none
    net.query.set_var("who", "op0")
    assert replies(net, "run client (operator where name = !who, timeout = 5) get node name") == {a[0]: "op0"}


def test_run_client_to_the_operators_of_a_table_takes_one_live_operator_per_cluster(net: Net) -> None:
    a = net.addresses
    assert replies(net, "run client (dbms = demo and table = sensor) get node name") == {a[1]: "op1", a[2]: "op2"}
    net.operators[1].execute("exit tcp")  # the main operator of c1 goes away
    with pytest.raises(AnyNodeError):
        net.query.execute(f"run client ({a[1]}) get status")
    assert replies(net, "run client (dbms = demo and table = sensor) get node name") == {a[0]: "op0", a[2]: "op2"}
    net.operators[2].execute("exit tcp")
    with pytest.raises(AnyNodeError, match="no peer answered"):
        net.query.execute(f"run client ({a[2]}, {a[3]}) get status")
    with pytest.raises(AnyNodeError, match="no responding operator in cluster .*c2.* for table demo.other"):
        net.query.execute("run client (dbms = demo and table = other) get status")
    assert replies(net, "run client (dbms = demo and table = sensor, subset = true) get node name") == {a[0]: "op0"}


@pytest.mark.parametrize(("dest", "error"), [
    ("(blockchain get operator where name = nobody bring.ip_port)", "found no node in the local ledger"),
    ("(dbms = demo and table = nothing)", "no cluster holds table demo.nothing"),
    ("(dbms = demo)", "needs both dbms and table"),
    ("(blockchain delete policy where id = 1)", "only blockchain get names peers"),
    ("(blockchain get operator bring [*][name])", "gave 'op0.*', which is not ip:port"),
])
def test_a_metadata_destination_that_names_no_peer_is_a_clear_error(net: Net, dest: str, error: str) -> None:
    with pytest.raises(AnyNodeError, match=error) as err:
        net.query.execute(f"run client {dest} get status")
    assert err.value.hint
    assert len(net.query.execute("blockchain get operator").to_json()) == 4  # nothing was deleted


def test_run_operator_with_its_policy_joins_the_cluster_and_adds_its_new_table(tmp_path: Path, net: Net) -> None:
    op0 = net.operators[0]
    clusters, ids = publish(op0, net.addresses)  # the same policies, in op0's own ledger
    with pytest.raises(AnyNodeError, match="Missing Operator policy with ID nope") as err:
        op0.execute("run operator where policy = nope")
    assert err.value.anylog_code == 113
    op0.execute("connect dbms demo where type = sqlite")
    reply = op0.execute(f"run operator where policy = {ids[0]} and rescan = 0.3 seconds").to_text()
    try:
        assert "Cluster Member: True" in reply and clusters["c1"] in reply
        drop(watch(op0), "demo.readings.json", json.dumps([{"v": 1}, {"v": 2}]).encode())
        drop(watch(op0), "demo.sensor.json", json.dumps([{"v": 3}]).encode())
        wait_until(lambda: count_rows(op0, "demo", "readings") == 2 and count_rows(op0, "demo", "sensor") == 1,
                   INGEST_WAIT, "the rows")
        wait_until(lambda: data_nodes(op0, "table = readings"), 10, "readings in the cluster")
    finally:
        op0.services.stop("Operator")
    assert [(r["Cluster ID"], r["Node Name"]) for r in data_nodes(op0, "table = readings")] == [
        (clusters["c1"], "op1"), (clusters["c1"], "op0")]
    child = op0.execute("blockchain get cluster where [cluster][source] contains node").to_json()
    assert [c["cluster"]["table"][0]["name"] for c in child] == ["readings"]  # sensor: c1 held it already
    assert child[0]["cluster"]["parent"] == clusters["c1"] and child[0]["cluster"]["name"] == "c1"
    assert child[0]["cluster"]["source"] == f"Node at {net.addresses[0]}"
    info = op0.execute("get cluster info where format = json").to_json()
    assert info["Cluster ID"] == clusters["c1"] and info["Member ID"] == 1 and info["Cluster Name"] == "c1"
    assert [(t["DBMS"], t["Table"]) for t in info["Tables"]] == [("demo", "sensor"), ("demo", "readings")]
    assert [o["Member"] for o in info["Operators"]] == [2, 1]
    picture = op0.execute("blockchain query metadata where table = readings").to_text()
    assert "[0001  local  active]" in picture and "[0002  remote active]" in picture
    text = op0.execute("get cluster info").to_text()
    assert "Participating Operators:" in text and "Tables Supported:" in text


def test_the_rest_destination_header_takes_a_metadata_query_too(net: Net) -> None:
    import httpx

    from tests.rest_helpers import ANYLOG, start

    url = start(net.query)
    a = net.addresses
    r = httpx.get(url, headers={"command": "get node name", "destination": "blockchain get operator where "
                                "[name] == op0 or [name] == op2 bring.ip_port", **ANYLOG}, timeout=10)
    assert r.status_code == 200 and set(r.text.split("[From Node ")[1:]) == {f"{a[0]}]\nop0\n", f"{a[2]}]\nop2\n"}
    r = httpx.get(url, headers={"command": "get node name", "destination": "(dbms = demo and table = other)",
                                **ANYLOG}, timeout=10)
    assert r.text == f"[From Node {a[2]}]\nop2\n"
    r = httpx.get(url, headers={"command": "get status", "destination": "operator where name = nobody", **ANYLOG},
                  timeout=10)
    assert r.status_code == 404 and "found no node" in r.json()["error"]
