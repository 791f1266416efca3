"""What `get operator` tells during and after work (issue 10, defects 15 and 16), and archiving beside the ingest.

* during a big file, rows inserted so far show as rows_in_progress (rows counts
  committed rows, which a file adds all at once);
* a small figure of rows per second is not rounded to 0.0;
* every field of `get operator` is explained in docs/ingest.md;
* a clean stop does not log "file events were lost"; a watch directory removed
  under the operator still does;
* a node killed after a file's rows commit and before the file is archived
  counts those rows once after the restart, and archives the file then.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from anynode.node import Node
from anynode.operator.stats import rate
from tests.helpers import INGEST_WAIT, drop, wait_until

ROOT = Path(__file__).resolve().parents[1]


def _info(node: Node) -> dict[str, object]:
    return node.execute("get operator where format = json").to_json()  # type: ignore[no-any-return]


def _log(node: Node) -> str:
    return (Path(node.home) / "logs" / "root.log").read_text()


def test_rows_of_a_big_file_show_as_in_progress_before_they_commit(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator where rescan = 0.2 seconds")
    try:
        rows = 300_000
        body = b"".join(b'{"v": %d}\n' % i for i in range(rows))
        drop(Path(node.get_var("watch_dir") or ""), "demo.big.json", body)
        seen: list[tuple[int, int]] = []
        deadline = time.monotonic() + INGEST_WAIT
        while time.monotonic() < deadline:
            info = _info(node)
            seen.append((int(info["rows"]), int(info["rows_in_progress"])))  # type: ignore[call-overload]
            if seen[-1][0] == rows:
                break
            time.sleep(0.005)
        during = [p for r, p in seen if r == 0 and p > 0]
        assert during and min(during) < rows, seen[-5:]  # rows inserted, not yet committed, were shown
        assert seen[-1] == (rows, 0)  # committed: counted in rows, nothing in progress
        assert during == sorted(during)  # it only grows
    finally:
        node.services.stop("Operator")


def test_a_few_rows_over_minutes_do_not_show_as_zero_rows_per_second(node: Node) -> None:
    assert rate(3, 65) == 0.0462 and rate(3, 0.02) == 150.0 and rate(0, 5) == 0.0
    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator where rescan = 0.2 seconds")
    try:
        node.services.get("Operator").stats.started -= 120  # the operator has been up two minutes
        drop(Path(node.get_var("watch_dir") or ""), "demo.t.json", b'{"v": 1}\n{"v": 2}\n{"v": 3}\n')
        wait_until(lambda: _info(node)["rows"] == 3, INGEST_WAIT)
        info = _info(node)
        assert 0 < float(info["rows_per_second_overall"]) < 0.1  # type: ignore[arg-type]
        assert float(info["rows_per_second"]) > 0  # type: ignore[arg-type]
    finally:
        node.services.stop("Operator")


def test_every_field_of_get_operator_is_explained_in_the_docs(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator")
    try:
        fields = ["status", *_info(node)]
    finally:
        node.services.stop("Operator")
    doc = (ROOT / "docs" / "ingest.md").read_text()
    section = doc[doc.index("## What `get operator` says"):]
    section = section[:section.index("\n## ", 3)]
    missing = [f for f in fields if not re.search(rf"^\| `{f}` \|", section, re.MULTILINE)]
    assert not missing, f"docs/ingest.md does not explain {missing}"


def test_a_clean_stop_does_not_log_lost_events_and_a_removed_watch_dir_does(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    for _ in range(2):
        node.execute("run operator")
        node.execute("exit operator")
    assert "events were lost" not in _log(node)
    node.execute("run operator where rescan = 0.2 seconds")
    try:
        watch = Path(node.get_var("watch_dir") or "")
        shutil.rmtree(watch)  # the watched directory is deleted: its events are gone
        wait_until(lambda: "events were lost" in _log(node), INGEST_WAIT, "the lost-events warning")
    finally:
        node.services.stop("Operator")


# A node whose archiving dies (os._exit) when the first ingested file is handed to it: the rows and
# their records are committed, the file is still in .work/. It prints what the database held then.
CHILD = r"""
import os, sqlite3, sys
import anynode.assembly
from anynode.node import Node
from anynode.operator import files

home = sys.argv[1]
def die(config, path, name):
    db = os.path.join(home, "data", "dbms")
    rows = sqlite3.connect(os.path.join(db, "demo.dbms")).execute("select count(*) from readings").fetchone()[0]
    almgm = sqlite3.connect(os.path.join(db, "almgm.dbms")).execute("select rows from tsd_info").fetchall()
    print(rows, almgm, sorted(os.listdir(os.path.join(home, "data", "watch", ".work"))), flush=True)
    os._exit(9)
files.put_away = die
node = Node(home)
node.execute("connect dbms demo where type = sqlite")
node.execute("run operator")
os.rename(sys.argv[2], os.path.join(node.get_var("watch_dir"), os.path.basename(sys.argv[2])))
import time
time.sleep(60)
"""


def test_killed_between_commit_and_archive_the_rows_count_once_and_the_file_is_archived(tmp_path: Path) -> None:
    home = tmp_path / "home"
    rows = [{"i": i, "v": i * 0.5} for i in range(2500)]
    data = tmp_path / "demo.readings.json"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.run([sys.executable, "-c", CHILD, str(home), str(data)], env=env, capture_output=True,
                           text=True, timeout=60)
    assert child.returncode == 9, child.stderr
    assert child.stdout.split()[0] == "2500"  # archiving starts only after the rows committed
    assert "[(2500,)]" in child.stdout  # ... and after almgm's row count was written
    assert "demo.readings.json" in child.stdout  # ... with the file still in .work/

    node = Node(home)
    try:
        node.execute("connect dbms demo where type = sqlite")
        node.execute("run operator")
        work = Path(node.get_var("watch_dir") or "") / ".work"
        wait_until(lambda: not os.listdir(work), INGEST_WAIT, ".work/ to empty")
        archived = list((home / "data" / "archive").rglob("demo.readings*.json.gz"))
        assert len(archived) == 1
        assert os.listdir(home / "data" / "error") == []
        info = _info(node)
        assert (info["rows"], info["errors"]) == (0, 0)  # nothing ingested again
    finally:
        node.close()
    with sqlite3.connect(home / "data" / "dbms" / "demo.dbms") as conn:
        assert conn.execute("select count(*), count(distinct i) from readings").fetchone() == (2500, 2500)
    with sqlite3.connect(home / "data" / "dbms" / "almgm.dbms") as conn:
        assert conn.execute("select rows from tsd_info").fetchall() == [(2500,)]
