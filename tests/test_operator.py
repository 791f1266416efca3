"""run operator: files dropped into the watch directory become rows, bad files are explained, nothing twice."""

from __future__ import annotations

import gzip
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from anynode.node import Node
from tests.data.bad_files import CASES
from tests.data_helpers import kind, pg_settings  # noqa: F401  (fixture)
from tests.helpers import INGEST_WAIT, count_rows, drop, errors, wait_for_rows, wait_until, watch


@pytest.fixture
def op(node: Node, kind: str) -> Iterator[tuple[Node, str]]:  # noqa: F811
    """A node with a database of each kind and a running operator; yields (node, dbms)."""
    if kind == "sqlite":
        name = "demo"
        node.execute("connect dbms demo where type = sqlite")
    else:
        pg = pg_settings()
        name = f"t_{uuid.uuid4().hex[:10]}"
        node.execute(f"connect dbms {name} where type = psql and user = {pg['user']} and password = "
                     f"{pg['password']} and ip = {pg['host']} and port = {pg['port']}")
    backend = node.catalog.get(name).backend
    node.execute("run operator where rescan = 0.3 seconds")
    try:
        yield node, name
    finally:
        node.services.stop("Operator")
        node.catalog.disconnect(name)
        if kind == "psql":
            backend.drop_database()


@pytest.fixture(params=["inotify", "observer"])
def watch_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each way the operator learns of complete files: kernel events, or watchdog's portable observer."""
    if request.param == "observer":
        from anynode.operator import watch as operator_watch

        def unavailable(*args: object) -> None:
            raise ImportError("inotify disabled by the test")

        monkeypatch.setattr(operator_watch, "InotifyWatch", unavailable)
    return str(request.param)


@pytest.mark.parametrize("shape", ["array", "object", "lines", "gz"])
def test_operator_ingests_each_shape(op: tuple[Node, str], shape: str) -> None:
    node, db = op
    rows = [{"sensor": "s1", "value": 1.5}, {"sensor": "s2", "value": 2.5}]
    if shape == "object":
        rows = rows[:1]
        data = json.dumps(rows[0], indent=2).encode()
    elif shape == "lines":
        data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    else:
        data = json.dumps(rows).encode()
    name = f"{db}.readings.json" + (".gz" if shape == "gz" else "")
    drop(watch(node), name, gzip.compress(data) if shape == "gz" else data)
    wait_for_rows(node, db, "readings", len(rows))
    got = node.execute(f'sql {db} format = json "select sensor, value from readings order by sensor"').to_json()
    assert got["Query"] == [{"sensor": r["sensor"], "value": r["value"]} for r in rows]
    wait_until(lambda: not any(p.is_file() for p in watch(node).rglob("*")), INGEST_WAIT)  # archived, .work/ empty too
    archived = list(Path(node.get_var("archive_dir") or "").rglob("*.json.gz"))
    assert len(archived) == 1 and re.match(rf"{db}\.readings\.0\.[0-9a-f]{{32}}\.0\.0\.1\.\d{{12}}\.json\.gz$",
                                           archived[0].name)
    assert node.execute("get operator where format = json").to_json()["rows"] == len(rows)


def test_operator_evolves_the_schema(op: tuple[Node, str]) -> None:
    node, db = op
    drop(watch(node), f"{db}.t.1.json", json.dumps([{"a": 1, "b": 2}]).encode())
    wait_for_rows(node, db, "t", 1)
    drop(watch(node), f"{db}.t.2.json", json.dumps([{"a": 2.5, "b": 3, "c": "new"}]).encode())
    wait_for_rows(node, db, "t", 2)
    got = node.execute(f'sql {db} format = json "select a, b, c from t order by a"').to_json()["Query"]
    assert got == [{"a": 1.0, "b": 2, "c": None}, {"a": 2.5, "b": 3, "c": "new"}]


BAD = [c for c in CASES if c[1].endswith((".json", ".json.gz")) and c[0] != "huge-line"]


def test_operator_moves_every_bad_file_aside_with_its_reason_and_goes_on(op: tuple[Node, str]) -> None:
    node, db = op
    expected: dict[str, int] = {}
    for i, (_case, name, content, code, _) in enumerate(BAD):
        name = name.format(d=db)
        if name in (f"{db}.sensor.json", f"{db}.sensor.json.gz"):
            name = name.replace(".sensor.", f".sensor.c{i}.")
        drop(watch(node), name, content)
        expected[name.removesuffix(".gz").removesuffix(".json")] = code
    (watch(node) / f"{db}.dir.json").mkdir()
    expected[f"{db}.dir"] = 67
    wait_until(lambda: len([e for e in errors(node) if not e.endswith(".err.txt")]) == len(expected), 30)
    for stem, code in expected.items():
        moved = [e for e in errors(node) if e.startswith(stem + ".err_") and not e.endswith(".err.txt")]
        assert len(moved) == 1, (stem, errors(node))
        assert f".err_{code}." in moved[0], (stem, moved[0])
        reason = (Path(node.get_var("err_dir") or "") / (moved[0] + ".err.txt")).read_text()
        assert f"code: {code}" in reason and "error: " in reason
    assert len(expected) >= 25
    assert node.services.status("Operator").state == "Running"
    drop(watch(node), f"{db}.good.json", b'[{"v": 1}]')
    wait_for_rows(node, db, "good", 1)
    info = node.execute("get operator where format = json").to_json()
    assert info["errors"] == len(expected) and info["last_error"]


def test_operator_refuses_a_duplicate_file_and_says_so(op: tuple[Node, str]) -> None:
    node, db = op
    data = json.dumps([{"v": 1}, {"v": 2}]).encode()
    drop(watch(node), f"{db}.dup.json", data)
    wait_for_rows(node, db, "dup", 2)
    drop(watch(node), f"{db}.dup.json", data)
    wait_until(lambda: any(".err_86." in e for e in errors(node)), INGEST_WAIT)
    assert count_rows(node, db, "dup") == 2
    reason = next(e for e in errors(node) if e.endswith(".err.txt"))
    assert "Duplicate JSON File" in (Path(node.get_var("err_dir") or "") / reason).read_text()


def test_a_file_whose_rows_streaming_inserted_is_archived_not_ingested_again(op: tuple[Node, str]) -> None:
    """Member '@' in the name: a streaming write-immediate inserted the rows; the file is only put away."""
    node, db = op
    drop(watch(node), f"{db}.readings.json", json.dumps([{"v": 1}, {"v": 2}]).encode())
    wait_for_rows(node, db, "readings", 2)
    archive = Path(node.get_var("archive_dir") or "")
    wait_until(lambda: len(list(archive.rglob("*.json.gz"))) == 1, INGEST_WAIT)
    streamed = f"{db}.readings.0.{'a' * 32}.0.@.5.260101120000.json"
    drop(watch(node), streamed, json.dumps([{"v": 3}, {"v": 4}, {"v": 5}]).encode())
    archived = streamed.replace(".@.", ".0.") + ".gz"  # our member id (0) in place of '@'
    wait_until(lambda: any(archive.rglob(archived)), INGEST_WAIT)
    kept = next(archive.rglob(archived))
    assert json.loads(gzip.decompress(kept.read_bytes())) == [{"v": 3}, {"v": 4}, {"v": 5}]
    assert count_rows(node, db, "readings") == 2  # not inserted twice
    assert [p.name for p in watch(node).iterdir() if p.is_file()] == [] and errors(node) == []
    assert node.execute("get operator where format = json").to_json()["rows"] == 2


def test_operator_never_reads_a_file_half_written(watch_kind: str, op: tuple[Node, str]) -> None:
    node, db = op
    path = watch(node) / f"{db}.slow.json"
    rows = [{"i": i, "text": "x" * 50} for i in range(2000)]
    data = json.dumps(rows).encode()
    with open(path, "wb") as fh:  # written in place, in pieces, with pauses longer than a rescan
        for start in range(0, len(data), len(data) // 4):
            fh.write(data[start:start + len(data) // 4])
            fh.flush()
            time.sleep(0.4)
    wait_for_rows(node, db, "slow", 2000)
    time.sleep(0.5)
    assert count_rows(node, db, "slow") == 2000
    assert errors(node) == []


def test_files_moved_in_from_another_directory_are_taken_by_their_event(watch_kind: str, node: Node,
                                                                        tmp_path: Path) -> None:
    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator where rescan = 1 hour")  # no rescan will help: only the file events can
    try:
        outside = tmp_path / "outside"
        outside.mkdir()
        src = outside / "demo.moved.json"
        src.write_text('[{"v": 1}, {"v": 2}]')
        os.rename(src, watch(node) / src.name)
        with open(watch(node) / "demo.written.json", "w") as fh:  # and one written in place
            fh.write('{"v": 3}')
        wait_until(lambda: count_rows(node, "demo", "moved") == 2 and count_rows(node, "demo", "written") == 1,
                   INGEST_WAIT)
    finally:
        node.services.stop("Operator")


def test_time_file_delete_lets_the_same_file_be_ingested_again(op: tuple[Node, str]) -> None:
    node, db = op
    data = json.dumps([{"v": 1}]).encode()
    drop(watch(node), f"{db}.again.json", data)
    wait_for_rows(node, db, "again", 1)
    details = node.execute("get tsd details where format = json").to_json()
    file_id = next(r["file_id"] for r in details if r["table_name"] == "again")
    assert "forgotten" in node.execute(f"time file delete {file_id} from tsd_info").to_text()
    node.execute(f'sql {db} "delete from again"')
    drop(watch(node), f"{db}.again.json", data)
    wait_for_rows(node, db, "again", 1)
    assert not any(".err_86." in e for e in errors(node))
    node.execute(f'time file update {details[0]["file_hash"]} checked ok')
    with pytest.raises(Exception, match="no file with id 9999"):
        node.execute("time file delete 9999")
