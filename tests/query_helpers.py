"""What the split tests share: the query shapes, Hypothesis's rows and the comparison of two answers.

``tests/test_query_split.py`` checks the planner over four in-process
databases, ``tests/test_query_property_network.py`` over four real operators on
127.0.0.1; both compare with one database holding every row.
"""

from __future__ import annotations

import math
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
