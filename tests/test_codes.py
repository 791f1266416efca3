"""AnyLog's status codes: one enum, no number written in their place, shown as numbers."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import orjson

from anynode.codes import Code
from anynode.errors import IngestError, RemoteTimeout

PACKAGE = Path(__file__).resolve().parent.parent / "anynode"
CODE_NAMES = {"code", "anylog_code", "err_code", "last_error_code"}


def _target(node: ast.expr) -> str | None:
    """The name an assignment sets; a plain variable ``code`` is a process exit status (cli.py, lifecycle.py)."""
    if isinstance(node, ast.Name):
        return node.id if node.id != "code" else None
    return node.attr if isinstance(node, ast.Attribute) else None


def _key(node: ast.expr | None) -> str | None:
    """A dict key such as "code" or "AnyLog.code", as its last word."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.rsplit(".", 1)[-1].lower()
    return None


def _literal(node: ast.expr | None) -> bool:
    """A number, or a number written as text ("86")."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
        return False
    return isinstance(node.value, int) or (isinstance(node.value, str) and node.value.isdigit())


def literal_codes(source: str) -> list[int]:
    """Lines where an AnyLog code is written as a number: assigned, passed, defaulted, compared or keyed."""
    found = []
    for node in ast.walk(ast.parse(source)):
        pairs: list[tuple[str | None, ast.expr | None]] = []
        if isinstance(node, ast.Assign):
            pairs = [(_target(t), node.value) for t in node.targets]
        elif isinstance(node, ast.AnnAssign):
            pairs = [(_target(node.target), node.value)]
        elif isinstance(node, ast.Call):
            pairs = [(kw.arg, kw.value) for kw in node.keywords]
            called = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if called.endswith("Error") and node.args:  # an error that takes its code first: PolicyError(87, ...)
                pairs.append(("code", node.args[0]))
        elif isinstance(node, ast.Dict):
            pairs = [(_key(k), v) for k, v in zip(node.keys, node.values, strict=True)]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args.args + node.args.kwonlyargs
            defaults = [None] * (len(node.args.args) - len(node.args.defaults)) + node.args.defaults
            pairs = [(a.arg, d) for a, d in zip(args, defaults + node.args.kw_defaults, strict=True)]
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            named = [s for s in sides if isinstance(s, (ast.Name, ast.Attribute)) and _target(s) in CODE_NAMES]
            pairs = [(_target(named[0]), s) for s in sides] if named else []
        found += [value.lineno for name, value in pairs if name in CODE_NAMES and _literal(value)]
    return sorted(found)


def test_the_scan_finds_each_way_a_code_was_written_as_a_number() -> None:
    before = ('class E(AnyNodeError):\n    anylog_code = 156\n'
              'raise IngestError("x", code=119)\n'
              'def __init__(self, code: int = 67): pass\n'
              'if exc.anylog_code == 86: pass\n'
              'reply = {"AnyLog.code": "86"}\n'
              'stats.last_error_code = 0\n'
              'raise PolicyError(87, "no id")\n')
    assert literal_codes(before) == [2, 3, 4, 5, 6, 7, 8]
    after = before.replace("156", "Code.WRONG_HTTP_METHOD").replace("119", "Code.FILE_NAME_STRUCTURE")
    after = after.replace("67", "Code.BAD_JSON_FILE").replace('"86"', "str(Code.DUPLICATE_JSON_FILE)")
    after = after.replace("86", "Code.DUPLICATE_JSON_FILE").replace("= 0", "= Code.SUCCESS")
    after = after.replace("(87,", "(Code.WRONG_POLICY,")
    assert literal_codes(after) == []


def test_no_anylog_code_is_written_as_a_number_in_the_package() -> None:
    found = {str(p.relative_to(PACKAGE.parent)): lines for p in sorted(PACKAGE.rglob("*.py"))
             if p.name != "codes.py" and (lines := literal_codes(p.read_text(encoding="utf-8")))}
    assert found == {}, f"name the code with anynode.codes.Code: {found}"


def test_a_code_is_shown_and_sent_as_its_number() -> None:
    code = Code.DUPLICATE_JSON_FILE
    assert (str(code), f"{code}", f"{code:>4}", json.dumps(code), orjson.dumps(code)) == \
        ("86", "86", "  86", "86", b"86")
    wire = IngestError("a file seen before", code=code).to_wire()
    assert wire["code"] == 86 and type(wire["code"]) is int
    assert RemoteTimeout("slow").anylog_code is Code.TIMEOUT and Code(26) is Code.TIMEOUT
