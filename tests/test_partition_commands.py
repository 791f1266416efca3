"""The retention commands on a node: partition, get partitions, drop partition (scheduled too), info table,
create table tsd_info, delete archive, and EdgeLake's deployment-script lines of the same form."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from anynode.errors import AnyNodeError, NoSuchDatabase, NoSuchTable
from anynode.ingest.pipeline import ingest_rows
from anynode.node import Node
from tests.data_helpers import (
    kind,  # noqa: F401
    node_db,  # noqa: F401  (fixture)
)
from tests.helpers import wait_until
from tests.partition_helpers import db, partitions  # noqa: F401

DAY0 = datetime(2026, 3, 1)


def put_days(node: Node, db: str, days: int, per_day: int = 24, table: str = "t") -> None:
    rows = [{"ts": str(DAY0 + timedelta(hours=24 * i / per_day)), "v": i} for i in range(days * per_day)]
    ingest_rows(rows, db, table, node.catalog)


def text(node: Node, line: str) -> str:
    return node.execute(line).to_text()


def test_partition_moves_existing_rows_and_keeps_partitioning_new_ones(node: Node, db: str) -> None:
    put_days(node, db, 4, per_day=50)
    before = node.execute(f'sql {db} format = json "select count(*) as n, sum(v) as s from t"').to_json()
    out = text(node, f"partition {db} t using ts by 1 day")
    assert "200 row(s) moved into 4 partition(s)" in out
    assert node.execute(f'sql {db} format = json "select count(*) as n, sum(v) as s from t"').to_json() == before
    put_days(node, db, 6, per_day=1)  # days 1-6: two more partitions
    assert partitions(node, db) == [f"par_t_2026_03_0{d}_d01_ts" for d in range(1, 7)]
    assert text(node, f"partition {db} t using ts by 1 day").endswith("already partitioned this way")
    with pytest.raises(AnyNodeError, match="already has partitions by ts every 1 day"):
        node.execute(f"partition {db} t using ts by 2 days")


def test_get_partitions_lists_declarations_then_periods(node: Node) -> None:
    assert text(node, "get partitions") == "No partitions declared"
    node.execute("connect dbms demo where type = sqlite")
    node.execute("partition demo * using insert_timestamp by 12 hours")
    node.execute("partition demo t using ts by 1 day")
    assert node.execute("get partitions where format = json").to_json() == [
        {"DBMS": "demo", "Table": "*", "Column": "insert_timestamp", "Interval": "12 hours"},
        {"DBMS": "demo", "Table": "t", "Column": "ts", "Interval": "1 day"}]
    put_days(node, "demo", 2)
    table = text(node, "get partitions where dbms = demo")
    assert "Partitions in DBMS: 'demo'" in table
    assert "par_t_2026_03_02_d01_ts" in table and "2026-03-02 00:00:00" in table and "2026-03-03 00:00:00" in table


def test_drop_partition_keep_oldest_named_and_all(node: Node, db: str) -> None:
    node.execute(f"partition {db} t using ts by 1 day")
    put_days(node, db, 10)
    days = [f"par_t_2026_03_{d:02d}_d01_ts" for d in range(1, 11)]
    assert "dropped 1 partition(s), 9 kept" in text(node, f"drop partition where dbms = {db} and table = t")
    assert partitions(node, db) == days[1:]
    text(node, f"drop partition {days[4]} where dbms = {db} and table = t")
    assert partitions(node, db) == days[1:4] + days[5:]
    text(node, f"drop partition where dbms = {db} and table = t and keep = 3")
    assert partitions(node, db) == days[7:]
    assert "No partition dropped" in text(node, f"drop partition where dbms = {db} and table = t and keep = 3")
    count = node.execute(f'sql {db} format = json "select count(*) as n, min(ts) as m from t"').to_json()
    assert count["Query"][0]["n"] == 3 * 24 and str(count["Query"][0]["m"]).startswith("2026-03-08")
    with pytest.raises(NoSuchTable, match="not a partition"):
        node.execute(f"drop partition par_t_1999_01_01_d01_ts where dbms = {db} and table = t")
    with pytest.raises(NoSuchTable):
        node.execute(f"drop partition where dbms = {db} and table = nosuch and keep = 1")
    text(node, f"drop partition * where dbms = {db} and table = t")
    assert partitions(node, db) == []
    put_days(node, db, 1)  # the table comes back, partitioned, with its first rows
    assert partitions(node, db) == days[:1]


def test_the_only_partition_is_never_the_oldest_dropped(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("partition demo t using ts by 1 month")
    put_days(node, "demo", 3)
    assert "No partition dropped" in text(node, "drop partition where dbms = demo and table = t")
    assert len(partitions(node, "demo")) == 1


def test_info_table(node: Node) -> None:
    with pytest.raises(NoSuchDatabase):
        node.execute("info table demo t exists")
    node.execute("connect dbms demo where type = sqlite")
    assert text(node, "info table demo t exists") == "false"
    node.execute("partition demo t using ts by 1 day")
    put_days(node, "demo", 3)
    assert text(node, "info table demo t exists") == "true"
    assert node.execute("info table demo t columns").to_json()["ts"] == "TIMESTAMP"
    assert text(node, "info table demo t partitions count") == "3"
    assert text(node, "info table demo t partitions first") == "par_t_2026_03_01_d01_ts"
    assert text(node, "info table demo t partitions last") == "par_t_2026_03_03_d01_ts"
    assert len(node.execute("info table demo t partitions").to_json()) == 3
    with pytest.raises(AnyNodeError, match="not accepted"):
        node.execute("info table demo t sizes")


def test_create_table_tsd_info_as_the_almgm_script_does(node: Node, tmp_path: Path) -> None:
    script = tmp_path / "almgm.al"
    script.write_text("on error ignore\n"
                      "connect dbms almgm where type=sqlite\n"
                      "on error goto almgm-table-error\n"
                      "is_table = info table almgm tsd_info exists\n"
                      "if !is_table == false then create table tsd_info where dbms=almgm\n"
                      "end script\n"
                      ":almgm-table-error:\n"
                      "echo failed\n")
    node.execute(f"process {script}")
    assert "tsd_info" in node.catalog.tables("almgm")
    assert text(node, "create table tsd_info where dbms = almgm") == "Table tsd_info exists in almgm"
    node.execute(f"process {script}")  # the second start finds it
    with pytest.raises(AnyNodeError, match="no built-in layout"):
        node.execute("create table readings where dbms = almgm")


def _archive(node: Node, ages: list[int]) -> Path:
    root = Path(node.get_var("archive_dir") or "")
    today = datetime.now(timezone.utc)
    for age in ages:
        day = root / (today - timedelta(days=age)).strftime("%y/%m/%d")
        day.mkdir(parents=True, exist_ok=True)
        (day / f"demo.t.0.{age}.json.gz").write_bytes(b"x")
    return root


def test_delete_archive_keeps_the_last_days(node: Node) -> None:
    root = _archive(node, [0, 1, 3, 4, 40, 400])
    out = text(node, "delete archive where days = 3")
    assert out.startswith("Deleted 3 archived file(s) of 3 day(s) older than 3 day(s)")
    left = sorted(p.name.split(".")[3] for p in root.rglob("*.json.gz"))
    assert left == ["0", "1", "3"]
    assert sorted(p.name for p in root.iterdir()) == sorted({p.parts[-4] for p in root.rglob("*.json.gz")})
    assert text(node, "delete archive where days = 3").startswith("No archived day older than 3")


def test_a_scheduled_drop_partition_runs(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("partition demo t using ts by 1 day")
    put_days(node, "demo", 10)
    node.execute('schedule time = 1 hour and name = "Drop old" task drop partition where dbms = demo '
                 "and table = t and keep = 7")
    node.execute("run scheduler 1")
    try:
        wait_until(lambda: len(partitions(node, "demo")) == 7, what="the scheduled drop")
    finally:
        node.execute("exit scheduler")
    assert partitions(node, "demo")[0] == "par_t_2026_03_04_d01_ts"


def test_deployment_script_lines_run_unmodified(node: Node, tmp_path: Path) -> None:
    """Lines of the form of EdgeLake's node-deployment/database/configure_dbms_operator.al, with their variables."""
    root = _archive(node, [0, 10])
    script = tmp_path / "operator_dbms.al"
    script.write_text(
        "set enable_partitions = true\n"
        "default_dbms = shop\n"
        "table_name=*\n"
        "partition_column = ts\n"
        "partition_interval = 1 day\n"
        "partition_keep = 2\n"
        "partition_sync = 1 day\n"
        "archive_delete = 5\n"
        "on error ignore\n"
        "connect dbms !default_dbms where type=sqlite\n"
        ":data-partitioning:\n"
        "if !enable_partitions == true then\n"
        "do on error goto partitioning-error\n"
        "do partition !default_dbms !table_name using !partition_column by !partition_interval\n"
        '<do schedule time=!partition_sync and name="Drop Partitions"\n'
        "    task drop partition where dbms=!default_dbms and table =!table_name and keep=!partition_keep>\n"
        "schedule name=remove_archive and time=1 day and task delete archive where days = !archive_delete\n"
        "end script\n"
        ":partitioning-error;\n"
        'echo "Failed to set partitions"\n')
    node.execute(f"process {script}")
    assert node.execute("get partitions where format = json").to_json()[0]["Table"] == "*"
    put_days(node, "shop", 4)
    put_days(node, "shop", 3, table="u")
    tasks = {t["Name"]: t for t in node.execute("get scheduler 1 where format = json").to_json()[0]["Tasks"]}
    assert set(tasks) == {"Drop Partitions", "remove_archive"}
    node.execute('task run where name = "Drop Partitions"')
    node.execute("task run where name = remove_archive")
    wait_until(lambda: len(partitions(node, "shop", "t")) == 2 and len(partitions(node, "shop", "u")) == 2,
               what="both tables down to 2 partitions")
    wait_until(lambda: len(list(root.rglob("*.json.gz"))) == 1, what="the 10-day-old archive gone")


def test_monitoring_script_lines_run_unmodified(node: Node, tmp_path: Path) -> None:
    """Lines of the form of EdgeLake's configure_dbms_monitoring.al: every table by insert_timestamp, quoted '*'."""
    script = tmp_path / "monitoring.al"
    script.write_text(
        "set enable_partitions = true\n"
        "on error ignore\n"
        "db_name = monitoring\n"
        "connect dbms !db_name where type=sqlite\n"
        "if !enable_partitions == true then\n"
        "do on error goto partitioning-error\n"
        "do partition monitoring * using insert_timestamp by 12 hours\n"
        '<do schedule time=12 hours and name="Monitoring - Drop Partitions"\n'
        '    task drop partition where dbms=monitoring and table="*" and keep=3>\n'
        "end script\n"
        ":partitioning-error;\n"
        'echo "Failed to set partitions"\n')
    node.execute(f"process {script}")
    ingest_rows([{"node": "a", "cpu": 3.5}], "monitoring", "node_insight", node.catalog)
    (name,) = partitions(node, "monitoring", "node_insight")
    assert name.startswith("par_node_insight_") and name.endswith("_h12_insert_timestamp")
    out = node.execute('task run where name = "Monitoring - Drop Partitions"').to_text()
    assert "No partition dropped" in out and partitions(node, "monitoring", "node_insight") == [name]
