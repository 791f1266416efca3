"""Replies as AnyLog gives them over REST: the text the prompt prints, JSON when asked or JSON by nature."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest

from anynode.output.render import render
from anynode.rest.bodies import anylog_body, prompt_text
from anynode.results import Batch, Empty, Json, Message, Record, Replies, Reply, Result, Table
from tests.rest_helpers import ANYLOG, start
from tests.view_helpers import make_net

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
POLICY = '{"cluster": {"name": "c1", "company": "acme"}}'


@pytest.fixture
def served(node):  # type: ignore[no-untyped-def]
    """A node with a database, a table of two rows and a policy; its REST server's URL."""
    node.execute("connect dbms test where type = sqlite")
    node.execute('sql test "create table t1 (timestamp timestamp, value float, name varchar)"')
    node.execute("sql test \"insert into t1 values ('2026-12-01 10:00:00', 1.5, 'a'), "
                 "('2026-12-01 10:01:00', 2.5, 'b')\"")
    node.execute(f"blockchain insert where policy = {POLICY} and local = true")
    return node, start(node)


def _printed(node: Any, line: str) -> str:
    """What the prompt prints for ``line`` when its output is not a terminal."""
    out = io.StringIO()
    render(node.execute(line), out)
    return out.getvalue()


def _get(url: str, line: str, **headers: str) -> httpx.Response:
    return httpx.get(url, headers={"command": line, **ANYLOG, **headers}, timeout=10)


PROMPT_LINES = [
    "get processes",
    "get connections",
    "get dictionary",
    "get tables where dbms = test",
    "help",
    "help get status",
    'sql test format = table "select name, value from t1 order by name"',
    'sql test format = table and stat = false "select name, value from t1 order by name"',
    "blockchain get cluster bring [cluster][name]",
    "get status & get version",
]


def test_a_command_answers_the_text_the_prompt_prints(served: Any) -> None:
    node, url = served
    for line in PROMPT_LINES:
        r = _get(url, line)
        assert r.status_code == 200 and r.headers["content-type"] == TEXT, (line, r.headers)
        printed = _printed(node, line)
        assert r.text == (printed[:-1] if printed.count("\n") == 1 else printed), line
        assert not r.text.lstrip().startswith(("[{", "{\"")), line  # not the JSON rows of before


def test_a_one_line_reply_has_no_newline_and_a_table_keeps_its_last(served: Any) -> None:
    node, url = served
    status = _get(url, "get status")
    assert status.text == node.execute("get status").to_text() and not status.text.endswith("\n")
    table = _get(url, "get processes")
    assert table.text.startswith("Process ") and table.text.endswith("\n")
    assert "REST             Running" in table.text


@pytest.mark.parametrize("line", ["get processes", "get connections", "get dictionary", "get tables where dbms = test"])
def test_format_json_gives_the_json_the_prompt_gives(served: Any, line: str) -> None:
    node, url = served
    assert _get(url, line).headers["content-type"] == TEXT
    asked = line + (" and format = json" if " where " in line else " where format = json")
    r = _get(url, asked)
    assert r.status_code == 200 and r.headers["content-type"] == JSON
    assert r.json() == json.loads(json.dumps(node.execute(asked).to_json(), default=str))


def test_sql_without_a_format_is_anylogs_json_and_format_table_is_text(served: Any) -> None:
    _, url = served
    r = _get(url, 'sql test "select name, value from t1 order by name"')
    assert r.headers["content-type"] == JSON
    body = r.json()
    assert body["Query"] == [{"name": "a", "value": 1.5}, {"name": "b", "value": 2.5}]
    assert body["Statistics"][0]["Count"] == 2
    assert _get(url, 'sql test format = json and stat = false "select name from t1 order by name"').json() == \
        {"Query": [{"name": "a"}, {"name": "b"}]}
    table = _get(url, 'sql test format = table and stat = false "select name, value from t1 order by name"')
    assert table.headers["content-type"] == TEXT
    lines = table.text.splitlines()
    assert lines[0].split() == ["name", "value"] and lines[2].split() == ["a", "1.5"]


def test_json_by_nature_stays_json_and_a_value_brought_is_text(served: Any) -> None:
    node, url = served
    r = _get(url, "blockchain get *")
    assert r.headers["content-type"] == JSON
    assert r.json() == node.execute("blockchain get *").to_json() and r.json()[0]["cluster"]["name"] == "c1"
    both = _get(url, "get status where format = json & get connections where format = json")
    assert both.headers["content-type"] == JSON and both.json()[0]["status"] == "running"
    mixed = _get(url, "get status where format = json & get connections")
    assert mixed.headers["content-type"] == TEXT and "REST " in mixed.text
    name = _get(url, "blockchain get cluster bring [cluster][name]")
    assert (name.headers["content-type"], name.text) == (TEXT, "c1")


def test_a_wrong_method_is_anylogs_json_error(served: Any) -> None:
    _, url = served
    r = httpx.post(url, headers={"command": "get processes", **ANYLOG}, timeout=10)
    assert r.status_code == 400 and r.headers["content-type"] == JSON
    body = r.json()
    assert (body["method"], body["err_code"]) == ("post", 156) and "GET" in body["local_msg"]


def test_the_json_endpoint_stays_json(served: Any) -> None:
    _, url = served
    r = httpx.post(f"{url}/command", json={"command": "get processes"}, timeout=10)
    assert r.headers["content-type"] == JSON and r.json()["REST"]["Status"] == "Running"
    r = httpx.post(f"{url}/command", json={"command": "get status"}, timeout=10)
    assert r.json()["status"] == "running"
    r = httpx.post(f"{url}/command", json={"command": "get proceses"}, timeout=10)
    assert r.status_code == 400 and r.json()["local_msg"] == "unknown command 'get proceses'"


def test_an_error_is_anylogs_json_with_the_detail(served: Any) -> None:
    _, url = served
    r = _get(url, 'sql test "select * from nosuch"')
    assert r.status_code == 400 and r.headers["content-type"] == JSON
    body = r.json()
    assert {"method", "node", "err_code", "err_text", "local_msg"} <= set(body)
    assert body["method"] == "get" and "nosuch" in body["local_msg"] and body["err_code"] == body["code"]
    r = _get(url, "get proceses")
    assert r.status_code == 400 and r.json()["local_msg"] == "unknown command 'get proceses'"


def test_replies_json_keeps_the_earlier_json_for_every_table(node: Any) -> None:
    node.execute("connect dbms test where type = sqlite")
    node.execute('sql test "create table t1 (name varchar)"')
    node.execute("sql test \"insert into t1 values ('a')\"")
    url = start(node, "and replies = json")
    r = _get(url, "get processes")
    assert r.headers["content-type"] == JSON
    assert next(row for row in r.json() if row["Process"] == "REST")["Status"] == "Running"
    assert _get(url, 'sql test "select name from t1"').json() == [{"name": "a"}]
    assert _get(url, "get status").text.endswith(" running")
    assert node.execute("get rest server info where format = json").to_json()["Replies"] == "json"


def test_a_network_query_with_format_table_is_the_text_table(tmp_path: Any) -> None:
    net = make_net(tmp_path)
    try:
        for n, op in enumerate(net.operators):
            op.execute("connect dbms demo where type = sqlite")
            op.execute('sql demo "create table sensor (device text, value integer)"')
            op.execute(f"sql demo \"insert into sensor values ('d{n}', {n})\"")
        url = start(net.query)
        sql = 'sql demo format = table and stat = false "select device, value from sensor order by device"'
        r = _get(url, sql, destination="network")
        assert r.status_code == 200 and r.headers["content-type"] == TEXT, r.text
        assert r.text == _printed(net.query, f"run client () {sql}")
        assert [line.split() for line in r.text.splitlines()[2:]] == [["d1", "1"], ["d2", "2"]]  # c1: its main
        asked = _get(url, sql.replace("format = table", "format = json"), destination="network")
        assert asked.headers["content-type"] == JSON and len(asked.json()["Query"]) == 2
    finally:
        net.close()


def test_a_bad_replies_value_is_refused(node: Any) -> None:
    from anynode.errors import AnyNodeError

    with pytest.raises(AnyNodeError, match="'xml' is not accepted") as info:
        node.execute("run rest server where ip = 127.0.0.1 and port = 0 and bind = true and replies = xml")
    assert "anylog" in info.value.one_line() and "json" in info.value.one_line()


@pytest.mark.parametrize("result", [
    Message("one line"), Message("two\nlines"), Message(""), Empty(),
    Table.of(["a", "b"], [(1, None), ("x", 2.5)], title="T"), Table.of(["a"], []),
    Record({"k": 1, "long key": "v"}, title="R"), Record({}),
    Json({"a": [1, 2]}), Json([]), Json("plain"), Json(None), Json(3),
    Batch((Message("a"), Json({"b": 1}), Table.of(["c"], [(1,)]))),
    Replies((Reply("1.2.3.4:5", Message("ok")), Reply("6.7.8.9:1", None, {"error": "refused", "hint": "h"}))),
], ids=lambda r: type(r).__name__)
def test_the_reply_text_is_what_render_writes(result: Result) -> None:
    out = io.StringIO()
    render(result, out)
    printed = out.getvalue()
    assert prompt_text(result) == printed
    body, ctype = anylog_body(result)
    if ctype.startswith(b"text/plain"):
        assert body.decode() == (printed[:-1] if printed.count("\n") == 1 else printed)
    else:
        assert json.loads(body) == result.to_json()
