"""AnyLog's time functions in SQL (issue 15, item 4): now() arithmetic, timestamp()/date(), period(), increments()."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from anynode.errors import CommandSyntaxError
from anynode.node import Node
from anynode.query import has_anylog_time
from anynode.query.timefn import prepare
from tests.data_helpers import kind, node_db, pg_settings  # noqa: F401  (fixtures)

NOW = datetime(2026, 3, 31, 12, 30, 0)


@pytest.mark.parametrize("text, literal", [
    ("now()", "'2026-03-31 12:30:00'"),
    ("NOW() - 1 hour", "'2026-03-31 11:30:00'"),
    ("now() -1hour", "'2026-03-31 11:30:00'"),
    ("now() - 4t", "'2026-03-31 12:26:00'"),
    ("now() + 3d", "'2026-04-03 12:30:00'"),
    ("now() - 1 month", "'2026-02-28 12:30:00'"),  # 31 March less a month: the last day of February
    ("now() - 2 weeks - 1 day", "'2026-03-16 12:30:00'"),
    ("now() - 1.5 hours", "'2026-03-31 11:00:00'"),
    ("timestamp('now', 'start of month', '+1 month', '-1 day', '-2 hours', '+2 minutes')", "'2026-03-30 22:02:00'"),
    ("date('now', 'start of year')", "'2026-01-01 00:00:00'"),
    ("timestamp('2020-05-28 18:56:49.890199', '+1 month', '-1 day')", "'2020-06-27 18:56:49.890199'"),
    ("timestamp('2020-05-28T18:56:49+02:00')", "'2020-05-28 16:56:49'"),
])
def test_time_expressions_become_one_utc_literal(text: str, literal: str) -> None:
    assert prepare(f"select v from t where ts >= {text}", NOW).text == f"select v from t where ts >= {literal}"


def test_a_bare_offset_after_a_comparison_is_from_now() -> None:
    text = prepare("select v from t where ts > -4t and ts between -2d and -1d", NOW).text
    assert text == ("select v from t where ts > '2026-03-31 12:26:00' and ts between '2026-03-29 12:30:00' "
                    "and '2026-03-30 12:30:00'")


def test_quoted_text_and_other_functions_are_left_alone() -> None:
    query = "select timestamp(ts), v - 1 from t where name = 'now() - 1 hour' and v > -4"
    assert prepare(query, NOW).text == query
    assert not has_anylog_time("select a from t where note = 'now()'")
    assert has_anylog_time("select a from t where ts > NOW() - 1 day")


@pytest.mark.parametrize("text, words", [
    ("timestamp('now', 'start of week')", "not a time modifier"),
    ("timestamp('yesterday')", "not a date and time"),
    ("period(fortnight, 1, now(), ts)", "not a time unit"),
    ("period(minute, 1, now())", "needs a unit, a count, a date and a column"),
    ("period(minute, 1, now(), ts", "not closed"),
])
def test_bad_time_expressions_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(CommandSyntaxError, match=words):
        prepare(f"select v from t where {text}", NOW)


def _readings(node: Node, db: str, start: datetime, minutes: int) -> None:
    node.execute(f'sql {db} "create table readings (device varchar, ts timestamp, value float)"')
    rows = ", ".join(f"('d{i % 2}', '{start + timedelta(minutes=i)}', {i})" for i in range(minutes))
    node.execute(f'sql {db} "insert into readings values {rows}"')


def test_increments_groups_by_time_bucket_on_both_engines(node: Node, node_db: str) -> None:  # noqa: F811
    _readings(node, node_db, datetime(2026, 1, 1, 10, 0), 30)  # 10:00 .. 10:29, value = minute
    table = node.execute(f'sql {node_db} "select increments(minute, 10, ts), min(ts), count(*), max(value) '
                         f'from readings"')
    assert table.columns == ("min(ts)", "count(*)", "max(value)")  # AnyLog: the bucket is not a column
    assert [(str(r[0]), r[1], r[2]) for r in table.rows] == [
        ("2026-01-01 10:00:00", 10, 9.0), ("2026-01-01 10:10:00", 10, 19.0), ("2026-01-01 10:20:00", 10, 29.0)]
    by_device = node.execute(f'sql {node_db} format = json "select increments(hour, 1, ts), device, count(*) as n '
                             f'from readings group by device order by device"').to_json()["Query"]
    assert by_device == [{"device": "d0", "n": 15}, {"device": "d1", "n": 15}]


def test_period_takes_the_last_readings_before_the_date(node: Node, node_db: str) -> None:  # noqa: F811
    _readings(node, node_db, datetime(2026, 1, 1, 10, 0), 30)
    out = node.execute(f"sql {node_db} format = json \"select count(*) as n, min(value) as lo, max(value) as hi "
                       f"from readings where period(minute, 5, '2026-01-01 10:20:30', ts)\"").to_json()["Query"]
    assert out == [{"n": 6, "lo": 15.0, "hi": 20.0}]  # newest at or before 10:20:30 is 10:20; back 5 minutes
    filtered = node.execute(f"sql {node_db} format = json \"select max(value) as hi from readings "
                            f"where period(minute, 5, now(), ts, and device = 'd1')\"").to_json()["Query"]
    assert filtered == [{"hi": 29.0}]
    nothing = node.execute(f"sql {node_db} format = json \"select count(*) as n from readings "
                           f"where period(minute, 5, '2020-01-01 00:00:00', ts)\"").to_json()["Query"]
    assert nothing == [{"n": 0}]


def test_relative_times_in_a_local_query(node: Node, node_db: str) -> None:  # noqa: F811
    now = datetime.utcnow().replace(microsecond=0)
    _readings(node, node_db, now - timedelta(minutes=119), 120)  # one reading a minute over the last two hours
    out = node.execute(f'sql {node_db} format = json "select count(*) as n from readings '
                       f'where ts > now() - 1 hour"').to_json()["Query"]
    assert out[0]["n"] in (59, 60)  # the minute boundary may fall between insert and query


def test_timezone_shows_a_local_query_in_that_zone(node: Node, node_db: str) -> None:  # noqa: F811
    _readings(node, node_db, datetime(2026, 1, 15, 10, 0), 1)
    query = 'format = json "select ts from readings"'
    utc, dublin, new_york = (str(node.execute(f"sql {node_db} {zone} {query}").to_json()["Query"][0]["ts"])
                             for zone in ("", "timezone = Europe/Dublin", "timezone = et"))
    assert (utc[:19], dublin[:19], new_york[:19]) == (
        "2026-01-15 10:00:00", "2026-01-15 10:00:00", "2026-01-15 05:00:00")
    with pytest.raises(CommandSyntaxError, match="Mars/Olympus"):
        node.execute(f"sql {node_db} timezone = Mars/Olympus {query}")
