"""Grafana's JSON data source against a node's REST server, over a network of operators (issue 15, item 6)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.query_helpers import day_by_minute
from tests.rest_helpers import start
from tests.view_helpers import Net, insert, make_net

GRAFANA = {"User-Agent": "Grafana/11.3.0", "al.dbms.demo": "demo"}
DAY = "with recursive s(k) as (select 0 union all select k + 1 from s where k < 4319) "
# c1's operators (replicas) read at :00, :20, :40 of each minute; c2's at :10, :30, :50
ROWS = {0: "select 'd' || (k % 3), datetime('2026-01-01', '+' || (k * 20) || ' seconds'), k % 997 from s",
        2: "select 'e' || (k % 2), datetime('2026-01-01', '+' || (k * 20 + 10) || ' seconds'), k % 89 from s"}


@pytest.fixture
def net(tmp_path: Path) -> Iterator[tuple[Net, str, sqlite3.Connection]]:
    net = make_net(tmp_path)
    whole = sqlite3.connect(":memory:", check_same_thread=False)
    whole.execute("create table ping_sensor (device_name text, timestamp text, value real)")
    try:
        for n, op in enumerate(net.operators):
            op.execute("connect dbms demo where type = sqlite")
            op.execute('sql demo "create table ping_sensor (device_name text, timestamp text, value real)"')
            op.execute(f'sql demo "insert into ping_sensor {DAY}{ROWS[0 if n < 2 else 2]}"')
        for key in (0, 2):
            whole.execute(f"insert into ping_sensor {DAY}{ROWS[key]}")
        for name, cid in net.clusters.items():  # both clusters hold demo.ping_sensor, as operators publish it
            insert(net.query, {"cluster": {"company": "acme", "name": name, "parent": cid,
                                           "table": [{"dbms": "demo", "name": "ping_sensor"}]}})
        yield net, start(net.query), whole
    finally:
        net.close()


def _post(url: str, path: str, body: dict[str, Any]) -> Any:
    reply = httpx.post(url + path, json=body, headers=GRAFANA, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_save_and_test_and_the_table_list(net: tuple[Net, str, sqlite3.Connection]) -> None:
    _, url, _ = net
    assert httpx.get(url + "/", headers=GRAFANA, timeout=10).status_code == 200
    assert _post(url, "/search", {"target": ""}) == ["other", "ping_sensor", "sensor"]  # from the metadata
    assert {"label": "ping_sensor", "value": "ping_sensor"} in _post(url, "/metrics", {"metric": ""})


def test_a_day_at_one_minute_over_the_operators(net: tuple[Net, str, sqlite3.Connection]) -> None:
    _, url, whole = net
    body = {"range": {"from": "2026-01-01T00:00:00.000Z", "to": "2026-01-01T23:59:59.999Z"},
            "intervalMs": 60000, "maxDataPoints": 2000,
            "targets": [{"target": "ping_sensor", "refId": "A", "type": "timeserie"}]}
    series = _post(url, "/query", body)
    assert [s["target"] for s in series] == ["ping_sensor min", "ping_sensor avg", "ping_sensor max"]
    assert [len(s["datapoints"]) for s in series] == [1440, 1440, 1440]
    want = day_by_minute(whole)
    for i, s in enumerate(series, start=1):
        assert [p[0] for p in s["datapoints"]] == pytest.approx([r[i] for r in want])


def test_a_table_panel_with_sql_and_a_bad_panel(net: tuple[Net, str, sqlite3.Connection]) -> None:
    _, url, _ = net
    body = {"range": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}, "intervalMs": 60000,
            "targets": [{"target": "ping_sensor", "refId": "B", "type": "table",
                         "payload": {"sql": "select count(*) as n from ping_sensor"}}]}
    assert _post(url, "/query", body)[0]["rows"] == [[8640]]
    body["targets"][0]["payload"] = {"type": "median"}
    reply = httpx.post(url + "/query", json=body, headers=GRAFANA, timeout=30)
    assert reply.status_code == 400 and "median" in reply.text
