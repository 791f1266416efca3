"""Grafana's /query over four operators, each its own cluster with its own rows (issue 15, done-when).

A day at a one-minute interval must give 1,440 points per series, equal to
the same increments() query on one database that holds every operator's rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from anynode.node import Node
from tests.helpers import start_tcp
from tests.query_helpers import day_by_minute
from tests.rest_helpers import start
from tests.view_helpers import insert

GRAFANA = {"User-Agent": "Grafana/11.3.0", "al.dbms.demo": "demo"}
DAY = "with recursive s(k) as (select 0 union all select k + 1 from s where k < 1439) "


def _rows(n: int) -> str:
    """Operator n's readings: one a minute at second 15 * n, values its own."""
    return (f"select 'dev{n}', datetime('2026-01-01', '+' || (k * 60 + {15 * n}) || ' seconds'), "
            f"(k * {n + 3}) % {89 + 10 * n} from s")


@pytest.fixture
def four(tmp_path: Path) -> Iterator[tuple[str, sqlite3.Connection]]:
    query = Node(tmp_path / "query", name="query")
    operators: list[Node] = []
    whole = sqlite3.connect(":memory:", check_same_thread=False)
    whole.execute("create table ping_sensor (device_name text, timestamp text, value real)")
    try:
        for n in range(4):
            op = Node(tmp_path / f"op{n}", name=f"op{n}")
            operators.append(op)
            op.execute("connect dbms demo where type = sqlite")
            op.execute('sql demo "create table ping_sensor (device_name text, timestamp text, value real)"')
            op.execute(f'sql demo "insert into ping_sensor {DAY}{_rows(n)}"')
            whole.execute(f"insert into ping_sensor {DAY}{_rows(n)}")
            ip, port = start_tcp(op).split(":")
            root = insert(query, {"cluster": {"company": "acme", "name": f"c{n}"}})
            insert(query, {"cluster": {"company": "acme", "name": f"c{n}", "parent": root,
                                       "table": [{"dbms": "demo", "name": "ping_sensor"}]}})
            insert(query, {"operator": {"company": "acme", "name": f"op{n}", "cluster": root, "ip": ip,
                                        "port": int(port), "member": 1, "main": True}})
        yield start(query), whole
    finally:
        for node in [query, *operators]:
            node.close()


def test_a_day_at_one_minute_over_four_operators(four: tuple[str, sqlite3.Connection]) -> None:
    url, whole = four
    body = {"range": {"from": "2026-01-01T00:00:00.000Z", "to": "2026-01-01T23:59:59.999Z"},
            "intervalMs": 60000, "maxDataPoints": 2000,
            "targets": [{"target": "ping_sensor", "refId": "A", "type": "timeserie"}]}
    reply = httpx.post(url + "/query", json=body, headers=GRAFANA, timeout=60)
    assert reply.status_code == 200, reply.text
    series = reply.json()
    assert [s["target"] for s in series] == ["ping_sensor min", "ping_sensor avg", "ping_sensor max"]
    assert [len(s["datapoints"]) for s in series] == [1440, 1440, 1440]
    want = day_by_minute(whole)
    assert len(want) == 1440
    for i, s in enumerate(series, start=1):
        assert [p[0] for p in s["datapoints"]] == pytest.approx([r[i] for r in want])
    # each minute's average is over the four operators' readings, not an average of their averages
    assert series[1]["datapoints"][1][0] == pytest.approx(sum((1 * (n + 3)) % (89 + 10 * n) for n in range(4)) / 4)
