"""Nothing dead or stale: get processes lists services that exist, the OpenAPI says what destinations
answer, and the tests share one set of helpers whose waits fail with the real error."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest

from anynode.node import Node
from tests.helpers import wait_for_rows, wait_until
from tests.rest_helpers import start

TESTS = Path(__file__).resolve().parent


def test_every_service_get_processes_lists_can_run_on_this_node(node: Node) -> None:
    node.execute("connect dbms demo where type = sqlite")
    start(node)
    node.execute("run tcp server where internal_ip = 127.0.0.1 and internal_port = 0 and bind = true")
    node.execute("run operator where rescan = 1 second")
    node.execute("run scheduler")
    node.execute("connect dbms blockchain where type = sqlite")
    node.execute("blockchain create table")
    node.execute("run blockchain sync where source = dbms and time = 30 seconds and dest = file")
    listed = node.execute("get processes where format = json").to_json()
    assert {name: row["Status"] for name, row in listed.items()} == {
        "TCP": "Running", "REST": "Running", "Operator": "Running", "Blockchain Sync": "Running",
        "Scheduler": "Running"}


def test_the_openapi_says_what_a_destination_answers(node: Node) -> None:
    doc = httpx.get(f"{start(node)}/openapi.json", timeout=5).json()
    for path, method in (("/", "get"), ("/", "post"), ("/command", "post")):
        assert {"501", "502"} <= set(doc["paths"][path][method]["responses"]), (path, method)
    header = next(p for p in doc["paths"]["/"]["get"]["parameters"] if p["name"] == "destination")
    assert "ip:port, ip:port" in header["description"] and "`network`" in header["description"]


def _test_modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if p.name != "__init__.py")


def test_no_test_module_imports_another() -> None:
    found = []
    for path in _test_modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.relative_to(TESTS)}: {n}" for n in names if n.split(".")[-1].startswith("test_")]
    assert found == [], "import helpers from tests/helpers.py (or an area's *_helpers.py), not from a test module"


def _swallows_everything(fn: ast.FunctionDef) -> bool:
    """True when ``fn`` catches every exception (bare or Exception) only to return a constant."""
    for node in ast.walk(fn):
        if isinstance(node, ast.ExceptHandler) and (node.type is None or (
                isinstance(node.type, ast.Name) and node.type.id in ("Exception", "BaseException"))):
            if len(node.body) == 1 and isinstance(node.body[0], ast.Return) and isinstance(node.body[0].value,
                                                                                          (ast.Constant, ast.UnaryOp)):
                return True
    return False


def test_helpers_are_defined_once_and_none_hides_an_error_behind_a_number() -> None:
    waits, swallowing = [], []
    for path in _test_modules():
        for fn in ast.parse(path.read_text()).body:
            if isinstance(fn, ast.FunctionDef) and not fn.name.startswith("test_"):
                if "wait_until" in fn.name:
                    waits.append(str(path.relative_to(TESTS)))
                if _swallows_everything(fn):
                    swallowing.append(f"{path.relative_to(TESTS)}: {fn.name}")
    assert waits == ["helpers.py"]
    assert swallowing == []


def test_a_wait_that_times_out_names_the_last_real_error() -> None:
    def check() -> bool:
        raise RuntimeError("no such table: readings")

    with pytest.raises(AssertionError, match=r"waiting for the readings; the check last failed with "
                                             r"RuntimeError: no such table: readings"):
        wait_until(check, 0.2, "the readings")
    calls: list[int] = []
    assert wait_until(lambda: calls.append(1) or len(calls) >= 3) is True  # a false result just waits


def test_waiting_for_rows_fails_with_the_real_error_not_a_bare_timeout(node: Node) -> None:
    with pytest.raises(AssertionError, match="Logical DBMS 'nowhere' not connected"):
        wait_for_rows(node, "nowhere", "readings", 1, timeout=0.3)
    node.execute("connect dbms demo where type = sqlite")
    node.execute('sql demo "create table readings (v int)"')
    node.execute('sql demo "insert into readings values (1), (2)"')
    with pytest.raises(AssertionError, match=r"3 rows in demo.readings \(it held 2\)"):
        wait_for_rows(node, "demo", "readings", 3, timeout=0.3)
    wait_for_rows(node, "demo", "readings", 2, timeout=1)
