"""A node killed (SIGKILL) in the middle of ingesting 200 files loses nothing and duplicates nothing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

from tests.helpers import sqlite_rows, start_node_process

FILES, ROWS = 200, 50


def test_sigkill_mid_ingest_then_restart_gives_every_row_exactly_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    watch = home / "data" / "watch"
    watch.mkdir(parents=True)
    past = time.time() - 60
    for f in range(FILES):
        path = watch / f"demo.readings.{f}.json"
        path.write_text("\n".join(json.dumps({"f": f, "i": i, "value": f * i * 0.5}) for i in range(ROWS)))
        os.utime(path, (past, past))
    script = tmp_path / "op.al"
    script.write_text("connect dbms demo where type = sqlite\nrun operator where rescan = 0.5 seconds\n")
    db = home / "data" / "dbms" / "demo.dbms"
    total = FILES * ROWS

    first = start_node_process(home, script)
    try:
        deadline = time.monotonic() + 60
        while sqlite_rows(db, "readings") < total // 4:
            assert time.monotonic() < deadline and first.poll() is None, "ingest did not start"
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = sqlite_rows(db, "readings")
    assert 0 < at_kill < total, at_kill

    second = start_node_process(home, script)
    try:
        deadline = time.monotonic() + 90
        while sqlite_rows(db, "readings") < total or any(p.is_file() for p in watch.rglob("*.json")):
            assert time.monotonic() < deadline and second.poll() is None, \
                f"stuck at {sqlite_rows(db, 'readings')} of {total}"
            time.sleep(0.1)
        time.sleep(1.0)  # anything left to do would show now
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows, distinct = conn.execute("select count(*), count(distinct f * 1000 + i) from readings").fetchone()
        assert (rows, distinct) == (total, total)
        assert os.listdir(home / "data" / "error") == []
        archived = list((home / "data" / "archive").rglob("*.json.gz"))
        assert len(archived) == FILES
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0
