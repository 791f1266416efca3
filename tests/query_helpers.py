"""What the split tests share: the query shapes, Hypothesis's rows and the comparison of two answers.

``tests/test_query_split.py`` checks the planner over four in-process
databases, ``tests/test_query_property_network.py`` over four real operators on
127.0.0.1; both compare with one database holding every row.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

COLUMNS = "device TEXT, site TEXT, ts TEXT, v REAL, n INTEGER"
CREATE = f"CREATE TABLE readings ({COLUMNS})"
INSERT = "INSERT INTO readings VALUES (?, ?, ?, ?, ?)"

# (query, whether its order is part of the answer)
SHAPES = [
    ("select count(*) from readings", False),
    ("select count(v), sum(n), min(v), max(ts) from readings", False),
    ("select avg(v), avg(n) from readings", False),
    ("select device, count(*), sum(n), avg(v) from readings group by device", False),
    ("select device, site, min(v), max(v), count(v) from readings group by device, site", False),
    ("select site, count(*) from readings where n > 3 group by site", False),
    ("select device, avg(v) as a from readings group by device having count(*) > 2", False),
    ("select device, sum(n) s from readings group by 1 order by s desc, device limit 2", True),
    ("select * from readings where v > 0 order by ts, device, site, v, n limit 5", True),
    ("select device, n from readings order by n desc, device limit 3 offset 1", True),
    ("select distinct device, site from readings", False),
    ("select distinct site from readings order by site", True),
    ("select device, ts from readings where n between 2 and 6", False),
    ("select count(distinct device), count(*) + 1 from readings", False),
    ("select max(v) - min(v) as spread, count(*) * 2 from readings where site = 'b'", False),
    ("select increments(hour, 6, ts), count(*), max(n) from readings", True),
]

device = st.sampled_from(["d1", "d2", "d3", None])
row = st.tuples(device, st.sampled_from(["a", "b"]),
                st.builds(lambda h, m: f"2026-01-01 {h:02d}:{m:02d}:00", st.integers(0, 23), st.integers(0, 59)),
                st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 3))),
                st.integers(0, 9))
placed = st.lists(st.tuples(row, st.integers(0, 3)), max_size=60)  # a row, and which of 4 operators holds it


def same(a: Any, b: Any) -> bool:
    """Two values are equal (floats to rounding)."""
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
    return bool(a == b)


def rows_equal(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]], ordered: bool) -> bool:
    """Two answers hold the same rows (in the same order when ``ordered``)."""
    if not ordered:
        def key(r: tuple[Any, ...]) -> list[tuple[int, str]]:
            return [(0, "") if v is None else (1, repr(round(v, 4)) if isinstance(v, float) else repr(v)) for v in r]
        got, want = sorted(got, key=key), sorted(want, key=key)
    if len(got) != len(want):
        return False
    return all(len(g) == len(w) and all(map(same, g, w)) for g, w in zip(got, want, strict=True))


# -- one day of Grafana points, on one database ----------------------------------------------------------------
DAY_QUERY = ("SELECT increments(minute, 1, timestamp), MAX(timestamp), MIN(value), AVG(value), MAX(value) "
             "FROM ping_sensor WHERE timestamp >= '2026-01-01 00:00:00' AND timestamp <= '2026-01-01 23:59:59.999000'")
"""What a Grafana panel over 2026-01-01 at one-minute intervals asks (min, avg, max per minute)."""


class OneDatabase:
    """A source of the query runner over one SQLite connection: the reference a network answer is compared with."""

    name, engine = "one", "sqlite"

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def query(self, sql: str) -> tuple[list[str], list[list[Any]]]:
        cur = self.db.execute(sql)
        return [d[0] for d in cur.description], [cur.fetchall()]


def day_by_minute(whole: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """DAY_QUERY's rows on the one database ``whole`` (a row per minute: bucket, time, min, avg, max)."""
    from anynode.query.run import run_query

    answer = run_query(DAY_QUERY, [OneDatabase(whole)])
    return [tuple(r) for chunk in answer.chunks for r in chunk]


# -- operators holding a big table -----------------------------------------------------------------------------
@contextmanager
def big_operators(tmp_path: Path, per: int, count: int = 2) -> Iterator[list[str]]:
    """``count`` operator nodes (TCP on 127.0.0.1), each with ``per`` rows in demo.big; their addresses.

    ``i`` runs 1..count*per over all of them, once each; ``s`` is 'r0'..'r9'.
    """
    from anynode.node import Node
    from tests.helpers import start_tcp

    nodes, addresses = [], []
    try:
        for k in range(count):
            op = Node(tmp_path / f"op{k}")
            nodes.append(op)
            op.execute("connect dbms demo where type = sqlite")
            op.catalog.execute("demo", "create table big (i integer, s text)")
            op.catalog.execute("demo", f"""insert into big with recursive c(n) as (select 1 union all select n + 1
                from c where n < {per}) select n + {k * per}, 'r' || (n % 10) from c""")
            addresses.append(start_tcp(op))
        yield addresses
    finally:
        for op in nodes:
            op.close()
