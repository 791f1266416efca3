"""System scheduler 0: integrity check of the archive, staging cleaner, stats log, retention."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from anynode.node import Node
from tests.helpers import wait_until
from tests.scheduler_helpers import task_row

pytestmark = pytest.mark.timeout(30)


def make_node(tmp_path: Path, config: str = "") -> Node:
    home = tmp_path / "hk"
    home.mkdir(exist_ok=True)
    (home / "anynode.cfg").write_text(config)
    node = Node(home)
    node.execute("create work directories")
    return node


@pytest.fixture
def archived(tmp_path: Path) -> Iterator[tuple[Node, list[Path]]]:
    """100 files ingested by the real operator and archived uncompressed; the node runs scheduler 0."""
    node = make_node(tmp_path)
    try:
        node.execute("connect dbms demo where type = sqlite")
        node.execute("run operator where rescan = 0.3 seconds and compress_json = false")
        watch = Path(node.get_var("watch_dir") or "")
        for i in range(100):
            tmp = watch / f"demo.readings.{i}.json.tmp"
            tmp.write_text(json.dumps([{"sensor": f"s{i}", "value": i, "note": "x" * 40}]))
            os.replace(tmp, watch / f"demo.readings.{i}.json")
        archive = Path(node.get_var("archive_dir") or "")
        files = wait_until(lambda: len(found := sorted(archive.rglob("*.json"))) == 100 and found, timeout=20)
        node.execute("run scheduler 0")
        yield node, files
    finally:
        node.close()


def flip_byte(path: Path, at: int = 20) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def age_by_days(path: Path, days: int) -> Path:
    """Move an archived file to the day directory and name date of ``days`` ago (as if ingested then)."""
    parts = path.name.split(".")
    when = datetime.now(timezone.utc) - timedelta(days=days)
    parts[7] = when.strftime("%y%m%d%H%M%S")
    root = path.parents[3]
    target = root / when.strftime("%y/%m/%d") / ".".join(parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, target)
    return target


def run_integrity(node: Node) -> str:
    return node.execute('task run where scheduler = 0 and name = "Integrity check"').to_text()


def test_integrity_check_finds_one_flipped_byte_among_100_archived_files(archived: tuple[Node, list[Path]]) -> None:
    node, files = archived
    assert run_integrity(node).endswith("pass done: 100 file(s) checked, 0 mismatch(es), 0 skipped; "
                                        "0 corrupt file(s) listed")
    bad = files[37]
    flip_byte(bad)  # after a clean pass: the check reads the disk again, it keeps no checksum
    status = run_integrity(node)
    assert "100 file(s) checked, 1 mismatch(es)" in status
    got = node.execute("get integrity where format = json").to_json()
    assert [c["File"] for c in got["corrupt"]] == [str(bad)]
    entry = got["corrupt"][0]
    assert entry["Expected MD5"] == bad.name.split(".")[3] and entry["Found"] != entry["Expected MD5"]
    assert entry["Count"] == 1 and got["mismatches"] == 1 and got["passes"] == 2
    assert f"integrity check: {bad} does not match the MD5 recorded at ingest" in \
        node.execute("get error log").to_text()
    text = node.execute("get integrity").to_text()
    assert "Corrupt files" in text and bad.name in text
    run_integrity(node)
    assert node.execute("get integrity where format = json").to_json()["corrupt"][0]["Count"] == 2
    flip_byte(bad)  # put right again: it leaves the list
    assert "0 corrupt file(s) listed" in run_integrity(node)


def test_integrity_check_ignores_files_older_than_age_in_days(archived: tuple[Node, list[Path]]) -> None:
    node, files = archived
    old = age_by_days(files[5], 9)  # default age_in_days is 7
    flip_byte(old)
    within = age_by_days(files[6], 6)
    flip_byte(within)
    status = run_integrity(node)
    assert "99 file(s) checked, 1 mismatch(es)" in status
    assert [c["File"] for c in node.execute("get integrity where format = json").to_json()["corrupt"]] == \
        [str(within)]


def test_integrity_check_reports_a_damaged_gzip_and_skips_a_name_without_md5(tmp_path: Path) -> None:
    node = make_node(tmp_path)
    try:
        node.execute("connect dbms demo where type = sqlite")
        node.execute("run operator where rescan = 0.3 seconds")  # archives compressed
        watch = Path(node.get_var("watch_dir") or "")
        for i in range(3):
            (watch / f"demo.t.{i}.json.tmp").write_text(json.dumps([{"v": "y" * 200, "i": i}]))
            os.replace(watch / f"demo.t.{i}.json.tmp", watch / f"demo.t.{i}.json")
        (watch / "demo.t.9.nothex.0.json.tmp").write_text('[{"v": 1}]')
        os.replace(watch / "demo.t.9.nothex.0.json.tmp", watch / "demo.t.9.nothex.0.json")
        archive = Path(node.get_var("archive_dir") or "")
        gz = wait_until(lambda: len(found := sorted(archive.rglob("*.json.gz"))) == 4 and found)
        damaged = next(p for p in gz if ".t.0." in p.name)
        flip_byte(damaged, at=len(damaged.read_bytes()) - 6)  # in the gzip trailer's CRC
        node.execute("run scheduler 0")
        assert "3 file(s) checked, 1 mismatch(es), 1 skipped" in run_integrity(node)
        (entry,) = node.execute("get integrity where format = json").to_json()["corrupt"]
        assert entry["File"] == str(damaged) and entry["Found"].startswith("unreadable: ")
    finally:
        node.close()


def test_staging_cleaner_removes_an_abandoned_partial_file_and_keeps_one_still_growing(tmp_path: Path) -> None:
    node = make_node(tmp_path)
    incoming = Path(node.get_var("tmp_dir") or "") / "incoming"
    incoming.mkdir(parents=True)
    abandoned = incoming / "3f2a.part"
    abandoned.write_bytes(b"x" * 1000)
    hour_ago = time.time() - 3600
    os.utime(abandoned, (hour_ago, hour_ago))
    growing = Path(node.get_var("watch_dir") or "") / "upload.json.part"
    held = Path(node.get_var("prep_dir") or "") / ".demo.t.json.ab12.tmp"
    data_file = Path(node.get_var("bkup_dir") or "") / "old.json"
    data_file.write_text("[]")
    os.utime(data_file, (hour_ago, hour_ago))
    stop = threading.Event()

    def writer() -> None:
        with open(growing, "ab") as out:
            while not stop.wait(0.05):
                out.write(b"y" * 100)
                out.flush()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with open(held, "wb") as kept_open:  # a write of this process in progress, though untouched for an hour
            kept_open.write(b"z")
            kept_open.flush()
            os.utime(held, (hour_ago, hour_ago))
            wait_until(lambda: growing.exists() and growing.stat().st_size > 0)
            node.execute("run scheduler 0")  # the cleaner runs at once when scheduler 0 starts
            row = wait_until(lambda: (r := task_row(node, "Staging cleaner", 0))["Duration"] and r)  # it ended
            assert row["Last status"] == "Success: 1 temp file(s) deleted"
            assert not abandoned.exists()
            assert growing.exists() and held.exists() and data_file.exists()
        assert "staging cleaner: deleted " + str(abandoned) in node.execute("get event log").to_text()
    finally:
        stop.set()
        thread.join()
        node.close()


def test_stats_log_has_process_cpu_and_rss_and_each_services_rates(tmp_path: Path) -> None:
    node = make_node(tmp_path, "stats_interval = 1 hour\n")
    try:
        node.execute("n = 0")
        node.execute("schedule time = 0.05 seconds and name = inc task n = incr !n")
        node.execute("run scheduler")
        node.execute("run scheduler 0")
        assert task_row(node, "Stats", 0)["Repeat time"] == "1:00:00"  # tuned by the setting
        node.execute('task run where scheduler = 0 and name = "Stats"')
        wait_until(lambda: int(node.get_var("n") or 0) >= 5)
        node.execute('task run where scheduler = 0 and name = "Stats"')
        lines = [json.loads(line) for line in node.logs.stats_path.read_text().splitlines()]
        process = [x for x in lines if x["service"] == "process"]
        assert len(process) == 2
        assert process[1]["rss_bytes"] > 10 * 1024 * 1024 and process[1]["cpu_seconds"] > 0
        assert "cpu_percent" in process[1] and process[1]["threads"] >= 3
        scheduler = [x for x in lines if x["service"] == "Scheduler"]
        assert scheduler[1]["runs"] > scheduler[0]["runs"] and scheduler[1]["rates"]["runs_per_s"] > 0
        assert {x["service"] for x in lines} >= {"process", "Scheduler", "Housekeeping"}
    finally:
        node.close()


def test_retention_is_off_by_default_and_deletes_by_age_when_set(tmp_path: Path) -> None:
    node = make_node(tmp_path)
    errors = Path(node.get_var("err_dir") or "")
    archive = Path(node.get_var("archive_dir") or "")
    old_error, new_error = errors / "a.err_67.1.json", errors / "b.err_67.2.json"
    for path in (old_error, new_error):
        path.write_text("[]")
    ten_days_ago = time.time() - 10 * 86400
    os.utime(old_error, (ten_days_ago, ten_days_ago))
    now = datetime.now(timezone.utc)
    old_day = archive / (now - timedelta(days=40)).strftime("%y/%m/%d")
    new_day = archive / now.strftime("%y/%m/%d")
    for day in (old_day, new_day):
        day.mkdir(parents=True)
        (day / "demo.t.0.abc.0.0.1.000000000000.json").write_text("[]")
    try:
        node.execute("run scheduler 0")
        row = task_row(node, "Retention", 0)
        assert row["Mode"] == "Stopped" and row["Task"].startswith("off")
        node.execute('task run where scheduler = 0 and name = "Retention"')
        assert old_error.exists() and old_day.exists()
        node.execute("exit scheduler 0")
        (node.home / "anynode.cfg").write_text("error_retention_days = 7\narchive_retention_days = 30\n")
        node.apply_settings(node.settings.reload())
        node.execute("run scheduler 0")  # settings are read when scheduler 0 starts; retention runs at once
        row = wait_until(lambda: (r := task_row(node, "Retention", 0))["Duration"] and r)
        assert row["Mode"] == "Active" and "older than 7 day(s)" in row["Task"]
        assert row["Last status"] == "Success: 2 file(s) deleted"
        assert not old_error.exists() and new_error.exists()
        assert not old_day.exists() and new_day.exists()
    finally:
        node.close()


def test_housekeeping_is_scheduler_0_and_not_a_user_service(tmp_path: Path) -> None:
    node = make_node(tmp_path)
    try:
        node.start_housekeeping()
        assert node.services.status("Housekeeping").details.startswith("Schedulers IDs in use: [0 (system)]; 5 task(s)")
        assert node.user_services() == []
        names = [t["Name"] for t in node.execute("get scheduler 0 where format = json").to_json()[0]["Tasks"]]
        assert names == ["Integrity check", "Staging cleaner", "Stats", "Retention", "Metadata ping"]
        node.execute("exit scheduler 0")
        node.execute("run scheduler 0")  # the jobs are made again, under the same ids
        ids = [t["ID"] for t in node.execute("get scheduler 0 where format = json").to_json()[0]["Tasks"]]
        assert ids == [1, 2, 3, 4, 5]
    finally:
        node.close()
