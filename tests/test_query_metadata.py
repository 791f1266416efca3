"""`run client () sql` routed by the metadata (issue 15, item 1): every cluster holding the table, main first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from anynode.errors import AnyNodeError
from tests.rest_helpers import start
from tests.view_helpers import Net, make_net

ROWS = {0: [("a", 1), ("b", 2)], 1: [("a", 1), ("b", 2)], 2: [("a", 10), ("c", 30), ("c", 31)]}  # op0/op1: replicas


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    net = make_net(tmp_path)
    try:
        for n, op in enumerate(net.operators):
            op.execute("connect dbms demo where type = sqlite")
            op.execute('sql demo "create table sensor (device text, value integer)"')
            values = ", ".join(f"('{d}', {v})" for d, v in ROWS[n])
            op.execute(f'sql demo "insert into sensor values {values}"')
        yield net
    finally:
        net.close()


def _json(net: Net, line: str) -> dict:  # type: ignore[type-arg]
    out = net.query.execute(line).to_json()
    assert isinstance(out, dict), out
    return out


def test_the_network_answers_as_one_database(net: Net) -> None:
    out = _json(net, 'run client () sql demo format = json "select device, count(*) as n, sum(value) as total '
                     'from sensor group by device order by device"')
    assert out["Query"] == [{"device": "a", "n": 2, "total": 11}, {"device": "b", "n": 1, "total": 2},
                            {"device": "c", "n": 2, "total": 61}]  # c1 counted once (one member), c2 once
    assert out["Statistics"][0]["Nodes"] == 2
    table = net.query.execute('run client () sql demo "select max(value) from sensor"')
    assert table.rows == ((31,),) and "from 2 node(s)" in table.title


def test_a_cluster_whose_main_is_down_is_answered_by_its_other_member(net: Net) -> None:
    net.operators[1].close()  # op1, c1's main
    out = _json(net, 'run client () sql demo format = json "select count(*) as n from sensor"')
    assert out["Query"] == [{"n": 5}]
    down = [r for r in net.query.execute("get data nodes where format = json").to_json() if r["Node Name"] == "op1"]
    assert down and all(r["Node Status"] != "active" for r in down)  # the failed send marked it


def test_a_whole_cluster_down_fails_unless_subset(net: Net) -> None:
    net.operators[2].close()  # c2: op2 closed, op3 never listened
    with pytest.raises(AnyNodeError, match="c2"):
        net.query.execute('run client () sql demo "select count(*) from sensor"')
    out = _json(net, 'run client (subset = true) sql demo format = json "select count(*) as n from sensor"')
    assert out["Query"] == [{"n": 2}] and out["Statistics"][0]["Not replied"] == ["c2"]


@pytest.mark.parametrize("query, words", [
    ('sql demo "select * from nothing"', "no cluster holds table demo.nothing"),
    ('sql demo "delete from sensor"', "only a SELECT"),
    ('sql demo "select * from sensor s join other o on s.device = o.device"', "one table"),
    ("get status", "only for sql"),
])
def test_clear_errors(net: Net, query: str, words: str) -> None:
    with pytest.raises(AnyNodeError, match=words):
        net.query.execute(f"run client () {query}")


def test_named_peers_answer_as_one_database_too(net: Net) -> None:
    a, _, c = net.addresses[:3]
    out = _json(net, f'run client ({a}, {c}) sql demo format = json "select avg(value) as mean from sensor"')
    assert out["Query"] == [{"mean": pytest.approx((1 + 2 + 10 + 30 + 31) / 5)}]


def test_rest_destination_network_answers_as_one_database(net: Net) -> None:
    url = start(net.query)
    reply = httpx.get(url, headers={"User-Agent": "AnyLog/1.23", "destination": "network",
                                    "command": 'sql demo "select device, sum(value) as total from sensor '
                                               'group by device order by device"'}, timeout=20)
    assert reply.status_code == 200, reply.text
    assert reply.json()["Query"] == [{"device": "a", "total": 11}, {"device": "b", "total": 2},
                                     {"device": "c", "total": 61}]
    refused = httpx.get(url, headers={"User-Agent": "AnyLog/1.23", "destination": "network",
                                      "command": "get status"}, timeout=20)
    assert refused.status_code == 501 and "sql" in refused.text


def test_query_status_shows_each_cluster_of_the_last_query(net: Net) -> None:
    assert "no network query yet" in net.query.execute("query status").to_text()
    net.query.execute('run client () sql demo "select device, value from sensor"').to_text()  # read to the end
    rows = net.query.execute("get query status where format = json").to_json()
    assert rows[0]["Operator"] == "All" and rows[0]["Status"] == "Completed" and rows[0]["Rows"] == 5
    shares = {r["Operator"]: r for r in rows[1:]}
    assert set(shares) == {"c1", "c2"} and all(r["Status"] == "Completed" for r in shares.values())
    assert shares["c1"]["Answered By"] == net.addresses[1]  # c1's main
    assert shares["c1"]["Rows"] == 2 and shares["c2"]["Rows"] == 3
    with pytest.raises(AnyNodeError):
        net.query.execute('run client () sql demo "select * from nothing_here"')
    assert len(net.query.execute("query status all where format = json").to_json()) == 3  # the failed one: no job
