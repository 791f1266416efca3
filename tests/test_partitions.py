"""Partitioned tables: the periods and names, rows routed to their partitions by the ingest pipeline,
an existing table partitioned in place, the declaration kept across a restart (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from anynode.codes import Code
from anynode.errors import IngestError, StoreError
from anynode.ingest.pipeline import ingest_rows
from anynode.store import partitioned
from anynode.store.catalog import DatabaseCatalog
from anynode.store.partitions import PartitionSpec, parse_name
from tests.data_helpers import catalog, count, dbms, kind  # noqa: F401

DAY0 = datetime(2026, 3, 1)


def rows_over(days: int, per_day: int, start: datetime = DAY0) -> list[dict[str, object]]:
    step = 86400 / per_day
    return [{"ts": str(start + timedelta(seconds=i * step)), "v": i} for i in range(days * per_day)]


def names(cat: DatabaseCatalog, db: str, table: str = "t") -> list[str]:
    backend = cat.get(db).backend
    with backend.reader() as conn:
        return [p.name for p in partitioned.list_partitions(backend, conn, table)]


@pytest.mark.parametrize(("interval", "value", "name", "end"), [
    ("1 day", "2026-07-27 10:00:00", "par_s_2026_07_27_d01_timestamp", "2026-07-28"),
    ("12 hours", "2026-07-27 13:05:00", "par_s_2026_07_27_01_h12_timestamp", "2026-07-28"),
    ("12 hours", "2026-07-27 11:59:59", "par_s_2026_07_27_00_h12_timestamp", "2026-07-27 12:00"),
    ("14 days", "2026-08-05 00:00:00", "par_s_2026_08_00_d14_timestamp", "2026-08-15"),
    ("14 days", "2026-03-30 09:00:00", "par_s_2026_03_02_d14_timestamp", "2026-04-01"),  # a short last period
    ("1 week", "2019-11-09 00:00:00", "par_s_2019_11_01_d07_timestamp", "2019-11-15"),
    ("1 month", "2026-12-31 23:00:00", "par_s_2026_12_m01_timestamp", "2027-01-01"),
    ("3 months", "2026-05-02 00:00:00", "par_s_2026_01_m03_timestamp", "2026-07-01"),
    ("year", "2026-05-02 00:00:00", "par_s_2026_y01_timestamp", "2027-01-01"),
])
def test_periods_and_names_follow_anylog(interval: str, value: str, name: str, end: str) -> None:
    spec = PartitionSpec.parse("timestamp", interval)
    start = spec.start(value)
    assert spec.name("s", start) == name
    assert spec.end(start) == datetime.fromisoformat(end)
    back = parse_name("s", name)
    assert back is not None and (back.start, back.spec) == (start, spec)
    assert spec.start(datetime.fromisoformat(value)) == start  # a datetime (PostgreSQL) lands in the same period


@pytest.mark.parametrize("text", ["fortnight", "0 days", "25 hours", "1 day 2", "x days"])
def test_a_bad_interval_says_what_is_accepted(text: str) -> None:
    with pytest.raises(StoreError) as err:
        PartitionSpec.parse("ts", text)
    assert err.value.hint and "by" in err.value.hint or "at most" in (err.value.hint or "")


def test_rows_go_to_their_day_and_the_table_name_still_answers(catalog: DatabaseCatalog, dbms: str) -> None:
    catalog.partitions.declare(dbms, "t", PartitionSpec.parse("ts", "1 day"))
    rows = rows_over(3, 100)
    assert ingest_rows(rows, dbms, "t", catalog).rows == 300
    assert names(catalog, dbms) == [f"par_t_2026_03_0{d}_d01_ts" for d in (1, 2, 3)]
    assert count(catalog, dbms, "par_t_2026_03_02_d01_ts") == 100
    assert catalog.query(dbms, "select count(*), sum(v) from t")[1][0][:2] == (300, sum(range(300)))
    assert "t" in catalog.tables(dbms)  # get tables, info table ... exists


def test_a_row_without_a_time_is_refused_with_its_file(catalog: DatabaseCatalog, dbms: str) -> None:
    catalog.partitions.declare(dbms, "t", PartitionSpec.parse("ts", "1 day"))
    ingest_rows(rows_over(1, 10), dbms, "t", catalog)
    with pytest.raises(IngestError) as err:
        ingest_rows([{"ts": "2026-03-05 00:00:00", "v": 1}, {"v": 2}], dbms, "t", catalog)
    assert err.value.anylog_code == Code.JSON_TO_SQL and "'ts'" in err.value.message
    with pytest.raises(IngestError, match="not date-times"):
        ingest_rows([{"ts": "soon", "v": 1}], dbms, "t", catalog)
    assert count(catalog, dbms, "t") == 10 and len(names(catalog, dbms)) == 1  # nothing of either file


def test_a_column_that_appears_mid_file_reaches_every_partition(catalog: DatabaseCatalog, dbms: str) -> None:
    catalog.partitions.declare(dbms, "t", PartitionSpec.parse("ts", "1 day"))
    rows = rows_over(2, 6000)  # several batches on both engines
    for r in rows[9000:]:
        r["extra"] = 1.5
    ingest_rows(rows, dbms, "t", catalog)
    assert catalog.query(dbms, "select count(*), count(extra) from t")[1][0] == (12000, 3000)
    ingest_rows([{"ts": "2026-03-01 05:00:00", "v": 1, "extra": "text now"}], dbms, "t", catalog)
    got = catalog.query(dbms, "select extra from t where v = 1 and extra is not null")[1]
    assert [r[0] for r in got] == ["text now"]


def test_insert_timestamp_partitions_a_whole_file_at_once(catalog: DatabaseCatalog, dbms: str) -> None:
    catalog.partitions.declare(dbms, "*", PartitionSpec.parse("insert_timestamp", "12 hours"))
    ingest_rows([{"a": 1}, {"a": 2}], dbms, "m", catalog)
    (part,) = names(catalog, dbms, "m")
    assert part.endswith("_h12_insert_timestamp") and count(catalog, dbms, "m") == 2


def test_an_existing_table_with_rows_lacking_the_column_stays_whole(catalog: DatabaseCatalog, dbms: str) -> None:
    ingest_rows([{"ts": "2026-03-01 00:00:00", "v": 1}, {"v": 2}], dbms, "t", catalog)
    db = catalog.get(dbms)
    with pytest.raises(StoreError, match="1 row"):
        catalog.submit(dbms, lambda c: partitioned.migrate(db.backend, c, "t", PartitionSpec("ts", 1, "day"))
                       ).result()
    assert count(catalog, dbms, "t") == 2 and names(catalog, dbms) == []  # rolled back


def test_the_declaration_survives_a_restart(tmp_path: Path) -> None:
    first = DatabaseCatalog(tmp_path / "dbms")
    first.partitions.declare("demo", "*", PartitionSpec.parse("ts", "1 day"))
    first.close()
    again = DatabaseCatalog(tmp_path / "dbms")
    try:
        again.connect("demo")
        ingest_rows(rows_over(2, 10), "demo", "t", again)
        assert names(again, "demo") == ["par_t_2026_03_01_d01_ts", "par_t_2026_03_02_d01_ts"]
    finally:
        again.close()


def test_a_batch_over_scattered_periods_makes_only_the_periods_with_rows(catalog: DatabaseCatalog, dbms: str) -> None:
    catalog.partitions.declare(dbms, "t", PartitionSpec.parse("ts", "1 day"))
    near = ["2026-03-03 10:00:00", "2026-03-01 00:00:00", "2026-03-03 00:00:00", "2026-03-01 23:59:59"]
    ingest_rows([{"ts": t, "v": i} for i, t in enumerate(near)], dbms, "t", catalog)  # a gap on 2 March
    assert names(catalog, dbms) == ["par_t_2026_03_01_d01_ts", "par_t_2026_03_03_d01_ts"]
    assert count(catalog, dbms, "par_t_2026_03_01_d01_ts") == 2
    far = ["2027-06-01 00:00:00", "2026-03-02 12:00:00", "2027-06-01 08:00:00"]  # more than 256 days apart
    ingest_rows([{"ts": t, "v": i} for i, t in enumerate(far)], dbms, "t", catalog)
    assert names(catalog, dbms) == ["par_t_2026_03_01_d01_ts", "par_t_2026_03_02_d01_ts", "par_t_2026_03_03_d01_ts",
                                    "par_t_2027_06_01_d01_ts"]
    assert count(catalog, dbms, "par_t_2027_06_01_d01_ts") == 2 and count(catalog, dbms, "t") == 7
