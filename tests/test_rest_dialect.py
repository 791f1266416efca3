"""AnyLog's REST dialect as a client sees it: commands, methods, replies, errors."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.rest_helpers import ANYLOG, add_test_commands, start


@pytest.fixture
def url(node):  # type: ignore[no-untyped-def]
    add_test_commands(node)
    return start(node)


def test_get_status_with_anylog_agent(url: str, node) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(url, headers={"command": "get status", **ANYLOG}, timeout=5)
    assert r.status_code == 200
    assert r.text == node.execute("get status").to_text()
    assert r.headers["content-type"].startswith("text/plain")
    assert r.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("agent", ["python-requests/2.31", "Mozilla/5.0", "curl/8.1", "something odd"])
def test_any_user_agent_is_served(url: str, agent: str) -> None:
    """EdgeLake answers unknown agents with an empty 200 (its bug #9); we run the command."""
    r = httpx.get(url, headers={"command": "get status", "User-Agent": agent}, timeout=5)
    assert r.status_code == 200 and r.text.endswith(" running")


def test_anylog_agent_header_names_the_caller(url: str, node) -> None:  # type: ignore[no-untyped-def]
    httpx.get(url, headers={"command": "get version", "User-Agent": "x/1", "AnyLog-Agent": "AnyLog/1.23"}, timeout=5)
    calls = node.execute("get rest calls where format = json").to_json()["calls"]
    assert [c["Caller"] for c in calls] == ["anylog"]


def test_table_result_is_text_and_json_when_asked(url: str) -> None:
    r = httpx.get(url, headers={"command": "get processes"}, timeout=5)
    assert r.status_code == 200 and r.headers["content-type"] == "text/plain; charset=utf-8"
    line = next(line for line in r.text.splitlines() if line.startswith("REST "))
    assert line.split()[1] == "Running" and "Threads Pool: 5, Timeout: 20, SSL: False" in line
    r = httpx.get(url, headers={"command": "get processes where format = json"}, timeout=5)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    rest = r.json()["REST"]
    assert rest["Status"] == "Running"
    assert rest["Details"].startswith("Listening on: 127.0.0.1:") and "Threads Pool: 5, Timeout: 20, SSL: False" \
        in rest["Details"]


def test_json_format_option(url: str) -> None:
    r = httpx.get(url, headers={"command": "get status where format = json"}, timeout=5)
    assert r.json()["status"] == "running"


def test_post_only_command_over_get_names_post(url: str, node) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(url, headers={"command": "test bump"}, timeout=5)
    assert r.status_code == 400
    body = r.json()
    assert body["err_code"] == 156 and "POST" in body["error"] and "GET" in body["error"]
    assert node.get_var("bumps") is None


def test_post_runs_a_command_that_changes_the_node(url: str, node) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(url, headers={"command": "test bump"}, timeout=5)
    assert (r.status_code, r.text) == (200, "bumped to 1")
    assert node.get_var("bumps") == "1"


def test_get_command_over_post_is_refused(url: str) -> None:
    r = httpx.post(url, headers={"command": "get status"}, timeout=5)
    assert r.status_code == 400 and "GET" in r.json()["hint"]


@pytest.mark.parametrize("line", ["exit node", "set node name other", "x = 5", "reset error log"])
def test_local_only_commands_are_forbidden(url: str, node, line: str) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(url, headers={"command": line}, timeout=5)
    assert r.status_code == 403, r.text
    assert r.json()["kind"] == "NotPermitted"
    assert not node.exit_event.is_set() and node.get_var("x") is None


def test_unknown_command_is_400_with_suggestion(url: str) -> None:
    r = httpx.get(url, headers={"command": "get statsu"}, timeout=5)
    assert r.status_code == 400
    assert "get status" in r.json()["hint"] and r.json()["err_code"] == 1


def test_missing_command_header(url: str) -> None:
    r = httpx.get(url, timeout=5)
    assert r.status_code == 400 and "command" in r.json()["error"]
    r = httpx.post(url, timeout=5)
    assert r.status_code == 400 and "command" in r.json()["error"]


def test_command_on_the_url(url: str) -> None:
    r = httpx.get(url + "/?User-Agent=AnyLog/1.23?command=get%20status", timeout=5)
    assert r.status_code == 200 and r.text.endswith(" running")
    r = httpx.get(url, params={"command": "get version"}, timeout=5)
    assert r.status_code == 200 and r.text.startswith("anynode version")


def test_post_json_body_as_headers(url: str) -> None:
    r = httpx.post(url, json={"command": "test bump", "User-Agent": "AnyLog/1.23"}, timeout=5)
    assert (r.status_code, r.text) == (200, "bumped to 1")


def test_command_body(url: str) -> None:
    r = httpx.post(url, headers={"command": "body"}, content=b"test bump", timeout=5)
    assert (r.status_code, r.text) == (200, "bumped to 1")


def test_command_data_without_mapping(url: str) -> None:
    r = httpx.post(url, headers={"command": "data", "topic": "t"}, json=[{"a": 1}], timeout=5)
    assert r.status_code == 501 and "PUT" in r.json()["hint"]


def test_destination_is_not_yet_available(url: str) -> None:
    r = httpx.get(url, headers={"command": "get status", "destination": "network"}, timeout=5)
    assert r.status_code == 501 and "destination" in r.json()["error"]
    r = httpx.get(url, headers={"command": "get status", "destination": "local"}, timeout=5)
    assert r.status_code == 200


def test_assignment_header_is_forbidden(url: str) -> None:
    r = httpx.get(url, headers={"command": "get status", "assignment": "s"}, timeout=5)
    assert r.status_code == 403


def test_bad_timeout_header(url: str) -> None:
    r = httpx.get(url, headers={"command": "get status", "timeout": "soon"}, timeout=5)
    assert r.status_code == 400 and "timeout" in r.json()["error"]


def test_command_endpoint_answers_json(url: str) -> None:
    r = httpx.post(url + "/command", json={"command": "get status"}, timeout=5)  # its JSON form, as --format json
    assert r.status_code == 200 and r.json()["status"] == "running"
    r = httpx.post(url + "/command", json={"command": "test bump"}, timeout=5)
    assert r.json() == "bumped to 1"
    r = httpx.post(url + "/command", json={"command": "get processes"}, timeout=5)
    assert r.json()["REST"]["Status"] == "Running"
    r = httpx.post(url + "/command", json={"nothing": 1}, timeout=5)
    assert r.status_code == 400
    r = httpx.post(url + "/command", content=b"{not json", timeout=5)
    assert r.status_code == 400 and "not JSON" in r.json()["error"]
    assert httpx.get(url + "/command", timeout=5).status_code == 405


def test_health_and_openapi(url: str) -> None:
    assert httpx.get(url + "/health/live", timeout=5).json() == {"status": "live"}
    ready = httpx.get(url + "/health/ready", timeout=5)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    doc = httpx.get(url + "/openapi.json", timeout=5).json()
    assert doc["openapi"].startswith("3.") and {"/", "/command", "/health/live", "/health/ready"} <= set(doc["paths"])
    names = {c["command"]: c["method"] for c in doc["x-anynode-commands"]}
    assert names["get status"] == "GET" and "exit node" not in names


def test_cors_preflight(url: str) -> None:
    r = httpx.options(url, headers={"Origin": "http://app", "Access-Control-Request-Method": "POST",
                                    "Access-Control-Request-Headers": "command, authorization"}, timeout=5)
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-headers"] == "command, authorization"


def test_unknown_path_and_method(url: str) -> None:
    r = httpx.get(url + "/nowhere", timeout=5)
    assert r.status_code == 404 and "/command" in r.json()["hint"]
    r = httpx.delete(url, timeout=5)
    assert r.status_code == 405 and "PUT" in r.headers["allow"]


def test_error_body_has_anylog_and_anynode_fields(url: str) -> None:
    body = httpx.get(url, headers={"command": "get statsu"}, timeout=5).json()
    assert {"method", "node", "err_code", "err_text", "error", "hint", "kind", "status"} <= set(body)
    assert body["node"] == "127.0.0.1" and body["method"] == "get"


def test_get_rest_calls_counts_and_lists(url: str, node) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        httpx.get(url, headers={"command": "get status", **ANYLOG}, timeout=5)
    httpx.get(url, headers={"command": "nope", **ANYLOG}, timeout=5)
    data = node.execute("get rest calls where format = json").to_json()
    row = data["calls"][0]
    assert (row["Caller"], row["Call"], row["Processed"], row["Errors"]) == ("anylog", "GET", 4, 1)
    assert data["statuses"]["GET"] == {"200": 3, "400": 1}
    last = node.execute("get rest calls where last = 2 and format = json").to_json()
    assert [c["Command"] for c in last] == ["get status", "nope"] and last[1]["Status"] == 400
    r = httpx.get(url, headers={"command": "get rest calls"}, timeout=5)
    assert r.status_code == 200 and r.text.startswith("REST calls\n") and "anylog" in r.text
    r = httpx.get(url, headers={"command": "get rest calls where format = json"}, timeout=5)
    assert r.status_code == 200 and r.json()["calls"][0]["Caller"] == "anylog"


def test_get_rest_server_info_and_connections(url: str, node) -> None:  # type: ignore[no-untyped-def]
    info = json.loads(httpx.get(url, headers={"command": "get rest server info where format = json"},
                                timeout=5).text)
    assert info["Listening on"] == url.split("//")[1] and info["Threads Pool"] == 5
    conns = node.execute("get connections where format = json").to_json()
    assert conns["REST"]["Internal Address"] == url.split("//")[1]
    assert conns["TCP"]["Internal Address"] == "Not declared"
