"""Network queries over real operators on 127.0.0.1 (issue 15): query frames, replies in parts, failover, subset."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from anynode.net.errors import PeerError
from anynode.node import Node
from anynode.query.network import Target, sources
from anynode.query.run import NetworkQueryError, run_query
from tests.helpers import free_port, start_tcp

QUERIES = [
    "select count(*), sum(n), avg(v), min(ts), max(ts) from readings",
    "select device, count(*), avg(v) from readings group by device order by device",
    "select device, ts, v from readings order by v desc, ts, device limit 7",
    "select count(distinct device) from readings where n > 3",
    "select increments(hour, 1, ts), count(*), max(v) from readings",
]


@pytest.fixture
def network(tmp_path: Path) -> Iterator[tuple[Node, list[str], sqlite3.Connection]]:
    """Three operators (TCP servers, a demo database each), a query node, and one database with all the rows."""
    rng = random.Random(7)
    whole = sqlite3.connect(":memory:", check_same_thread=False)
    whole.execute("create table readings (device text, ts text, v real, n integer)")
    nodes, addresses = [], []
    for i in range(3):
        op = Node(tmp_path / f"op{i}")
        nodes.append(op)
        op.execute("connect dbms demo where type = sqlite")
        op.execute('sql demo "create table readings (device text, ts text, v real, n integer)"')
        rows = [(f"d{rng.randrange(4)}", f"2026-01-01 {rng.randrange(24):02d}:{rng.randrange(60):02d}:00",
                 round(rng.uniform(-50, 50), 2), rng.randrange(10)) for _ in range(300)]
        values = ", ".join(f"('{d}', '{t}', {v}, {n})" for d, t, v, n in rows)
        op.execute(f'sql demo "insert into readings values {values}"')
        whole.executemany("insert into readings values (?, ?, ?, ?)", rows)
        addresses.append(start_tcp(op))
    query = Node(tmp_path / "query")
    nodes.append(query)
    try:
        yield query, addresses, whole
    finally:
        for n in nodes:
            n.close()


def _rows(answer: object) -> list[tuple[object, ...]]:
    return [tuple(r) for chunk in answer.chunks for r in chunk]  # type: ignore[attr-defined]


@pytest.mark.parametrize("query", QUERIES)
def test_three_operators_answer_as_one_database(network: tuple[Node, list[str], sqlite3.Connection],
                                                query: str) -> None:
    node, addresses, whole = network
    routes = [Target(a, (a,)) for a in addresses]
    got = _rows(run_query(query, sources(node.client(), routes, "demo", 10.0)))
    if "increments" in query:
        want = _rows(run_query(query, [_Local(whole)]))
    else:
        want = whole.execute(query).fetchall()
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g == pytest.approx(w) if all(isinstance(x, (int, float)) for x in g) else g[:1] == w[:1]


class _Local:
    name, engine = "whole", "sqlite"

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def query(self, sql: str) -> tuple[list[str], list[list[tuple[object, ...]]]]:
        cur = self.db.execute(sql)
        return [d[0] for d in cur.description], [cur.fetchall()]


def test_a_cluster_whose_main_is_down_is_answered_by_another_member(
        network: tuple[Node, list[str], sqlite3.Connection]) -> None:
    node, addresses, _ = network
    down = f"127.0.0.1:{free_port()}"
    marked: list[str] = []
    srcs = sources(node.client(), [Target("cluster-1", (down, addresses[0]))], "demo", 5.0, marked.append)
    assert _rows(run_query("select count(*) from readings", srcs)) == [(300,)]
    assert marked == [down] and srcs[0].answered_by == addresses[0]


def test_a_missing_operator_fails_the_query_unless_subset(network: tuple[Node, list[str], sqlite3.Connection]) -> None:
    node, addresses, _ = network
    routes = [Target("c1", (addresses[0],)), Target("c2", (f"127.0.0.1:{free_port()}",))]
    with pytest.raises(NetworkQueryError, match="1 of 2 source.*c2.*no operator of c2 answered"):
        _rows(run_query("select count(*) from readings", sources(node.client(), routes, "demo", 5.0)))
    answer = run_query("select count(*) from readings", sources(node.client(), routes, "demo", 5.0), subset=True)
    assert _rows(answer) == [(300,)] and answer.replied == ["c1"] and list(answer.failed) == ["c2"]


def test_an_operator_error_is_the_query_error(network: tuple[Node, list[str], sqlite3.Connection]) -> None:
    node, addresses, _ = network
    srcs = sources(node.client(), [Target(a, (a,)) for a in addresses], "nodb", 5.0)
    with pytest.raises(NetworkQueryError, match="nodb"):
        _rows(run_query("select count(*) from readings", srcs))


def test_a_query_frame_cannot_write(network: tuple[Node, list[str], sqlite3.Connection]) -> None:
    node, addresses, _ = network
    for text in ("delete from readings", "select 1; delete from readings", "drop table readings"):
        parts = node.client().stream(addresses[0], {"kind": "query", "dbms": "demo", "sql": {"sqlite": text}})
        with pytest.raises(PeerError):
            list(parts)
    assert _rows(run_query("select count(*) from readings", sources(
        node.client(), [Target(addresses[0], (addresses[0],))], "demo", 5.0))) == [(300,)]


def test_a_large_answer_comes_in_parts(tmp_path: Path) -> None:
    op, query = Node(tmp_path / "op"), Node(tmp_path / "q")
    try:
        op.execute("connect dbms demo where type = sqlite")
        op.execute('sql demo "create table big (k integer, pad text)"')
        op.execute("sql demo \"insert into big with recursive s(k) as (select 1 union all select k + 1 from s "
                   "where k < 60000) select k, 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' from s\"")
        address = start_tcp(op)
        parts = list(query.client().stream(address, {"kind": "query", "dbms": "demo",
                                                      "sql": {"sqlite": "select * from big"}}))
        assert len(parts) == 12 and [bool(h.get("more")) for h, _ in parts] == [True] * 11 + [False]
        answer = run_query("select k from big where k > 10", sources(query.client(), [Target("op", (address,))],
                                                                    "demo", 30.0))
        sizes = [len(c) for c in answer.chunks]
        assert sum(sizes) == 59990 and max(sizes) == 5000  # passed through part by part, never as one list
    finally:
        op.close()
        query.close()


def test_a_reader_that_stops_early_leaves_the_connection_usable(
        network: tuple[Node, list[str], sqlite3.Connection]) -> None:
    node, addresses, _ = network
    header = {"kind": "query", "dbms": "demo", "sql": {"sqlite": "select * from readings"}, "rows_per_frame": 10}
    parts = node.client().stream(addresses[0], header)
    head, _ = next(parts)
    assert head["more"] and head["columns"] == ["device", "ts", "v", "n"]
    parts.close()  # the rest is not wanted: that connection is dropped, not pooled with frames unread
    again = list(node.client().stream(addresses[0], {**header, "rows_per_frame": 1000}))
    assert len(again) == 1 and not again[0][0]["more"]
