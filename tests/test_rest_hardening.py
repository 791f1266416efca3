"""REST hardening (issue 16): client mistakes get 4xx, never 500; the server says where it really
listens; a PUT refuses at once what the operator would refuse later; many clients that connect at
once are all accepted at once."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings, strategies as st

from anynode import safejson
from anynode.errors import CommandSyntaxError, StoreError
from anynode.grammar.registry import Registry
from anynode.grammar.spec import CommandSpec
from anynode.results import Message
from anynode.store.pg_backend import PostgresBackend
from tests.data_helpers import connect, kind  # noqa: F401  (fixture)
from tests.rest_helpers import port_of, read_response, start


def _add_hog(node: Any) -> None:
    """``test hog``: a command declared non-blocking that holds the event loop 10 ms, as a loaded
    loop does when it serves many clients in one turn."""
    def hog(ctx: Any) -> Message:
        time.sleep(0.01)
        return Message("hog")

    specs = {spec.words: spec for spec in node.registry}
    spec = CommandSpec(words=("test", "hog"), handler=hog, remote=True)
    object.__setattr__(spec, "blocking", False)
    specs[("test", "hog")] = spec
    node.registry = Registry(specs)


def _request(command: str) -> bytes:
    return f"GET / HTTP/1.1\r\nHost: x\r\ncommand: {command}\r\n\r\n".encode()


def test_clients_that_connect_at_once_are_accepted_at_once(node) -> None:  # type: ignore[no-untyped-def]
    """libuv accepts one connection per loop turn; with a busy loop (8 clients keeping it 80 ms
    per turn) 100 newcomers would wait 100 turns (8 s). They are all accepted in one."""
    _add_hog(node)
    port = port_of(start(node))
    stop = threading.Event()

    def keep_busy() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            while not stop.is_set():
                sock.sendall(_request("test hog"))
                read_response(sock)

    hogs = [threading.Thread(target=keep_busy) for _ in range(8)]
    for t in hogs:
        t.start()
    newcomers: list[socket.socket] = []
    try:
        time.sleep(0.3)  # the loop is busy
        began = time.monotonic()
        newcomers = [socket.create_connection(("127.0.0.1", port), timeout=6) for _ in range(100)]
        for sock in newcomers:
            sock.sendall(_request("get status"))
        for sock in newcomers:
            status, _, body = read_response(sock)
            assert status == 200 and body.endswith(b" running")
        took = time.monotonic() - began
    finally:
        stop.set()
        for t in hogs:
            t.join(10)
        for sock in newcomers:
            sock.close()
    assert took < 4.0, f"100 clients took {took:.1f} s to be served"


# -- item 7: client errors are 4xx, never 500 ----------------------------------
DEEP_ARRAY = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 50000 + "1" + "}" * 50000


@pytest.fixture
def url(node):  # type: ignore[no-untyped-def]
    return start(node)


def _error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text[:300]
    return str(r.json()["error"])


@pytest.mark.parametrize("how", ["json in GET header", "json via POST /command", "POST /command body",
                                 "POST / body"])
def test_deeply_nested_json_is_a_400(url: str, how: str) -> None:
    """json.loads raised RecursionError, which the edge answered as an internal error (500)."""
    if how == "json in GET header":
        r = httpx.get(url, headers={"command": "json " + "[" * 3000 + "]" * 3000}, timeout=10)
    elif how == "json via POST /command":
        r = httpx.post(url + "/command", json={"command": "json " + DEEP_ARRAY}, timeout=10)
    elif how == "POST /command body":
        r = httpx.post(url + "/command", content=DEEP_OBJECT, timeout=10)
    else:
        r = httpx.post(url, content=DEEP_OBJECT, timeout=10)
    assert "nested deeper than 256 levels" in _error(r, 400)
    assert httpx.get(url, headers={"command": "get status"}, timeout=5).status_code == 200


def test_json_nested_to_the_bound_still_works(url: str, node) -> None:  # type: ignore[no-untyped-def]
    text = "[" * 256 + "]" * 256
    r = httpx.post(url + "/command", json={"command": f"json {text}"}, timeout=10)
    assert r.status_code == 200 and r.json() == text
    assert node.execute("json " + "[" * 257 + "]" * 257 + " test").to_text() == "false"
    with pytest.raises(CommandSyntaxError, match="nested deeper than 256"):
        node.execute("json " + DEEP_ARRAY)


@pytest.fixture
def sql_url(node, kind):  # type: ignore[no-untyped-def]  # noqa: F811
    """A REST server on a node with one database of each kind; yields (url, dbms)."""
    name = connect(node.catalog, kind)
    backend = node.catalog.get(name).backend
    try:
        yield start(node), name
    finally:
        node.catalog.disconnect(name)
        if isinstance(backend, PostgresBackend):
            backend.drop_database()


@pytest.mark.parametrize("command,words", [
    ("get columns where dbms = {d} and table = nope", "not found"),
    ('sql {d} "select * from nope"', "nope"),
    ('sql {d} "select from where"', "syntax"),
    ('sql {d} "select nocol from (select 1 as a) as t"', "nocol"),
])
def test_sql_the_database_refuses_is_a_400(sql_url: tuple[str, str], command: str, words: str) -> None:
    """docs/rest.md: SQL errors and unknown tables are 400; they were StoreErrors with 500."""
    url, name = sql_url
    error = _error(httpx.get(url, headers={"command": command.format(d=name)}, timeout=10), 400)
    assert words in error


def test_a_database_not_connected_is_a_404(url: str) -> None:
    assert "not connected" in _error(httpx.get(url, headers={"command": 'sql nodb "select 1"'}, timeout=5), 404)


def test_store_error_status_follows_its_cause() -> None:
    """A failure of the node (I/O, a lock, no cause) stays 500; a refused statement is 400."""
    import sqlite3

    def raised(cause: BaseException | None) -> StoreError:
        try:
            raise StoreError("x") from cause
        except StoreError as exc:
            return exc

    conn = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.OperationalError) as syntax:
        conn.execute("selec 1")
    assert raised(syntax.value).http_status == 400
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode = 5  # type: ignore[attr-defined]  # SQLITE_BUSY, as the driver sets it
    assert raised(locked).http_status == 500
    assert raised(None).http_status == 500
    assert raised(OSError("disk full")).http_status == 500


@settings(max_examples=150, deadline=None, database=None)
@given(st.recursive(st.none() | st.integers() | st.text(alphabet='[]{}"\\ax\u00e9'),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\a'), inner,
                                                                                max_size=3),
                    max_leaves=30), st.booleans(), st.integers(0, 8))
def test_the_depth_bound_counts_only_real_nesting(value: Any, ascii_only: bool, limit: int) -> None:
    """Brackets and escaped quotes inside strings do not count; every level outside them does."""
    def depth(v: Any) -> int:
        if isinstance(v, list):
            return 1 + max(map(depth, v), default=0)
        if isinstance(v, dict):
            return 1 + max(map(depth, v.values()), default=0)
        return 0

    text = json.dumps(value, ensure_ascii=ascii_only)
    assert safejson.deeper_than(text, limit) == (depth(value) > limit)
    assert safejson.deeper_than(text.encode(), limit) == (depth(value) > limit)
    if depth(value) <= limit:
        assert safejson.loads(text, max_depth=limit) == value
    else:
        with pytest.raises(ValueError):
            safejson.loads(text, max_depth=limit)


# -- item 10: the server says what it really binds -----------------------------
def _reaches(port: int, ip: str) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=2):
            return True
    except OSError:
        return False


def test_bind_false_says_it_listens_on_every_interface(node) -> None:  # type: ignore[no-untyped-def]
    """AnyLog's bind = false listens on 0.0.0.0; the reply said http://127.0.0.1:PORT."""
    reply = node.execute("run rest server where internal_ip = 127.0.0.1 and internal_port = 0").to_text()
    port = int(reply.split("://", 1)[1].split(",", 1)[0].rsplit(":", 1)[1])
    assert reply.startswith(f"REST server listening on http://0.0.0.0:{port}, every interface"), reply
    assert f"http://127.0.0.1:{port}" in reply and "bind = true" in reply
    assert _reaches(port, "127.0.0.2"), "the socket does listen beyond 127.0.0.1"
    details = node.services.status("REST").details
    assert details.startswith(f"Listening on: 0.0.0.0:{port},"), details
    info = node.execute("get rest server info where format = json").to_json()
    assert info["Listening on"] == f"0.0.0.0:{port} (every interface)" and info["Bind"] is False
    assert info["Internal address"] == f"127.0.0.1:{port}"


def test_bind_true_listens_on_the_internal_ip_only(node) -> None:  # type: ignore[no-untyped-def]
    url = start(node)
    port = port_of(url)
    assert url == f"http://127.0.0.1:{port}"
    assert _reaches(port, "127.0.0.1") and not _reaches(port, "127.0.0.2")
    assert node.services.status("REST").details.startswith(f"Listening on: 127.0.0.1:{port},")


# -- item 11: a PUT refuses at once what would be refused later ------------------
ROWS = b'{"timestamp": "2026-01-01 00:00:00", "value": 1}\n{"timestamp": "2026-01-01 00:00:01", "value": 2}\n'


@pytest.fixture
def put_url(node):  # type: ignore[no-untyped-def]
    node.execute("create work directories")
    node.execute("connect dbms demo where type = sqlite")
    return start(node)


def _files(node: Any, var: str) -> list[str]:  # watch_dir, err_dir, ...
    return sorted(p.name for p in Path(node.get_var(var)).iterdir() if p.is_file())


def _put(url: str, dbms: str, table: str, body: bytes = ROWS) -> httpx.Response:
    return httpx.put(url, headers={"dbms": dbms, "table": table}, content=body, timeout=10)


@pytest.mark.parametrize("dbms,table,code,words", [
    ("demo", "tsd_info", 119, "reserved for file records"),
    ("demo", "TSD_12", 119, "reserved for file records"),
    ("demo", "sqlite_master", 119, "own catalog"),
    ("demo", "pg_class", 119, "own catalog"),
    ("almgm", "readings", 10, "node's own records"),
    ("blockchain", "readings", 10, "node's own records"),
])
def test_reserved_names_are_refused_at_once(put_url: str, node, dbms: str, table: str, code: int,  # type: ignore[no-untyped-def]
                                            words: str) -> None:
    """They answered 200 and a hash, and the operator refused the file afterwards."""
    r = _put(put_url, dbms, table)
    assert r.status_code == 400 and r.json()["err_code"] == code and words in r.json()["error"], r.text
    assert _files(node, "watch_dir") == []


def test_a_database_the_running_operator_lacks_is_refused_at_once(put_url: str, node) -> None:  # type: ignore[no-untyped-def]
    assert _put(put_url, "elsewhere", "readings").status_code == 200, "no operator here: the file waits for one"
    (waiting,) = _files(node, "watch_dir")
    (Path(node.get_var("watch_dir")) / waiting).unlink()
    node.execute("run operator where rescan = 0.3 seconds")
    r = _put(put_url, "elsewhere", "readings")
    assert r.status_code == 422 and r.json()["err_code"] == 10 and "not connected" in r.json()["error"], r.text
    time.sleep(0.3)
    assert _files(node, "watch_dir") == [] and _files(node, "err_dir") == []


def test_a_duplicate_put_says_so_and_writes_nothing(put_url: str, node) -> None:  # type: ignore[no-untyped-def]
    first = _put(put_url, "demo", "readings")
    assert first.json()["AnyLog.status"] == "Success"
    again = _put(put_url, "demo", "readings")  # no operator yet: the file waits
    assert again.status_code == 200 and again.json()["AnyLog.status"] == "Duplicate", again.text
    assert "already waiting" in again.json()["AnyLog.message"]
    assert len(_files(node, "watch_dir")) == 1
    node.execute("run operator where rescan = 0.3 seconds")
    deadline = time.monotonic() + 15
    while _files(node, "watch_dir") or not node.catalog.is_connected("demo") \
            or "readings" not in node.catalog.tables("demo"):
        assert time.monotonic() < deadline, "the operator did not ingest the file"
        time.sleep(0.05)
    late = _put(put_url, "demo", "readings")
    reply = late.json()
    assert late.status_code == 200 and reply["AnyLog.status"] == "Duplicate", late.text
    assert reply["AnyLog.hash"] == first.json()["AnyLog.hash"] and reply["AnyLog.code"] == "86"
    assert "already ingested in demo (2 rows)" in reply["AnyLog.message"]
    time.sleep(0.5)
    assert _files(node, "watch_dir") == [] and _files(node, "err_dir") == []
    assert node.catalog.query("demo", "select count(*) from readings")[1] == [(2,)]


# -- found by tests/test_rest_fuzz.py ------------------------------------------
@pytest.mark.parametrize("path,body", [
    ("/", b'{"command": "get status", "x": "\\ud800"}'),
    ("/", b'{"command": "json [1]", "timeout": "\\udfff"}'),
    ("/command", b'{"command": "get status", "timeout": "\\ud800"}'),
    ("/command", b'{"command": "get status", "destination": "\xed\xa0\x80"}'),
])
def test_a_lone_surrogate_in_a_json_body_is_a_400(url: str, path: str, body: bytes) -> None:
    """json.loads accepts "\\ud800"; encoding it again raised UnicodeEncodeError: a 500."""
    assert "not" in _error(httpx.post(url + path, content=body, timeout=5), 400)


def test_command_body_inside_a_json_body_does_not_wait_for_another_body(url: str) -> None:
    """POST / with {"command": "body"} waited 10 s for a second body, then answered 408."""
    began = time.monotonic()
    assert "JSON object" in _error(httpx.post(url, json={"command": "body"}, timeout=15), 400)
    assert time.monotonic() - began < 5


def test_basic_credentials_that_are_not_ascii_are_a_401(node) -> None:  # type: ignore[no-untyped-def]
    """base64.b64decode raises a plain ValueError for non-ASCII text: it was a 500."""
    url = start(node, "and user = ann and password = pw")
    r = httpx.get(url, headers={"command": "get status", "authorization": b"Basic \xc3\xa9t\xc3\xa9"}, timeout=5)
    assert r.status_code == 401
