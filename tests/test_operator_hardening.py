"""The watch directory cannot be wedged or abused, and the file reader takes what it should (issue 16: 5, 6, 8, 9).

* a named pipe, a symbolic link (dangling, to a JSON file elsewhere, to a
  secret) or a directory named like a data file goes to the error directory
  unopened, with its reason, and good files go on;
* a name too long for the error or archive directory still ends in the error
  directory, with its full name in the reason file;
* a stop in the middle of a big file is prompt, inserts nothing, and the file
  is ingested exactly once at the next start;
* megabytes of leading whitespace do not make a valid file "empty".
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from anynode.errors import IngestError
from anynode.ingest.pipeline import ingest_file
from anynode.ingest.reader import read_batches
from anynode.node import Node
from anynode.store.catalog import DatabaseCatalog
from tests.helpers import count_rows, sqlite_rows, start_node_process, wait_until

SECRET = "s3cr3t-first-line:x:0:0:do-not-show"


def _unwedge(*dirs: Path) -> None:
    """Give a reader blocked on a pipe its end of file (so a wedged operator can stop after a failed test)."""
    for d in dirs:
        for p in d.rglob("*"):
            if p.is_fifo():
                try:
                    os.close(os.open(p, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:
                    pass  # nobody is reading it


@pytest.fixture
def op(node: Node) -> Iterator[tuple[Node, Path, Path]]:
    """A node with database demo and a running operator; yields (node, watch dir, error dir)."""
    node.execute("connect dbms demo where type = sqlite")
    node.execute("run operator where rescan = 0.2 seconds")
    watch, errors = Path(node.get_var("watch_dir") or ""), Path(node.get_var("err_dir") or "")
    try:
        yield node, watch, errors
    finally:
        _unwedge(watch, errors)
        node.services.stop("Operator")


def refused(errors: Path) -> dict[str, str]:
    """Entries of the error directory (not reason files, nor a reason being written: .reason-*.tmp) -> reason text."""
    out = {}
    for p in errors.iterdir():
        if not p.name.endswith(".err.txt") and not p.name.startswith("."):
            reason = Path(str(p) + ".err.txt")
            out[p.name] = reason.read_text() if reason.exists() else ""
    return out


def watch_is_empty(watch: Path) -> bool:
    return [p.name for p in watch.iterdir() if p.name != ".work"] == [] and not any((watch / ".work").iterdir())


# --- item 5: a named pipe ---------------------------------------------------------------------------------
def test_a_named_pipe_is_refused_unopened_and_the_files_behind_it_are_ingested(op: tuple[Node, Path, Path],
                                                                               tmp_path: Path) -> None:
    node, watch, errors = op
    os.mkfifo(watch / "demo.pipe_here.json")  # made in place: found by a rescan
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.mkfifo(elsewhere / "demo.pipe_moved.json")
    os.rename(elsewhere / "demo.pipe_moved.json", watch / "demo.pipe_moved.json")  # moved in: found by its event
    for i in range(3):
        (elsewhere / f"demo.good.{i}.json").write_text(json.dumps([{"i": i}]))
        os.rename(elsewhere / f"demo.good.{i}.json", watch / f"demo.good.{i}.json")
    wait_until(lambda: count_rows(node, "demo", "good") == 3, what="the good files behind the pipes")
    wait_until(lambda: len(refused(errors)) == 2, what="both pipes in the error directory")
    for name, reason in refused(errors).items():
        assert stat.S_ISFIFO(os.lstat(errors / name).st_mode)  # moved as it is, never opened
        assert "code: 67" in reason and "named pipe (FIFO), not a regular file" in reason
    wait_until(lambda: watch_is_empty(watch), what="the good files archived (beside the ingest)")
    info = node.execute("get operator where format = json").to_json()
    assert info["status"] == "Running" and info["errors"] == 2 and info["files"] == 3


def test_with_the_error_directory_on_another_file_system_a_pipe_is_left_and_reported_once(
        node: Node, tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on a file system of its own")
    errors = Path(tempfile.mkdtemp(prefix="anynode-test-errors-", dir=shm))
    try:
        node.execute("connect dbms demo where type = sqlite")
        node.execute(f"run operator where rescan = 0.1 seconds and error_dir = {errors}")
        watch = Path(node.get_var("watch_dir") or "")
        try:
            os.mkfifo(watch / "demo.pipe.json")
            (tmp_path / "rows.json").write_text('[{"v": 1}]')
            os.symlink(tmp_path / "rows.json", watch / "demo.link.json")
            (watch / "demo.good.json").write_text('[{"v": 2}]')
            wait_until(lambda: count_rows(node, "demo", "good") == 1 and len(refused(errors)) == 1,
                       what="the good file")
            time.sleep(0.5)  # five rescans: the pipe is not reported again
            (link, reason), = refused(errors).items()
            assert os.path.islink(errors / link) and "symbolic link" in reason  # re-created as a link
            assert stat.S_ISFIFO(os.lstat(watch / "demo.pipe.json").st_mode)  # left where it was
            info = node.execute("get operator where format = json").to_json()
            assert info["errors"] == 2 and info["status"] == "Running" and count_rows(node, "demo", "link") == -1
            logged = "\n".join(p.read_text() for p in node.home.rglob("*.log"))
            assert logged.count("cannot move") == 1 and "demo.pipe.json" in logged
        finally:
            _unwedge(watch)
            node.services.stop("Operator")
    finally:
        shutil.rmtree(errors, ignore_errors=True)


def test_the_reader_refuses_a_pipe_and_a_link_at_once(tmp_path: Path) -> None:
    """Whoever calls the reader (the operator after its claim, time file add ...) cannot be wedged or misled."""
    fifo, link, target = tmp_path / "demo.p.json", tmp_path / "demo.l.json", tmp_path / "rows.json"
    os.mkfifo(fifo)
    target.write_text('[{"a": 1}]')
    os.symlink(target, link)
    rescue = threading.Timer(3.0, _unwedge, [tmp_path])  # only a reader that blocks on the pipe needs it
    rescue.start()
    try:
        started = time.monotonic()
        with pytest.raises(IngestError, match=r"named pipe \(FIFO\), not a regular file"):
            list(read_batches(fifo))
        assert time.monotonic() - started < 1.0
        with pytest.raises(IngestError, match="symbolic link, not a regular file"):
            list(read_batches(link))
    finally:
        rescue.cancel()
        rescue.join()


# --- item 8: symbolic links and long names --------------------------------------------------------------------
def test_symbolic_links_are_never_followed_and_what_they_point_to_never_shows(op: tuple[Node, Path, Path],
                                                                              tmp_path: Path) -> None:
    node, watch, errors = op
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "rows.json").write_text('[{"stolen": 1}, {"stolen": 2}]')
    (outside / "secret.txt").write_text(SECRET + "\nsecond line\n")
    (outside / "a_dir").mkdir()
    links = {"demo.dangling.json": outside / "missing.json", "demo.outside.json": outside / "rows.json",
             "demo.passwd.json": outside / "secret.txt", "demo.to_dir.json": outside / "a_dir"}
    for name, target in links.items():
        os.symlink(target, watch / name)  # made in place: found by a rescan
    os.symlink(outside / "secret.txt", outside / "demo.moved_secret.json")
    os.rename(outside / "demo.moved_secret.json", watch / "demo.moved_secret.json")  # moved in: its event
    wait_until(lambda: len(refused(errors)) == 5, what="every link in the error directory")
    time.sleep(0.5)  # a rescan or two more: nothing may be taken twice or followed late
    for name, reason in refused(errors).items():
        assert os.path.islink(errors / name), name  # the link itself was moved
        assert "code: 67" in reason and "is a symbolic link, not a regular file" in reason, reason
    assert watch_is_empty(watch)
    assert count_rows(node, "demo", "outside") == -1  # the JSON it pointed to was not ingested: no table
    assert (outside / "rows.json").read_text() == '[{"stolen": 1}, {"stolen": 2}]'  # targets untouched
    assert (outside / "secret.txt").read_text().startswith(SECRET)
    replies = [node.execute(c).to_text() for c in ("get operator", "get operator where format = json",
                                                   "get operator summary", "get processes")]
    assert not any("s3cr3t" in r or "do-not-show" in r for r in replies)
    written = [p for p in node.home.rglob("*") if p.is_file() and not p.is_symlink()]
    assert written and not any(b"s3cr3t" in p.read_bytes() for p in written), "a file the node wrote holds it"
    info = node.execute("get operator where format = json").to_json()
    assert info["status"] == "Running" and info["errors"] == 5 and info["rows"] == 0


def test_names_too_long_for_the_error_or_archive_name_end_in_the_error_directory(
        op: tuple[Node, Path, Path]) -> None:
    node, watch, errors = op
    bad_sections = "a" * 235 + ".json"  # 240 characters, no dbms.table: 119
    long_source = "demo.longname." + "s" * 221 + ".json"  # a valid name whose archived form would not fit
    assert len(bad_sections) == len(long_source) == 240
    for name in (bad_sections, long_source):
        (watch / name).write_text('[{"v": 1}]')
    wait_until(lambda: len(refused(errors)) == 2 and watch_is_empty(watch), what="both files refused")
    reasons = sorted(refused(errors).items())
    for (name, reason), original in zip(reasons, sorted([bad_sections, long_source]), strict=True):
        assert len(os.fsencode(name + ".err.txt")) <= 255 and ".err_119." in name and name.endswith(".json")
        assert f"file: {original}\n" in reason and "code: 119" in reason
    assert "archived, it would be" in reasons[1][1] or "archived, it would be" in reasons[0][1]
    assert count_rows(node, "demo", "longname") == -1  # refused before any row was written
    info = node.execute("get operator where format = json").to_json()
    assert info["errors"] == 2 and info["last_error_code"] == 119


# --- item 9: leading whitespace --------------------------------------------------------------------------------
def _ingest(tmp_path: Path, name: str, data: bytes) -> list[tuple[object, ...]]:
    path = tmp_path / name
    path.write_bytes(data)
    with DatabaseCatalog(tmp_path / "dbms") as cat:
        cat.connect("demo")
        report = ingest_file(path, cat)
        with cat.get("demo").backend.reader() as conn:
            rows = conn.execute(f"select a from {report.table} order by a").fetchall()
    return [tuple(r) for r in rows]


@pytest.mark.parametrize("case", ["spaces then array", "blank lines then lines", "gzip of spaces then object"])
def test_a_valid_file_after_megabytes_of_whitespace_is_ingested(tmp_path: Path, case: str) -> None:
    mb = 2**20
    if case == "spaces then array":
        data, rows = b" " * (20 * mb) + b'[{"a": 1}, {"a": 2}]', [(1,), (2,)]
    elif case == "blank lines then lines":
        data, rows = b"\n" * (20 * mb) + b'{"a": 1}\n{"a": 2}\n\n{"a": 3}\n', [(1,), (2,), (3,)]
    else:  # more than the whole-file and chunk sizes once decompressed
        data, rows = gzip.compress(b" \t\r\n" * (2 * mb) + b'{"a": 7}', compresslevel=1), [(7,)]
    name = "demo.ws.json.gz" if data[:2] == b"\x1f\x8b" else "demo.ws.json"
    assert _ingest(tmp_path, name, data) == rows


def test_leading_whitespace_is_read_in_bounded_memory_and_line_numbers_still_count_it(tmp_path: Path) -> None:
    big = tmp_path / "blank.json"
    big.write_bytes(b" " * (20 * 2**20) + b'[{"a": 1}]')
    tracemalloc.start()
    try:
        rows = [r for batch in read_batches(big) for r in batch]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rows == [{"a": 1}]
    assert peak < 6 * 2**20, f"peak {peak / 2**20:.1f} MB while reading past 20 MB of blanks"
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\n" * 3_000_000 + b'{"a": 1}\n{"a": }\n')
    with pytest.raises(IngestError, match="line 3000002 "):
        list(read_batches(bad))
    streamed = tmp_path / "streamed.json"  # past the whole-file size: the streaming parser counts them too
    streamed.write_bytes(b"\n" * 1_000_000 + b"[" + b'{"a": 1, "pad": "xxxxxxxxxxxxxxxxxxxx"},\n' * 120_000
                         + b'{"a": x}]')
    with pytest.raises(IngestError, match=r"Invalid JSON at line 1120001 column 7\b"):
        list(read_batches(streamed))
    only_blanks = tmp_path / "blanks.json"
    only_blanks.write_bytes(b" \n" * (3 * 2**20))
    with pytest.raises(IngestError, match="The file is empty"):
        list(read_batches(only_blanks))


# --- item 6: a stop in the middle of a big file -----------------------------------------------------------------
BIG_ROWS = 600_000


def test_sigterm_in_the_middle_of_a_big_file_stops_at_once_and_the_file_is_ingested_once_later(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    watch = home / "data" / "watch"
    watch.mkdir(parents=True)
    staging = tmp_path / "big.json"
    with open(staging, "w") as f:
        for i in range(BIG_ROWS):
            f.write(f'{{"i": {i}, "v": {i}.5, "s": "dev-{i % 50}"}}\n')
    script = tmp_path / "op.al"
    script.write_text("connect dbms demo where type = sqlite\nrun operator where rescan = 0.3 seconds\n")
    db, wal = home / "data" / "dbms" / "demo.dbms", home / "data" / "dbms" / "demo.dbms-wal"
    work = watch / ".work" / "demo.big.json"

    first = start_node_process(home, script, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: (watch / ".work").is_dir() or first.poll() is not None, 30, "the operator to start")
        os.rename(staging, watch / "demo.big.json")
        wait_until(lambda: work.exists() and wal.exists() and wal.stat().st_size > 4 * 2**20,
                   20, "rows of the big file being written")
        stopped = time.monotonic()
        first.send_signal(signal.SIGTERM)
        code = first.wait(15)
        took = time.monotonic() - stopped
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert code == 0, first.stderr.read() if first.stderr else code
    assert took < 4.0, f"SIGTERM took {took:.2f}s (the deadline is 10s)"
    assert work.exists(), "the file was not interrupted: it finished or moved"
    assert sqlite_rows(db, "big") == 0  # its transaction rolled back
    assert not any((home / "data" / "error").iterdir())

    second = start_node_process(home, script, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: not work.exists() and sqlite_rows(db, "big") == BIG_ROWS, 60, "the replay")
        time.sleep(0.5)
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            assert conn.execute("select count(*), count(distinct i) from big").fetchone() == (BIG_ROWS, BIG_ROWS)
        assert len(list((home / "data" / "archive").rglob("demo.big.*.json.gz"))) == 1
        assert not any((home / "data" / "error").iterdir())
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0
