"""time file new | add | rename: record files by hand and name files the way the operator expects."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from anynode.errors import CommandSyntaxError
from anynode.node import Node
from tests.helpers import INGEST_WAIT, drop, wait_for_rows, wait_until, watch

HASH = "0a07ef7260634e625da03ff5f54cc53e"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A directory of the test's own (the node lives in tmp_path/node)."""
    (tmp_path / "files").mkdir()
    return tmp_path / "files"


def records(node: Node) -> list[dict]:  # type: ignore[type-arg]
    return node.execute("time file get where format = json").to_json()  # type: ignore[no-any-return]


def test_time_file_new_records_a_file_by_its_name_and_answers_its_id(node: Node) -> None:
    first = node.execute(f'time file new /nowhere/demo.readings.dev7.{HASH}.0.json "from publisher 7" "sent"')
    assert first.to_text() == "1"  # the file id, bare, so 'id = time file new ...' keeps it
    second = node.execute("time file new demo.events.0.1b07ef7260634e625da03ff5f54cc53e.0.3.9.260131120000.json")
    assert second.to_text() == "2"
    rec = {r["file_id"]: r for r in records(node)}
    assert (rec[1]["dbms_name"], rec[1]["table_name"], rec[1]["source"], rec[1]["file_hash"]) == \
        ("demo", "readings", "dev7", HASH)
    assert (rec[1]["rows"], rec[1]["status1"], rec[1]["status2"]) == (0, "from publisher 7", "sent")
    assert str(rec[2]["file_time"]).startswith("2026-01-31 12:00:00")  # from the name's date section
    assert len(node.execute("time file errors where format = json").to_json()) == 2  # no rows here yet


def test_time_file_new_refuses_what_it_cannot_record_in_one_line(node: Node) -> None:
    with pytest.raises(CommandSyntaxError, match="carries no hash") as err:
        node.execute("time file new demo.readings.json")
    assert "time file rename demo.readings.json" in (err.value.hint or "")
    with pytest.raises(CommandSyntaxError, match="missing dbms.table") as err:
        node.execute("time file new readings.json")
    assert "dbms.table" in (err.value.hint or "")
    node.execute(f"time file new demo.readings.0.{HASH}.0.json")
    with pytest.raises(CommandSyntaxError, match=f"hash {HASH} is already in tsd_info as file 1"):
        node.execute(f"time file new other.table.0.{HASH}.0.json")
    assert len(records(node)) == 1


def test_time_file_add_needs_the_file_and_computes_a_missing_hash(node: Node, files: Path) -> None:
    data = b'[{"v": 1}]'
    (files / "demo.readings.json").write_bytes(data)
    assert node.execute(f"time file add {files}/demo.readings.json checked").to_text() == "1"
    (rec,) = records(node)
    assert rec["file_hash"] == hashlib.md5(b"demo.readings" + data).hexdigest() and rec["status1"] == "checked"
    with pytest.raises(CommandSyntaxError, match=f"no file {files}/demo.other.json") as err:
        node.execute(f"time file add {files}/demo.other.json")
    assert "time file new" in (err.value.hint or "")


def test_a_file_recorded_first_is_ingested_under_its_record(node: Node, files: Path) -> None:
    """A publisher's note made with time file new does not stop the file's rows from arriving."""
    data = b'[{"v": 1}, {"v": 2}]'
    digest = hashlib.md5(b"demo.r" + data).hexdigest()
    node.execute(f'time file new demo.r.0.{digest}.0.json "announced"')
    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator where rescan = 0.3 seconds")
    try:
        drop(watch(node), f"demo.r.0.{digest}.0.json", data)
        wait_for_rows(node, "demo", "r", 2)
        wait_until(lambda: records(node)[0]["rows"] == 2, INGEST_WAIT)
    finally:
        node.services.stop("Operator")
    (rec,) = records(node)
    assert (rec["file_id"], rec["status1"]) == (1, "announced")


def test_time_file_rename_puts_the_hash_and_the_given_sections_in_the_name(node: Node, files: Path) -> None:
    data = b'{"v": 1}\n'
    (files / "demo.readings.json").write_bytes(data)
    got = node.execute(f"time file rename {files}/demo.readings.json").to_text()
    digest = hashlib.md5(b"demo.readings" + data).hexdigest()
    assert got == f"{files}/demo.readings.0.{digest}.0.json" and Path(got).read_bytes() == data
    moved = node.execute(f"time file rename {got} to table = Heat_Sensor and source = dev7").to_text()
    digest = hashlib.md5(b"demo.heat_sensor" + data).hexdigest()  # the hash follows the new dbms.table
    assert moved == f"{files}/demo.heat_sensor.dev7.{digest}.0.json"
    assert sorted(p.name for p in files.iterdir()) == [Path(moved).name]
    (files / "x.json.gz").write_bytes(gzip.compress(data))
    node.execute(f"new_name = time file rename {files}/x.json.gz where dbms = d1 and table = t1 and hash = abc")
    assert node.get_var("new_name") == f"{files}/d1.t1.0.abc.0.json.gz"


def test_time_file_rename_says_what_is_missing_or_wrong(node: Node, files: Path) -> None:
    (files / "x.json").write_bytes(b"{}")
    with pytest.raises(CommandSyntaxError, match="x.json does not say its database and table") as err:
        node.execute(f"time file rename {files}/x.json")
    assert "to dbms = <dbms> and table = <table>" in (err.value.hint or "")
    with pytest.raises(CommandSyntaxError, match="table '1t' is not a name"):
        node.execute(f"time file rename {files}/x.json to dbms = d and table = 1t")
    with pytest.raises(CommandSyntaxError, match="no file"):
        node.execute(f"time file rename {files}/missing.json to dbms = d and table = t")
    with pytest.raises(CommandSyntaxError, match="unknown option 'tabel'") as err:
        node.execute(f"time file rename {files}/x.json to dbms = d and tabel = t")
    assert "did you mean 'table'" in (err.value.hint or "")
    (files / "notes.txt").write_text("hi")
    with pytest.raises(CommandSyntaxError, match="notes.txt is not a .json or .json.gz file"):
        node.execute(f"time file rename {files}/notes.txt to dbms = d and table = t")
    assert sorted(p.name for p in files.iterdir()) == ["notes.txt", "x.json"]  # nothing renamed


def test_help_shows_anylogs_to_clause(node: Node) -> None:
    text = node.execute("help time file rename").to_text()
    assert "time file rename <file> to [dbms = <text>] and [table = <text>]" in text
