"""A network query answers what one database holding every row answers (issue 15, item 2).

Rows are spread over four SQLite databases standing in for four operators;
each query runs through the planner (remote query on each, combining query on
the union) and directly on one database holding all the rows. Hypothesis
picks the rows, including NULLs, empty operators and duplicate groups.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from anynode.query.model import PlanError
from anynode.query.plan import build
from anynode.query.run import NetworkQueryError, run_plan, run_query
from tests.query_helpers import CREATE, INSERT, SHAPES, placed, rows_equal


class Db:
    """A source over one SQLite database (its queries run on the gathering threads)."""

    engine = "sqlite"

    def __init__(self, name: str) -> None:
        self.name = name
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute(CREATE)

    def query(self, sql: str) -> tuple[list[str], Iterable[Sequence[Any]]]:
        cursor = self.db.execute(sql)
        return [d[0] for d in cursor.description], iter(lambda: cursor.fetchmany(7), [])


class Down(Db):
    """An operator that does not answer."""

    def query(self, sql: str) -> tuple[list[str], Iterable[Sequence[Any]]]:
        raise ConnectionError("connection refused")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(placed)
def test_network_answer_equals_one_database(rows: list[tuple[tuple[Any, ...], int]]) -> None:
    operators = [Db(f"op{i}") for i in range(4)]
    whole = Db("all")
    for values, k in rows:
        operators[k].db.execute(INSERT, values)
        whole.db.execute(INSERT, values)
    for query, ordered in SHAPES:
        answer = run_query(query, operators)
        got = [r for chunk in answer.chunks for r in chunk]
        want = [r for chunk in run_query(query, [whole]).chunks for r in chunk] if "increments" in query else \
            whole.db.execute(query).fetchall()
        assert rows_equal(got, want, ordered), (query, answer.plan.shape if answer.plan else None, got, want)


def test_result_names_are_the_ones_one_database_gives() -> None:
    ops = [Db("a"), Db("b")]
    ops[0].db.execute("INSERT INTO readings VALUES ('d1', 'a', '2026-01-01 00:00:00', 1.5, 2)")
    answer = run_query("select device, count(*), avg(v) as mean, sum(n)+1 from readings group by device", ops)
    assert answer.columns == ["device", "count(*)", "mean", "sum(n)+1"]
    assert [r for c in answer.chunks for r in c] == [("d1", 1, 1.5, 3)]


@pytest.mark.parametrize("query, shape", [
    ("select count(*) from readings", "aggregate"),
    ("select avg(v) from readings", "aggregate"),
    ("select device from readings order by ts limit 3", "rows"),
    ("select count(distinct device) from readings", "pull"),
    ("select device, v from readings group by device", "pull"),
    ("select v, rank() over (order by v) from readings", "pull"),
    ("select * from readings where v > (select avg(v) from readings)", "pull"),
])
def test_the_cheapest_correct_shape_is_chosen(query: str, shape: str) -> None:
    assert build(query).shape == shape


def test_average_travels_as_sum_and_count_never_as_averages() -> None:
    plan = build("select avg(v) from readings")
    remote = plan.remote_sql().upper()
    assert "SUM(V)" in remote and "COUNT(V)" in remote and "AVG" not in remote
    ops = [Db("a"), Db("b")]
    ops[0].db.executemany("INSERT INTO readings (v) VALUES (?)", [(1.0,), (2.0,), (3.0,)])
    ops[1].db.execute("INSERT INTO readings (v) VALUES (10.0)")
    got = [r for c in run_plan(plan, ops).chunks for r in c]
    assert got == [(4.0,)]  # an average of the two averages would say 6.0


def test_limit_is_pushed_to_operators_with_the_order() -> None:
    plan = build("select device, n from readings order by n desc limit 3 offset 2")
    assert "ORDER BY n DESC" in plan.remote_sql() and "LIMIT 5" in plan.remote_sql()
    assert "NULLS LAST" in plan.remote_sql("psql")  # PostgreSQL operators order NULLs as SQLite does


@pytest.mark.parametrize("query, words", [
    ("delete from readings", "only a SELECT"),
    ("select * from readings join sites on readings.site = sites.name", "one table"),
    ("select * from readings union select * from readings", "UNION"),
    ("select * from (select * from readings)", "one table"),
    ("select count(*) from readings; drop table readings", "one SELECT"),
    ("selec * from readings", "not valid SQL"),
    ("select * into stolen from readings", "INTO"),
    ("select * from readings where v > (select max(v) from other)", "'other'"),
])
def test_queries_that_cannot_be_split_are_refused_with_the_reason(query: str, words: str) -> None:
    with pytest.raises(PlanError, match=words):
        build(query)


def test_a_missing_operator_fails_the_query_unless_subset() -> None:
    ops: list[Db] = [Db("op1"), Down("op2")]
    ops[0].db.execute("INSERT INTO readings (device, n) VALUES ('d1', 4)")
    with pytest.raises(NetworkQueryError, match="op2.*connection refused"):
        list(run_query("select count(*) from readings", ops).chunks)
    answer = run_query("select count(*) from readings", ops, subset=True)
    assert [r for c in answer.chunks for r in c] == [(1,)]
    assert answer.replied == ["op1"] and list(answer.failed) == ["op2"]


def test_plain_rows_stream_in_chunks_without_a_union() -> None:
    ops = [Db(f"op{i}") for i in range(3)]
    for i, op in enumerate(ops):
        op.db.executemany("INSERT INTO readings (device, n) VALUES (?, ?)", [(f"d{i}", k) for k in range(1000)])
    plan = build("select device, n from readings where n >= 0")
    assert plan.merge_sql() is None
    answer = run_plan(plan, ops)
    sizes = [len(c) for c in answer.chunks]
    assert sum(sizes) == 3000 and max(sizes) <= 7  # each operator's chunk passes through as it came
    limited = run_plan(build("select n from readings limit 10 offset 995"), ops)
    assert sum(len(c) for c in limited.chunks) == 10
