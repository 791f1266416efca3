"""Grafana's JSON data source requests become AnyLog queries (issue 15, item 6): the translation and its answers."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from anynode.query.grafana import GrafanaError, answer, step
from anynode.query.run import run_query

START = datetime(2026, 1, 1)


class Db:
    engine = "sqlite"

    def __init__(self, name: str) -> None:
        self.name = name
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute("CREATE TABLE ping_sensor (device_name TEXT, timestamp TEXT, value REAL)")

    def query(self, sql: str) -> tuple[list[str], Iterable[Sequence[Any]]]:
        cursor = self.db.execute(sql)
        return [d[0] for d in cursor.description], [cursor.fetchall()]


def _network(ops: list[Db]) -> Any:
    def run_sql(dbms: str, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        got = run_query(sql, ops)
        return got.columns, [r for chunk in got.chunks for r in chunk]
    return run_sql


def _request(kind: str = "timeserie", **payload: Any) -> dict[str, Any]:
    return {"range": {"from": "2026-01-01T00:00:00.000Z", "to": "2026-01-01T23:59:59.999Z"},
            "intervalMs": 60000, "maxDataPoints": 2000,
            "targets": [{"target": "ping_sensor", "refId": "A", "type": kind, "payload": payload}]}


@pytest.fixture(scope="module")
def operators() -> list[Db]:
    ops = [Db(f"op{i}") for i in range(4)]
    whole = Db("all")
    for second in range(0, 86400, 20):  # three readings a minute for a day, spread over four operators
        row = (f"d{second % 3}", str(START + timedelta(seconds=second)), float(second % 997))
        ops[second // 20 % 4].db.execute("INSERT INTO ping_sensor VALUES (?, ?, ?)", row)
        whole.db.execute("INSERT INTO ping_sensor VALUES (?, ?, ?)", row)
    return [*ops, whole]


def test_a_day_at_one_minute_gives_1440_points_per_series_equal_to_one_database(operators: list[Db]) -> None:
    net = answer(_request(), "demo", _network(operators[:4]), lambda c: ([], []))
    one = answer(_request(), "demo", _network(operators[4:]), lambda c: ([], []))
    assert [s["target"] for s in net] == ["ping_sensor min", "ping_sensor avg", "ping_sensor max"]
    assert all(len(s["datapoints"]) == 1440 for s in net)
    for a, b in zip(net, one, strict=True):
        assert [p[1] for p in a["datapoints"]] == [p[1] for p in b["datapoints"]]
        assert all(abs(x[0] - y[0]) < 1e-9 for x, y in zip(a["datapoints"], b["datapoints"], strict=True))
    first = net[1]["datapoints"][0]
    assert first == [pytest.approx((0 + 20 + 40) / 3), int(datetime(2026, 1, 1, 0, 0, 40, tzinfo=timezone.utc)
                                                         .timestamp() * 1000)]  # avg of the minute, at its last


def test_period_takes_the_last_readings_of_the_range(operators: list[Db]) -> None:
    req = _request(type="period")
    req["range"] = {"from": "2026-01-01T23:00:00Z", "to": "2026-01-01T23:59:59Z"}
    out = answer(req, "demo", _network(operators[:4]), lambda c: ([], []))
    assert [len(s["datapoints"]) for s in out] == [1, 1, 1]


def test_table_targets_and_sql_and_where(operators: list[Db]) -> None:
    req = _request("table", sql="select device_name, count(*) from ping_sensor group by device_name",
                   where="value > 500")
    out = answer(req, "demo", _network(operators[:4]), lambda c: ([], []))
    assert out[0]["type"] == "table" and [c["text"] for c in out[0]["columns"]] == ["device_name", "count(*)"]
    assert sorted(out[0]["rows"]) == sorted(list(r) for r in operators[4].db.execute(
        "select device_name, count(*) from ping_sensor where value > 500 group by device_name"))


def test_info_targets_run_a_command() -> None:
    seen = []
    out = answer(_request(type="info", details="blockchain get operator"), None, lambda d, s: ([], []),
                 lambda c: seen.append(c) or (["name"], [("op1",)]))
    assert seen == ["blockchain get operator"] and out[0]["rows"] == [["op1"]]


@pytest.mark.parametrize("ms, want", [(60000, ("minute", 1)), (300000, ("minute", 5)), (3600000, ("hour", 1)),
                                      (86400000, ("day", 1)), (20000, ("second", 20)), (500, ("second", 1)),
                                      (90000, ("second", 90))])
def test_grafana_intervals_become_increments(ms: int, want: tuple[str, int]) -> None:
    assert step(ms) == want


@pytest.mark.parametrize("change, words", [
    ({"range": {"from": "yesterday", "to": "2026-01-01T00:00:00Z"}}, "not an ISO time"),
    ({"range": {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}}, "ends before"),
    ({"targets": [{"target": "ping_sensor; drop table x", "refId": "A"}]}, "not a name"),
    ({"targets": [{"target": "t", "payload": {"type": "median"}}]}, "not known"),
    ({"targets": [{"target": "t", "payload": "{not json"}]}, "not JSON"),
])
def test_bad_panels_get_a_message(change: dict[str, Any], words: str) -> None:
    req = {**_request(), **change}
    with pytest.raises(GrafanaError, match=words):
        answer(req, "demo", lambda d, s: ([], []), lambda c: ([], []))
