"""run operator options, the pool, stopping, and the commands a user inspects and repairs ingest with."""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import pytest

from anynode.errors import CommandSyntaxError
from anynode.node import Node
from tests.helpers import INGEST_WAIT, count_rows, drop, errors, wait_for_rows, wait_until, watch


def files_in(directory: str | None) -> list[Path]:
    return sorted(p for p in Path(directory or "").rglob("*") if p.is_file())


def test_threads_pool_ingests_many_tables_side_by_side_and_each_file_once(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("connect dbms other where type = sqlite")
    reply = node.execute("run operator where threads = 4 and rescan = 0.3 seconds").to_text()
    assert "Threads Pool: 4" in reply
    try:
        expected: dict[tuple[str, str], int] = {}
        for f in range(60):
            db, table = ("demo", "other")[f % 2], f"t{f % 5}"
            rows = [{"f": f, "i": i, "v": i * 0.5} for i in range(20 + f)]
            drop(watch(node), f"{db}.{table}.{f}.json", json.dumps(rows).encode())
            expected[(db, table)] = expected.get((db, table), 0) + len(rows)
        for (db, table), n in expected.items():
            wait_until(lambda db=db, table=table, n=n: count_rows(node, db, table) == n, INGEST_WAIT)
        # a file's rows are visible a moment before the operator counts the file
        wait_until(lambda: node.execute("get operator where format = json").to_json()["files"] == 60, INGEST_WAIT,
                   "the operator to count the 60th file")
        info = node.execute("get operator where format = json").to_json()
        assert info["files"] == 60 and info["errors"] == 0 and info["threads"] == 4
        # files are archived beside the ingest, just after their rows commit
        wait_until(lambda: len(files_in(node.get_var("archive_dir"))) == 60, INGEST_WAIT, "60 archived files")
        assert "Threads Pool: 4" in node.services.status("Operator").details
    finally:
        node.services.stop("Operator")
    assert not [t for t in __import__("threading").enumerate() if t.name.startswith("anynode:operator-pool")]


def test_exit_operator_stops_within_a_second_and_a_later_run_takes_what_came_meanwhile(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator where threads = 2")
    t0 = time.monotonic()
    node.execute("exit operator")
    assert time.monotonic() - t0 < 1.0
    assert node.services.status("Operator").state != "Running"
    past = time.time() - 60
    path = watch(node) / "demo.later.json"
    path.write_text('{"v": 1}')
    os.utime(path, (past, past))
    node.execute("run operator")
    try:
        wait_for_rows(node, "demo", "later", 1)
    finally:
        node.execute("exit operator")


def test_dbms_and_table_name_options_redirect_rows_and_limit_tables_refuses_others(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator where dbms_name = demo and table_name = merged and rescan = 0.3 seconds "
                 "and limit_tables = (demo.merged)")
    try:
        drop(watch(node), "x.a.0.json", b'{"v": 1}')
        drop(watch(node), "y.b.0.json", b'{"v": 2}')
        wait_for_rows(node, "demo", "merged", 2)
    finally:
        node.services.stop("Operator")
    node.execute("run operator where limit_tables = (demo.allowed) and rescan = 0.3 seconds")
    try:
        drop(watch(node), "demo.other.json", b'{"v": 1}')
        wait_until(lambda: any(".err_130." in e for e in errors(node)), INGEST_WAIT)
        reason = next(e for e in errors(node) if e.endswith(".err.txt"))
        assert "limit_tables" in (Path(node.get_var("err_dir") or "") / reason).read_text()
    finally:
        node.services.stop("Operator")


@pytest.mark.parametrize("options, where", [
    ("archive_json = false", "bkup_dir"), ("archive_json = false and compress_json = false", "bkup_dir"),
    ("delete_json = true", None), ("compress_json = false", "archive_dir")])
def test_what_happens_to_an_ingested_file(node: Node, options: str, where: str | None) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute(f"run operator where {options} and rescan = 0.3 seconds")
    try:
        drop(watch(node), "demo.kept.json", b'[{"v": 1}]')
        wait_for_rows(node, "demo", "kept", 1)
        wait_until(lambda: not (watch(node) / ".work" / "demo.kept.json").exists() and not any(
            p.name.startswith("demo.kept") for p in files_in(node.get_var("watch_dir"))), INGEST_WAIT)
    finally:
        node.services.stop("Operator")
    kept = [p for d in ("archive_dir", "bkup_dir") for p in files_in(node.get_var(d))]
    if where is None:
        assert kept == []
        return
    assert len(kept) == 1 and str(kept[0]).startswith(node.get_var(where) or "")
    gz = "compress_json = false" not in options
    assert kept[0].name.endswith(".json.gz" if gz else ".json")
    data = gzip.decompress(kept[0].read_bytes()) if gz else kept[0].read_bytes()
    assert json.loads(data) == [{"v": 1}]


def test_with_delete_json_a_file_streaming_already_inserted_is_deleted_not_ingested(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator where delete_json = true and rescan = 0.3 seconds")
    try:
        drop(watch(node), "demo.s.0.0.0.@.1.260101120000.json", b'[{"v": 1}]')
        wait_until(lambda: not files_in(node.get_var("watch_dir")), INGEST_WAIT)
    finally:
        node.services.stop("Operator")
    assert count_rows(node, "demo", "s") == -1  # no table: the rows were never inserted here
    assert [p for d in ("archive_dir", "bkup_dir", "err_dir") for p in files_in(node.get_var(d))] == []


def test_anylog_only_options_are_accepted_with_a_note(node: Node) -> None:
    reply = node.execute("run operator where distributor = true and company = acme "
                         "and update_tsd_info = true and move_json = true").to_text()
    try:
        assert "ignored (HA does not exist yet): distributor, company" in reply
    finally:
        node.services.stop("Operator")


def test_get_operator_views_and_get_processes(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator where rescan = 0.3 seconds")
    try:
        drop(watch(node), "demo.r.json", b'[{"v": 1}, {"v": 2}]')
        drop(watch(node), "demo.bad.json", b'[{"v": 1}')
        wait_until(lambda: len(errors(node)) == 2, INGEST_WAIT)
        # the bad file reaches the error directory a moment before the operator counts it
        wait_until(lambda: (lambda info: info["files"] == 1 and info["errors"] == 1)(
            node.execute("get operator where format = json").to_json()), INGEST_WAIT)
        summary = node.execute("get operator summary where format = json").to_json()
        assert summary["Total rows"] == 2 and summary["New rows"] == 2 and summary["Total errors"] == 1
        assert summary["Status"] == "Running"
        again = node.execute("get operator summary where format = json").to_json()
        assert again["New rows"] == 0 and again["New errors"] == 0
        table = node.execute("get operator summary")
        assert "Avg. rows/sec" in table.columns
        info = node.execute("get operator where format = json").to_json()
        assert info["last_error_code"] == 67 and "ends early" in info["last_error"] and info["rescans"] >= 0
        assert node.execute("get operator config where format = json").to_json()["threads"] == "1"
        assert node.execute("get operator tables where format = json").to_json() == {"demo.r": {"files": 1, "rows": 2}}
        procs = node.execute("get processes").to_text()
        assert "Cluster Member: False, Using Master: False, Threads Pool: 1" in procs
    finally:
        node.services.stop("Operator")


def test_time_file_commands_inspect_and_repair_the_file_records(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator where rescan = 0.3 seconds")
    try:
        drop(watch(node), "demo.a.s1.json", b'[{"v": 1}, {"v": 2}]')
        drop(watch(node), "demo.b.s2.json", b'{"v": 3}')
        wait_until(lambda: count_rows(node, "demo", "a") == 2 and count_rows(node, "demo", "b") == 1, INGEST_WAIT)
        got = node.execute("time file get where format = json").to_json()
        assert sorted((r["table_name"], r["rows"], r["source"]) for r in got) == [("a", 2, "s1"), ("b", 1, "s2")]
        one = node.execute(f"time file get where hash = {got[0]['file_hash']} and format = json").to_json()
        assert len(one) == 1
        summary = node.execute("time file summary where table = * and start_date = -1d and format = json").to_json()
        assert [(r["table_name"], r["files_count"], r["total_rows"]) for r in summary] == [("a", 1, 2), ("b", 1, 1)]
        assert node.execute("get tsd summary where end_date = -1d and format = json").to_json() == []
        assert node.execute("time file errors where format = json").to_json() == []
        with pytest.raises(CommandSyntaxError, match="not a time"):
            node.execute("time file get where start_date = yesterday")
        with pytest.raises(CommandSyntaxError, match="no TSD table 'tsd_5'"):
            node.execute("time file get where table = tsd_5")
        assert "every file may be ingested again" in node.execute("time file drop all").to_text()
        assert "no file has been ingested" in node.execute("time file get").to_text()
        node.execute('sql demo "delete from a"')
        drop(watch(node), "demo.a.s1.json", b'[{"v": 1}, {"v": 2}]')  # the same file again: taken, not refused
        wait_for_rows(node, "demo", "a", 2)
        assert not any(".err_86." in e for e in errors(node))
    finally:
        node.services.stop("Operator")


def test_a_huge_line_over_16_mb_is_refused_and_the_operator_goes_on(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator where rescan = 0.3 seconds")
    try:
        data = b'{"v": 1}\n{"v": "' + b"x" * (17 * 2**20) + b'"}\n'
        drop(watch(node), "demo.huge.json", data)
        wait_until(lambda: any(".err_67." in e for e in errors(node)), INGEST_WAIT)
        reason = next(e for e in errors(node) if e.endswith(".err.txt"))
        assert "longer than" in (Path(node.get_var("err_dir") or "") / reason).read_text()
        drop(watch(node), "demo.after.json", b'{"v": 1}')
        wait_for_rows(node, "demo", "after", 1)
        assert count_rows(node, "demo", "huge") == -1  # nothing of the bad file was committed
    finally:
        node.services.stop("Operator")


def test_with_a_pool_a_file_dropped_again_while_its_twin_is_ingested_waits_and_is_refused(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator where threads = 3 and rescan = 0.3 seconds")
    try:
        drop(watch(node), "demo.twin.0.json", b'{"v": 0}')  # the table's first file, alone
        wait_for_rows(node, "demo", "twin", 1)
        data = json.dumps([{"v": i} for i in range(50_000)]).encode()
        drop(watch(node), "demo.twin.json", data)
        wait_until(lambda: (watch(node) / ".work" / "demo.twin.json").exists()  # claimed, being ingested
                   or count_rows(node, "demo", "twin") == 50_001, 10)
        drop(watch(node), "demo.twin.json", data)  # the same file again while its twin is in flight
        wait_until(lambda: count_rows(node, "demo", "twin") == 50_001 and any(".err_86." in e for e in errors(node)),
                   INGEST_WAIT)
        time.sleep(0.3)
        assert count_rows(node, "demo", "twin") == 50_001
    finally:
        node.services.stop("Operator")
