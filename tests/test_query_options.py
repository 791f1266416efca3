"""AnyLog's options of `run client () sql` on a real network: extend, max_time, timezone, nodes (issue 15).

The network of tests/view_helpers.py: cluster c1 is op0 and op1 (its main,
replicas holding the same rows), cluster c2 is op2 (and op3, where nothing
listens); the query node finds them in its metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from anynode.errors import AnyNodeError
from tests.rest_helpers import start
from tests.view_helpers import Net, make_net

ROWS = {0: [("a", 1, "2026-01-15 12:00:00"), ("b", 2, "2026-07-15 12:00:00.250000")],
        1: [("a", 1, "2026-01-15 12:00:00"), ("b", 2, "2026-07-15 12:00:00.250000")],
        2: [("a", 10, "2026-01-15 23:30:00"), ("c", 30, "2026-03-01 00:00:00"), ("c", 31, "2026-03-02 00:00:00")]}


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    net = make_net(tmp_path)
    try:
        for n, op in enumerate(net.operators):
            op.execute("connect dbms demo where type = sqlite")
            op.execute('sql demo "create table sensor (device text, value integer, ts text)"')
            values = ", ".join(f"('{d}', {v}, '{t}')" for d, v, t in ROWS[n])
            op.execute(f'sql demo "insert into sensor values {values}"')
        yield net
    finally:
        net.close()


def _query(net: Net, options: str, sql: str) -> list[dict[str, Any]]:
    out = net.query.execute(f'run client () sql demo format = json and {options} "{sql}"').to_json()
    assert isinstance(out, dict), out
    rows: list[dict[str, Any]] = out["Query"]
    return rows


def _answered_by(net: Net) -> dict[str, str]:
    rows = net.query.execute("query status where format = json").to_json()
    return {r["Operator"]: r["Answered By"] for r in rows[1:]}


# -- extend ----------------------------------------------------------------------------------------------------
def test_extend_adds_each_operators_columns_first(net: Net) -> None:
    rows = _query(net, "extend = (+node_name, @ip, @port, @table_name)",
                  "select device, value from sensor order by value")
    assert [list(r) for r in rows][0] == ["node_name", "ip", "port", "table_name", "device", "value"]
    main = net.addresses[1]  # c1 is answered by its main, op1
    assert rows[0] == {"node_name": "op1", "ip": "127.0.0.1", "port": main.split(":")[1], "table_name": "sensor",
                       "device": "a", "value": 1}
    assert [(r["node_name"], r["value"]) for r in rows] == [("op1", 1), ("op1", 2), ("op2", 10), ("op2", 30),
                                                            ("op2", 31)]


def test_extend_with_an_aggregate_gives_each_operator_its_row(net: Net) -> None:
    rows = _query(net, "extend = (+node_name as node)", "select count(*) as n, max(value) as top from sensor")
    assert sorted((r["node"], r["n"], r["top"]) for r in rows) == [("op1", 2, 2), ("op2", 3, 31)]
    grouped = _query(net, "extend = (+node_name)",
                     "select device, sum(value) as total from sensor group by device order by 2 desc")
    assert grouped[0] == {"node_name": "op2", "device": "c", "total": 61}
    assert sorted((r["node_name"], r["device"], r["total"]) for r in grouped) == [
        ("op1", "a", 1), ("op1", "b", 2), ("op2", "a", 10), ("op2", "c", 61)]


def test_extend_on_the_prompt_and_with_rows_passing_through(net: Net) -> None:
    table = net.query.execute('run client () sql demo format = table and extend = (@table_name, +node_name) '
                              '"select value from sensor where value > 5"')
    assert table.columns == ("table_name", "node_name", "value")
    assert sorted(table.rows) == [("sensor", "op2", 10), ("sensor", "op2", 30), ("sensor", "op2", 31)]


def test_extend_with_time_buckets_pulled_queries_and_star(net: Net) -> None:
    buckets = _query(net, "extend = (+node_name)", "select increments(month, 1, ts), count(*) as n from sensor")
    assert sorted((r["node_name"], r["n"]) for r in buckets) == [("op1", 1), ("op1", 1), ("op2", 1), ("op2", 2)]
    pulled = _query(net, "extend = (+node_name)", "select count(distinct device) from sensor")
    assert sorted(pulled, key=str) == [{"node_name": "op1", "count(distinct device)": 2},
                                       {"node_name": "op2", "count(distinct device)": 2}]
    star = _query(net, "extend = (@table_name)", "select * from sensor order by value desc limit 2")
    assert star == [{"table_name": "sensor", "device": "c", "value": 31, "ts": "2026-03-02 00:00:00"},
                    {"table_name": "sensor", "device": "c", "value": 30, "ts": "2026-03-01 00:00:00"}]


def test_extend_never_reads_a_secret_variable(net: Net) -> None:
    net.operators[2].execute("set api_token = s3cr3t-value-123")
    net.operators[2].execute("set colour = blue")
    rows = _query(net, "extend = (+api_token, +colour, +never_set)", "select value from sensor where value = 30")
    assert rows == [{"api_token": None, "colour": "blue", "never_set": None, "value": 30}]
    net.operators[2].execute("set note = the token is s3cr3t-value-123")  # a secret value inside another variable
    rows = _query(net, "extend = (+note)", "select value from sensor where value = 30")
    assert rows == [{"note": None, "value": 30}]  # a variable holding a secret value is secret as a whole


@pytest.mark.parametrize("extend, words", [
    ("(ip)", r"'ip' is not @name or \+name"),
    ("(@nothing)", "'@nothing' is not known"),
    ("(+a, @ip as a)", "names a column twice"),
])
def test_bad_extend_entries_are_named(net: Net, extend: str, words: str) -> None:
    with pytest.raises(AnyNodeError, match=words):
        net.query.execute(f'run client () sql demo extend = {extend} "select value from sensor"')


# -- max_time --------------------------------------------------------------------------------------------------
def test_max_time_ends_a_query_that_runs_longer(net: Net) -> None:
    net.operators[2].catalog.execute("demo", """insert into sensor (device, value) with recursive c(n) as
        (select 1 union all select n + 1 from c where n < 300000) select 'z', n from c""")
    slow = "select count(*) from sensor where length(hex(randomblob(3000))) > 5"
    import time

    started = time.monotonic()
    with pytest.raises(AnyNodeError, match=r"did not end within max_time = 0.5 s"):
        net.query.execute(f'run client () sql demo max_time = 0.5 "{slow}"').to_text()
    assert time.monotonic() - started < 4
    fast = _query(net, "max_time = 20", "select count(*) as n from sensor where device = 'a'")
    assert fast == [{"n": 2}]
    with pytest.raises(AnyNodeError, match="max_time 'soon' is not a number of seconds"):
        net.query.execute('run client () sql demo max_time = soon "select 1 from sensor"')


# -- timezone --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("zone, winter, summer", [
    ("utc", "2026-01-15 12:00:00", "2026-07-15 12:00:00.250000"),
    ("Europe/Dublin", "2026-01-15 12:00:00", "2026-07-15 13:00:00.250000"),
    ("et", "2026-01-15 07:00:00", "2026-07-15 08:00:00.250000"),
    ("pt", "2026-01-15 04:00:00", "2026-07-15 05:00:00.250000"),
])
def test_timezone_shows_times_in_that_zone(net: Net, zone: str, winter: str, summer: str) -> None:
    rows = _query(net, f"timezone = {zone}", "select device, ts from sensor where value < 5 order by ts")
    assert rows == [{"device": "a", "ts": winter}, {"device": "b", "ts": summer}]
    stored = _query(net, "stat = false", "select ts from sensor where value < 5 order by ts")
    assert [r["ts"] for r in stored] == ["2026-01-15 12:00:00", "2026-07-15 12:00:00.250000"]  # as stored: UTC


def test_timezone_local_and_aggregates_and_a_bad_zone(net: Net) -> None:
    from datetime import datetime, timezone

    rows = _query(net, "timezone = local", "select max(ts) as last, count(*) as n from sensor")
    want = datetime(2026, 7, 15, 12, 0, 0, 250000, tzinfo=timezone.utc).astimezone()
    assert rows == [{"last": want.strftime("%Y-%m-%d %H:%M:%S.%f"), "n": 5}]
    with pytest.raises(AnyNodeError, match="timezone 'Mars/Olympus' is not known"):
        net.query.execute('run client () sql demo timezone = Mars/Olympus "select ts from sensor"')


# -- nodes -----------------------------------------------------------------------------------------------------
def test_nodes_all_lets_every_member_take_its_turn_without_counting_twice(net: Net) -> None:
    c1 = set(net.addresses[:2])
    seen = set()
    for _ in range(4):
        rows = _query(net, "nodes = all", "select count(*) as n, sum(value) as total from sensor")
        assert rows == [{"n": 5, "total": 74}]  # each cluster counted once, whichever member answered
        seen.add(_answered_by(net)["c1"])
    assert seen == c1
    for _ in range(2):
        _query(net, "nodes = main", "select count(*) as n from sensor")
        assert _answered_by(net)["c1"] == net.addresses[1]  # main first
    with pytest.raises(AnyNodeError, match="nodes 'some' is not main or all"):
        net.query.execute('run client () sql demo nodes = some "select 1 from sensor"')


def test_the_options_work_through_rest_destination_network(net: Net) -> None:
    url = start(net.query)
    command = ('sql demo format = json and extend = (+node_name) and timezone = et and nodes = all and max_time = 20 '
               '"select device, max(ts) as last from sensor group by device order by device"')
    reply = httpx.get(url, headers={"User-Agent": "AnyLog/1.23", "destination": "network", "command": command},
                      timeout=20)
    assert reply.status_code == 200, reply.text
    cluster = {"op0": "c1", "op1": "c1", "op2": "c2"}  # c1's members take turns (nodes = all)
    assert sorted((cluster[r["node_name"]], r["device"], r["last"]) for r in reply.json()["Query"]) == [
        ("c1", "a", "2026-01-15 07:00:00"), ("c1", "b", "2026-07-15 08:00:00.250000"),
        ("c2", "a", "2026-01-15 18:30:00"), ("c2", "c", "2026-03-01 19:00:00")]
    bad = httpx.get(url, headers={"User-Agent": "AnyLog/1.23", "destination": "network",
                                  "command": 'sql demo extend = (@nowhere) "select 1 from sensor"'}, timeout=20)
    assert bad.status_code == 400 and "'@nowhere' is not known" in bad.text
