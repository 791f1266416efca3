"""Four real operators on 127.0.0.1 answer as one database holding every row (issue 15, done-when).

The operators are nodes with TCP servers, started once for the module;
Hypothesis spreads random rows (NULLs, empty operators, repeated groups) over
them, and each query shape of tests/query_helpers.py goes through
``run client (...) sql`` and straight to one SQLite database with all the rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from anynode.node import Node
from tests.helpers import start_tcp
from tests.query_helpers import CREATE, INSERT, SHAPES, placed, rows_equal

# The same answer written in SQLite's own SQL, for the shape SQLite does not know (AnyLog's increments).
PLAIN = {"select increments(hour, 6, ts), count(*), max(n) from readings":
         "select count(*), max(n) from readings group by strftime('%s', ts) / 21600 "
         "order by strftime('%s', ts) / 21600"}


class Network:
    """Four operators and one database holding all the rows."""

    def __init__(self, root: Path) -> None:
        self.operators = [Node(root / f"op{k}") for k in range(4)]
        self.whole = sqlite3.connect(":memory:")
        self.whole.execute(CREATE)
        self.addresses = []
        for op in self.operators:
            op.execute("connect dbms demo where type = sqlite")
            op.catalog.execute("demo", CREATE)
            self.addresses.append(start_tcp(op))

    def load(self, rows: list[tuple[tuple[Any, ...], int]]) -> None:
        """Replace every operator's rows (and the whole database's)."""
        self.whole.execute("DELETE FROM readings")
        self.whole.executemany(INSERT, [r for r, _ in rows])
        for k, op in enumerate(self.operators):
            mine = [r for r, at in rows if at == k]

            def replace(conn: Any, mine: list[tuple[Any, ...]] = mine) -> None:
                conn.execute("DELETE FROM readings")
                conn.executemany(INSERT, mine)

            op.catalog.submit("demo", replace).result(10)

    def ask(self, node: Node, query: str) -> list[tuple[Any, ...]]:
        """The network's answer to ``node``, through the command a user types."""
        answer = node.execute(f'run client ({", ".join(self.addresses)}) sql demo "{query}"')
        return [tuple(r) for r in answer.rows]  # type: ignore[attr-defined]

    def close(self) -> None:
        """Stop every node."""
        for node in self.operators:
            node.close()
        self.whole.close()


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    net = Network(tmp_path_factory.mktemp("network"))
    try:
        yield net
    finally:
        net.close()


@pytest.fixture
def query(tmp_path: Path) -> Iterator[Node]:
    """The query node of one test (its connections to the operators close with it)."""
    node = Node(tmp_path / "query")
    try:
        yield node
    finally:
        node.close()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(rows=placed)
def test_four_operators_answer_as_one_database(network: Network, query: Node,
                                               rows: list[tuple[tuple[Any, ...], int]]) -> None:
    network.load(rows)
    for sql, ordered in SHAPES:
        got = network.ask(query, sql)
        want = network.whole.execute(PLAIN.get(sql, sql)).fetchall()
        assert rows_equal(got, want, ordered), (sql, got, want)


def test_every_shape_of_the_issue_is_checked() -> None:
    words = " ".join(q for q, _ in SHAPES)
    for part in ("count(", "sum(", "avg(", "min(", "max(", "group by device, site", "group by device", "where",
                 "order by", "limit", "distinct", "having"):
        assert part in words, part
