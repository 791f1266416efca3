"""The node seen through typed protocols: Context.node and every service's node are typed.

A type checker then follows each use of the node; these tests keep the
protocols and the Node in step and keep ``node: Any`` from coming back.
"""

from __future__ import annotations

import ast
import typing
from pathlib import Path

from anynode.grammar.dispatch import Context
from anynode.node import Node
from anynode.protocols import NodeView, Variables

PACKAGE = Path(__file__).resolve().parent.parent / "anynode"
EDGE_MAKING_THE_NODE = {"anynode/cli.py"}  # holds the concrete Node it made


def _members(protocol: type) -> set[str]:
    names = set(getattr(protocol, "__annotations__", {}))
    names |= {n for n, v in vars(protocol).items() if callable(v) or isinstance(v, property)}
    return {n for n in names if not n.startswith("_")}


def test_the_node_has_every_member_its_protocols_name(node: Node) -> None:
    missing = sorted(n for n in _members(NodeView) | _members(Variables)
                     if not hasattr(Node, n) and n not in vars(node))
    assert missing == []


def test_a_handler_context_names_the_node_protocol() -> None:
    assert typing.get_type_hints(Context)["node"] is NodeView


def untyped_nodes(source: str) -> list[int]:
    """Lines where a parameter or attribute called ``node`` is annotated ``Any``."""
    found = []
    for n in ast.walk(ast.parse(source)):
        if isinstance(n, ast.arg) and n.arg == "node" and isinstance(n.annotation, ast.Name):
            if n.annotation.id == "Any":
                found.append(n.lineno)
        elif isinstance(n, ast.AnnAssign) and isinstance(n.annotation, ast.Name) and n.annotation.id == "Any":
            target = n.target
            if (isinstance(target, ast.Name) and target.id == "node") or \
                    (isinstance(target, ast.Attribute) and target.attr == "node"):
                found.append(n.lineno)
    return sorted(found)


def test_no_node_is_typed_any_below_the_edge_that_makes_it() -> None:
    assert untyped_nodes("def f(node: Any) -> None: ...\nclass C:\n    node: Any\n") == [1, 3]
    found = {str(p.relative_to(PACKAGE.parent)): lines for p in sorted(PACKAGE.rglob("*.py"))
             if str(p.relative_to(PACKAGE.parent)) not in EDGE_MAKING_THE_NODE
             and (lines := untyped_nodes(p.read_text(encoding="utf-8")))}
    assert found == {}, "type it anynode.protocols.NodeView"
