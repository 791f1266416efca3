"""PUT of JSON rows (put_rows, over HTTP and called directly): a file in the watch dir or streaming rows,
AnyLog's reply, clear 400s."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest

from anynode.errors import IngestError
from anynode.rest.ingest import BadPut, MissingConfiguration, put_rows
from tests.helpers import count_rows, wait_for_rows
from tests.rest_helpers import start

ROWS = [{"timestamp": "2026-01-01 00:00:00", "value": 1.5}, {"timestamp": "2026-01-01 00:00:01", "value": 2}]
PUT = {"type": "json", "dbms": "Test", "table": "Readings", "mode": "file", "Content-Type": "text/plain"}


@pytest.fixture
def url(node):  # type: ignore[no-untyped-def]
    node.execute("create work directories")
    return start(node)


def _watch(node) -> Path:  # type: ignore[no-untyped-def]
    return Path(node.get_var("watch_dir"))


def test_put_rows_land_in_the_watch_dir(url: str, node) -> None:  # type: ignore[no-untyped-def]
    r = httpx.put(url, headers=PUT, content=json.dumps(ROWS), timeout=5)
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["AnyLog.status"] == "Success" and set(reply) == {"AnyLog.status", "AnyLog.hash"}
    files = list(_watch(node).iterdir())
    assert [f.name for f in files] == [f"test.readings.0.{reply['AnyLog.hash']}.0.json"]
    data = files[0].read_bytes()
    assert [json.loads(line) for line in data.decode().splitlines()] == ROWS
    assert hashlib.md5(b"test.readings" + data).hexdigest() == reply["AnyLog.hash"]
    assert not [p for p in Path(node.get_var("prep_dir")).iterdir()], "no temp file is left behind"


@pytest.mark.parametrize("body", [
    json.dumps(ROWS[0]),
    "\n".join(json.dumps(r) for r in ROWS) + "\n",
    json.dumps(ROWS, indent=2),
])
def test_object_array_and_json_lines(url: str, node, body: str) -> None:  # type: ignore[no-untyped-def]
    r = httpx.put(url, headers={**PUT, "source": "dev7"}, content=body, timeout=5)
    assert r.status_code == 200
    (file,) = _watch(node).iterdir()
    assert file.name.startswith("test.readings.dev7.")
    rows = [json.loads(line) for line in file.read_text().splitlines()]
    assert rows == json.loads(body) if body.startswith("[") else rows == [json.loads(x) for x in body.split("\n") if x]


@pytest.mark.parametrize("missing", [["dbms"], ["table"], ["dbms", "table"]])
def test_missing_dbms_or_table_answers_at_once(url: str, missing: list[str]) -> None:
    """EdgeLake never answers a PUT without dbms (its bug #7); we answer 400 at once."""
    headers = {k: v for k, v in PUT.items() if k not in missing}
    r = httpx.put(url, headers=headers, content=json.dumps(ROWS), timeout=2)
    assert r.status_code == 400
    assert all(repr(m) in r.json()["error"] for m in missing)


def test_malformed_json_names_the_position(url: str, node) -> None:  # type: ignore[no-untyped-def]
    r = httpx.put(url, headers=PUT, content=b'{"a": 1}\n{"b": }\n', timeout=5)
    assert r.status_code == 400
    assert "line 2 column 7" in r.json()["error"]
    assert not list(_watch(node).iterdir())


@pytest.mark.parametrize("body,words", [(b"", "no rows"), (b"[1, 2]", "not a JSON object"), (b"\xff\xfe", "UTF-8")])
def test_bodies_that_are_not_rows(url: str, body: bytes, words: str) -> None:
    r = httpx.put(url, headers=PUT, content=body, timeout=5)
    assert r.status_code == 400 and words in r.json()["error"]


def test_bad_names_and_modes(url: str) -> None:
    assert httpx.put(url, headers={**PUT, "dbms": "a.b"}, content=b"{}", timeout=5).status_code == 400
    assert httpx.put(url, headers={**PUT, "table": "../x"}, content=b"{}", timeout=5).status_code == 400
    assert httpx.put(url, headers={**PUT, "mode": "fast"}, content=b"{}", timeout=5).status_code == 400
    assert httpx.put(url, headers={**PUT, "type": "csv"}, content=b"{}", timeout=5).status_code == 400
    assert httpx.put(url, headers={**PUT, "source": "a/b"}, content=b"{}", timeout=5).status_code == 400


def test_streaming_mode_buffers_rows_and_replies_hash_zero(url: str, node) -> None:  # type: ignore[no-untyped-def]
    node.execute("connect dbms test where type = sqlite")
    r = httpx.put(url, headers={**PUT, "mode": "streaming"}, content=json.dumps(ROWS), timeout=5)
    assert r.json() == {"AnyLog.status": "Success", "AnyLog.hash": "0"}
    assert list(_watch(node).iterdir()) == []  # no file: the rows wait in memory for the streamer
    assert node.execute("get streaming").rows[0][:3] == ("test.readings", 1, len(ROWS))


def test_streaming_to_a_database_not_connected_is_refused_at_once(url: str) -> None:
    r = httpx.put(url, headers={**PUT, "mode": "streaming"}, content=json.dumps(ROWS), timeout=5)
    assert r.status_code == 422 and "not connected" in r.json()["error"]


def test_post_with_dbms_and_table_delivers_rows(url: str, node) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(url, headers=PUT, content=json.dumps(ROWS), timeout=5)
    assert r.status_code == 200 and r.json()["AnyLog.status"] == "Success"
    assert len(list(_watch(node).iterdir())) == 1


def test_missing_watch_dir_is_a_clear_500(node) -> None:  # type: ignore[no-untyped-def]
    url = start(node)
    r = httpx.put(url, headers=PUT, content=json.dumps(ROWS), timeout=5)
    assert r.status_code == 500
    assert "watch directory" in r.json()["error"] and "create work directories" in r.json()["hint"]


def test_file_mode_does_not_need_the_database_here(url: str, node) -> None:  # type: ignore[no-untyped-def]
    """As in AnyLog, a node may collect files for an operator; only streaming writes here and needs the dbms."""
    r = httpx.put(url, headers={**PUT, "dbms": "elsewhere"}, content=json.dumps(ROWS), timeout=5)
    assert r.status_code == 200 and len(list(_watch(node).iterdir())) == 1


# -- put_rows called directly (benchmarks, tests) --------------------------------
def test_put_rows_file_mode_publishes_a_normalized_file_the_operator_takes(node) -> None:  # type: ignore[no-untyped-def]
    node.execute("create work directories")
    node.execute("connect dbms demo where type = sqlite")
    body = b'[{"sensor": "a", "v": 1}, {"sensor": "b", "v": 2}]'
    reply = put_rows(node, "Demo", "Readings", None, body)  # no mode: file
    assert reply["AnyLog.status"] == "Success"
    files = [p.name for p in _watch(node).iterdir() if p.is_file()]
    assert files == [f"demo.readings.0.{reply['AnyLog.hash']}.0.json"]
    data = (_watch(node) / files[0]).read_bytes()
    assert data == b'{"sensor":"a","v":1}\n{"sensor":"b","v":2}\n'  # one compact object per line
    assert reply["AnyLog.hash"] == hashlib.md5(b"demo.readings" + data).hexdigest()
    node.execute("run operator where rescan = 0.3 seconds")
    try:
        wait_for_rows(node, "demo", "readings", 2)
    finally:
        node.services.stop("Operator")


def test_put_rows_streaming_mode_buffers_then_flushes_by_time(node) -> None:  # type: ignore[no-untyped-def]
    node.execute("connect dbms demo where type = sqlite")
    node.execute("set buffer threshold where dbms = demo and table = s and time = 0.3 seconds and volume = 1MB")
    reply = put_rows(node, "demo", "s", "streaming", b'{"i": 1}\n{"i": 2}\n{"i": 3}')
    assert reply == {"AnyLog.status": "Success", "AnyLog.hash": "0"}
    assert count_rows(node, "demo", "s", missing=0) == 0  # buffered
    info = node.execute("get streaming where format = json").to_json()
    assert info[0]["Table"] == "demo.s" and info[0]["Buffered rows"] == 3
    wait_for_rows(node, "demo", "s", 3)
    assert list(_watch(node).glob("*.json")) == []  # no round trip through files


def test_put_rows_refuses_bad_bodies_and_names_before_writing_anything(node) -> None:  # type: ignore[no-untyped-def]
    node.execute("create work directories")
    node.execute("connect dbms demo where type = sqlite")
    for body, text in [(b"", "no rows"), (b'{"a": 1', "line 1"), (b"[1, 2]", "not a JSON object"),
                       (b"\xff\xfe{}", "not UTF-8"), (b'{"a": 1}\n{"b": ', "line 2"), (b"  7 ", "The body holds")]:
        for mode in ("file", "streaming"):
            with pytest.raises(BadPut, match=text) as err:
                put_rows(node, "demo", "t", mode, body)
            assert err.value.anylog_code == 67 and err.value.http_status == 400
    for dbms, table, mode, words in [("demo", "a.b", "file", "table name 'a.b'"), ("demo", "", "file", "'table'"),
                                     (None, "t", "file", "'dbms'"), ("demo", "1t", "file", "table name '1t'"),
                                     ("demo", "t", "bulk", "mode 'bulk'")]:
        with pytest.raises(BadPut, match=words) as err:
            put_rows(node, dbms, table, mode, b'{"a": 1}')
        assert err.value.anylog_code == 119
    assert [p for p in _watch(node).iterdir() if p.is_file()] == []
    with pytest.raises(IngestError, match="not connected") as err:
        put_rows(node, "nodb", "t", "streaming", b'{"a": 1}')
    assert err.value.anylog_code == 10 and err.value.http_status == 422
    assert "connect dbms nodb" in (err.value.hint or "")
    node.set_var("watch_dir", str(_watch(node) / "missing"))
    with pytest.raises(MissingConfiguration, match="watch directory") as miss:
        put_rows(node, "demo", "t", "file", b'{"a": 1}')
    assert miss.value.http_status == 500


def test_the_body_follows_the_rules_of_a_file_in_the_watch_dir(node) -> None:  # type: ignore[no-untyped-def]
    node.execute("create work directories")
    reply = put_rows(node, "demo", "t", "file", b'\xef\xbb\xbf{"a": 1}{"a": 2}\n{"a": "\xc3\xa9"}')  # BOM, UTF-8
    (file,) = _watch(node).iterdir()
    assert file.read_bytes() == '{"a":1}\n{"a":2}\n{"a":"\u00e9"}\n'.encode()
    assert reply["AnyLog.hash"] in file.name
