"""SQLite partitions: each row lands in the period of its UTC instant, stored with the same text as in the same
table unpartitioned, whatever the spelling of its time (T or space, seconds or not, a fraction, Z or an offset),
near period bounds, in batches that span periods the table has and periods it has not yet; and the rows a
partition takes in several statements keep their order."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings, strategies as st

from anynode.ingest.pipeline import ingest_rows
from anynode.store import partitioned
from anynode.store.catalog import DatabaseCatalog
from anynode.store.partitions import PartitionSpec
from tests.data_helpers import catalog  # noqa: F401  (fixture)

DAY0 = datetime(2026, 1, 30)  # periods cross a month's end too
_TABLES = itertools.count()
_ZONES = {"": timedelta(), "Z": timedelta(), "+00:00": timedelta(), "-00:00": timedelta(),
          "+01:00": timedelta(hours=1), "-05:30": timedelta(hours=-5, minutes=-30)}

# a time near a period bound: the bound (hour 0-23 of one of three days) and a few seconds either side
_NEAR = st.builds(lambda day, hour, seconds, micros: DAY0 + timedelta(days=day, hours=hour, seconds=seconds,
                                                                       microseconds=micros),
                  st.integers(0, 2), st.integers(0, 23), st.integers(-2, 2), st.sampled_from([0, 1, 500_000]))
_SPELLING = st.tuples(st.sampled_from(["T", " "]), st.sampled_from(["minutes", "seconds", "milliseconds",
                                                                    "microseconds"]), st.sampled_from(list(_ZONES)))


def _spell(local: datetime, spelling: tuple[str, str, str]) -> str:
    sep, timespec, zone = spelling
    return local.isoformat(sep=sep, timespec=timespec) + zone


def _stored(text: str) -> str:
    """What the table holds for a time as sent: its UTC instant as str() spells it."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return str(value)


def _texts(times: list[datetime], spellings: list[tuple[str, str, str]]) -> list[str]:
    """Each UTC time spelled as drawn (its zone's offset added, so that the instant stays the drawn one)."""
    return [_spell(t + _ZONES[s[2]], s) for t, s in zip(times, itertools.cycle(spellings), strict=False)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_NEAR, min_size=1, max_size=40), st.lists(_NEAR, min_size=1, max_size=40),
       st.lists(_SPELLING, min_size=1, max_size=3), st.sampled_from(["1 hour", "3 hours", "1 day"]))
def test_rows_land_in_the_period_of_their_instant_stored_as_unpartitioned(
        catalog: DatabaseCatalog, first: list[datetime], second: list[datetime],  # noqa: F811
        spellings: list[tuple[str, str, str]], interval: str) -> None:
    if not catalog.is_connected("demo"):
        catalog.connect("demo")
    n = next(_TABLES)
    plain, parted = f"plain{n}", f"part{n}"
    spec = PartitionSpec.parse("ts", interval)
    catalog.partitions.declare("demo", parted, spec)
    batches = [_texts(first, spellings), _texts(second, spellings[::-1])]  # the second meets the first's periods
    rows = [[{"ts": t, "v": i + 100 * b} for i, t in enumerate(texts)] for b, texts in enumerate(batches)]
    for batch in rows:
        for table in (plain, parted):
            ingest_rows(batch, "demo", table, catalog)

    want = sorted((r["v"], _stored(r["ts"])) for r in itertools.chain.from_iterable(rows))
    assert [tuple(r) for r in catalog.query("demo", f"SELECT v, ts FROM {plain} ORDER BY v")[1]] == want
    assert [tuple(r) for r in catalog.query("demo", f"SELECT v, ts FROM {parted} ORDER BY v")[1]] == want
    backend = catalog.get("demo").backend
    with backend.reader() as conn:
        names = [p.name for p in partitioned.list_partitions(backend, conn, parted)]
    landed = {}
    for name in names:
        for v, ts in catalog.query("demo", f"SELECT v, ts FROM {name}")[1]:
            landed[v] = name
            assert name == spec.name(parted, spec.start(datetime.fromisoformat(ts))), (v, ts)
    assert sorted(landed) == [v for v, _ in want] and len(names) == len(set(landed.values()))


def test_rows_a_partition_takes_in_several_statements_keep_their_order(catalog: DatabaseCatalog) -> None:  # noqa: F811
    catalog.connect("demo")
    catalog.partitions.declare("demo", "t", PartitionSpec.parse("ts", "1 day"))
    ingest_rows([{"ts": "2026-03-01T23:00:00Z", "v": -1}], "demo", "t", catalog)
    # one batch of 1,000 rows: days 1 (it exists), 2 and 3 (new) interleaved, several hundred rows each
    rows = [{"ts": f"2026-03-0{1 + i % 3}T{i % 24:02d}:{i % 60:02d}:00Z", "v": i} for i in range(1000)]
    ingest_rows(rows, "demo", "t", catalog)
    for day in (1, 2, 3):
        got = [v for (v,) in catalog.query("demo", f"SELECT v FROM par_t_2026_03_0{day}_d01_ts ORDER BY row_id")[1]]
        assert got == ([-1] if day == 1 else []) + list(range(day - 1, 1000, 3))
    assert catalog.query("demo", "SELECT count(*), sum(v) FROM t")[1][0] == (1001, sum(range(1000)) - 1)
