"""A partitioned table's rows go straight to their partitions, split by period in batch order or not, and the
catalog lookups the ingest makes a file answer as information_schema does (PostgreSQL reads pg_catalog)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from anynode.ingest.pipeline import ingest_rows
from anynode.store import partition_rows, partitioned
from anynode.store.catalog import DatabaseCatalog
from anynode.store.column_rows import ColumnRows
from anynode.store.partitions import PartitionSpec
from tests.data_helpers import catalog, connect, count, dbms, kind  # noqa: F401

DAY0 = datetime(2026, 3, 1)


def _names(cat: DatabaseCatalog, db: str, table: str = "t") -> list[str]:
    backend = cat.get(db).backend
    with backend.reader() as conn:
        return [p.name for p in partitioned.list_partitions(backend, conn, table)]


def test_rows_in_time_order_over_many_periods_land_in_theirs(catalog: DatabaseCatalog, dbms: str) -> None:  # noqa: F811
    catalog.partitions.declare(dbms, "t", PartitionSpec.parse("ts", "6 hours"))
    rows = [{"ts": str(DAY0 + timedelta(minutes=7 * i)), "v": i} for i in range(12_000)]  # ~58 days, many batches
    assert ingest_rows(rows, dbms, "t", catalog).rows == 12_000
    made = _names(catalog, dbms)
    assert len(made) == len({(DAY0 + timedelta(minutes=7 * i)).strftime("%Y%m%d") + str(
        (DAY0 + timedelta(minutes=7 * i)).hour // 6) for i in range(12_000)})
    per_part = sum(count(catalog, dbms, name) for name in made)
    assert per_part == 12_000 and count(catalog, dbms, "t") == 12_000
    first = catalog.query(dbms, f"SELECT min(v), max(v), count(*) FROM {made[0]}")[1][0]
    assert first == (0, 51, 52)  # 0:00 to 5:57 on 1 March


def test_rows_out_of_order_are_picked_for_each_period(catalog: DatabaseCatalog, dbms: str) -> None:  # noqa: F811
    catalog.partitions.declare(dbms, "t", PartitionSpec.parse("ts", "1 day"))
    rows = [{"ts": str(DAY0 + timedelta(days=i % 3, seconds=i)), "v": i} for i in range(3000)]  # days interleaved
    ingest_rows(rows, dbms, "t", catalog)
    assert _names(catalog, dbms) == [f"par_t_2026_03_0{d}_d01_ts" for d in (1, 2, 3)]
    got = catalog.query(dbms, "SELECT count(*), sum(v) FROM par_t_2026_03_02_d01_ts")[1][0]
    assert tuple(got) == (1000, sum(range(1, 3000, 3)))


def test_a_split_keeps_each_rows_values_together() -> None:
    rows = ColumnRows([list(range(6)), list("abcdef")])
    ordered = partition_rows.split(rows, [0, 0, 1, 1, 1, 2], 3)
    assert [list(g) for g in ordered] == [[(0, "a"), (1, "b")], [(2, "c"), (3, "d"), (4, "e")], [(5, "f")]]
    mixed = partition_rows.split(rows, [1, 0, 1, 0, 2, 0], 3)
    assert [list(g) for g in mixed] == [[(1, "b"), (3, "d"), (5, "f")], [(0, "a"), (2, "c")], [(4, "e")]]
    assert [list(g) for g in partition_rows.split(list(rows), [1, 0, 1, 0, 2, 0], 3)] == [list(g) for g in mixed]


def test_postgresql_column_lookups_answer_as_information_schema(catalog: DatabaseCatalog) -> None:  # noqa: F811
    name = connect(catalog, "psql")
    backend = catalog.get(name).backend
    try:
        enum = f"mood_{uuid.uuid4().hex[:6]}"
        catalog.execute(name, f"CREATE TYPE {enum} AS ENUM ('ok', 'bad')")
        catalog.execute(name, "CREATE DOMAIN short_text AS varchar(10)")
        catalog.execute(name, f"CREATE TABLE odd (a integer, b varchar(5), c numeric(4,1), d timestamp with time "
                              f"zone, e int[], f {enum}, g short_text, h double precision, i boolean, j jsonb)")
        catalog.execute(name, "ALTER TABLE odd DROP COLUMN c")
        with backend.reader() as conn:
            want = conn.execute("SELECT column_name, data_type, udt_name FROM information_schema.columns "
                                "WHERE table_schema = current_schema() AND table_name = 'odd' "
                                "ORDER BY ordinal_position").fetchall()
            assert backend.column_decls(conn, "odd") == [(c, d) for c, d, _ in want]
            assert backend._read_udt_names(conn, "odd") == {c: u for c, _, u in want}
            assert backend.has_table(conn, "odd") and not backend.has_table(conn, "even")
    finally:
        catalog.disconnect(name)
        backend.drop_database()
