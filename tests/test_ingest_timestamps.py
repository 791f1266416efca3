"""Every common date-time spelling is stored as its UTC instant, on the column-wide path; impossible dates stay text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from anynode.ingest.pipeline import ingest_file
from anynode.ingest.timestamps import parsed, utc_text
from anynode.store.catalog import DatabaseCatalog
from tests.data_helpers import catalog, dbms, kind, write_rows  # noqa: F401

# spelling -> what is stored (str of the UTC instant); each is a whole column of that spelling
SPELLINGS = {
    "2026-03-01T10:00:00Z": "2026-03-01 10:00:00",
    "2026-03-01 10:00:00": "2026-03-01 10:00:00",
    "2026-03-01T10:00:00": "2026-03-01 10:00:00",
    "2026-03-01 10:00:00.123456": "2026-03-01 10:00:00.123456",
    "2026-03-01T10:00:00.123456Z": "2026-03-01 10:00:00.123456",
    "2026-03-01 10:00:00.123": "2026-03-01 10:00:00.123000",
    "2026-03-01T10:00:00.123Z": "2026-03-01 10:00:00.123000",
    "2026-03-01T10:00:00.5+00:00": "2026-03-01 10:00:00.500000",
    "2026-03-01T10:00:00+00:00": "2026-03-01 10:00:00",
    "2026-03-01T10:00:00-00:00": "2026-03-01 10:00:00",
    "2026-03-01T10:00:00+0000": "2026-03-01 10:00:00",
    "2026-03-01T10:00Z": "2026-03-01 10:00:00",
    "2026-03-01 10:00": "2026-03-01 10:00:00",
    "2026-03-01T10:00:00.000Z": "2026-03-01 10:00:00",
    "2026-03-01T12:00:00+02:00": "2026-03-01 10:00:00",
    "2026-03-01T05:00:00.25-05:00": "2026-03-01 10:00:00.250000",
    "2026-03-01T00:30:00+05:30": "2026-02-28 19:00:00",
    "2026-03-01T10:00:00.123456789Z": "2026-03-01 10:00:00.123456",
}
FAST = [s for s in SPELLINGS if not s.endswith(("+02:00", "-05:00", "+05:30", "789Z"))]
IMPOSSIBLE = ["2026-02-30T10:00:00Z", "2026-02-29 10:00:00.123", "2026-03-01T24:00:00Z", "2026-03-01T10:60:00Z",
              "2026-13-01 10:00:00", "2026-03-01T10:00:60.5+00:00"]


def test_each_spelling_is_stored_as_its_utc_instant(catalog: DatabaseCatalog, dbms: str,  # noqa: F811
                                                    tmp_path: Path) -> None:
    for t, (spelling, want) in enumerate(SPELLINGS.items()):  # one table per spelling: a column of it
        rows = [{"ts": spelling, "n": i} for i in range(3)] + [{"ts": None, "n": 3}]
        ingest_file(write_rows(tmp_path, f"{dbms}.t{t}.json", rows), catalog)
        got = catalog.query(dbms, f"SELECT ts FROM t{t} ORDER BY n")[1]
        assert [None if r[0] is None else str(r[0]) for r in got] == [want, want, want, None], spelling
        assert dict(catalog.columns(dbms, f"t{t}"))["ts"].lower().startswith("timestamp"), spelling


@pytest.mark.parametrize("spelling", FAST)
def test_utc_spellings_take_the_column_wide_path(spelling: str) -> None:
    column = [spelling] * 200
    assert utc_text(column) == [SPELLINGS[spelling]] * 200


def test_an_impossible_date_keeps_the_column_text(catalog: DatabaseCatalog, dbms: str,  # noqa: F811
                                                  tmp_path: Path) -> None:
    for t, impossible in enumerate(IMPOSSIBLE):
        good = impossible[:5] + "03-01" + impossible[10:16]  # same spelling, a real date, no seconds
        rows = [{"ts": good, "n": 0}, {"ts": impossible, "n": 1}]
        ingest_file(write_rows(tmp_path, f"{dbms}.t{t}.json", rows), catalog)
        assert [r[0] for r in catalog.query(dbms, f"SELECT ts FROM t{t} ORDER BY n")[1]] == [good, impossible]
        assert dict(catalog.columns(dbms, f"t{t}"))["ts"].lower() == "text", impossible
        assert utc_text([impossible] * 3) is None and parsed([impossible], True) is None


def test_a_column_already_in_the_stored_spelling_comes_back_as_it_was() -> None:
    column = [f"2026-03-01 10:00:{s:02d}.123456" for s in range(60)]
    assert utc_text(column) is column  # nothing rewritten: the row tuples can be kept as read


_SPELL = st.sampled_from(["T", " "])
_FRACTION = st.sampled_from([0, 3, 6])
_ZONE = st.sampled_from(["", "Z", "+00:00", "-00:00", "+0000", "+02:00", "-05:30"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)), min_size=1,
                max_size=30), _SPELL, _FRACTION, _ZONE, st.booleans())
def test_the_fast_path_says_what_the_general_path_says(instants: list[datetime], sep: str, digits: int, zone: str,
                                                       seconds: bool) -> None:
    def spell(d: datetime) -> str:
        timespec = {0: "seconds", 3: "milliseconds", 6: "microseconds"}[digits] if seconds else "minutes"
        return d.isoformat(sep=sep, timespec=timespec) + zone

    column = list(map(spell, instants))
    slow = parsed(column, True)
    fast = utc_text(column)
    assert slow is not None
    assert fast is None or list(fast) == slow
    if zone in ("", "Z", "+00:00", "-00:00", "+0000"):
        assert fast is not None  # UTC in one spelling: always the fast path
    offset = {"+02:00": timedelta(hours=2), "-05:30": timedelta(hours=-5, minutes=-30)}.get(zone, timedelta())
    first = instants[0] if seconds else instants[0].replace(second=0, microsecond=0)
    if seconds and digits == 3:
        first = first.replace(microsecond=first.microsecond // 1000 * 1000)
    elif seconds and digits == 0:
        first = first.replace(microsecond=0)
    assert slow[0] == str(first.replace(tzinfo=timezone(offset)).astimezone(timezone.utc).replace(tzinfo=None))


@pytest.mark.parametrize("column", [
    ["2026-03-01T10:00:00.000Z", "2026-03-01T10:00:00.500Z"],
    ["2026-03-01 10:00:00.000", "2026-03-01 10:00:01.250"],
    ["2026-03-01T10:00:00.000000+00:00", "2026-03-01T10:00:00.000001+00:00"],
    ["2026-03-01T10:00Z", "2026-03-01T10:01Z"],
    ["2026-03-01 10:00", "2026-03-01 23:59"],
    ["2026-03-01T10:00:00.123Z", "2026-03-01T10:00:00.123"],
])
def test_zero_fractions_and_pads_come_out_as_python_stores_them(column: list[str]) -> None:
    kept = utc_text(column)
    assert kept is not None and list(kept) == parsed(column, True)
