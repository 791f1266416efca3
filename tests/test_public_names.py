"""No two public names alike for different things: a class name says which one it is.

``Batch`` (a line's results / rows in columns), ``Frame`` (a wire frame / a
session's state), ``Seconds`` (a command type / a setting's value) and
``Path`` (pathlib's / a command's value type) each meant two things once.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "anynode"


def _modules() -> dict[str, ast.Module]:
    return {str(p.relative_to(PACKAGE.parent)): ast.parse(p.read_text(encoding="utf-8"))
            for p in sorted(PACKAGE.rglob("*.py"))}


def public_classes(trees: dict[str, ast.Module]) -> dict[str, list[str]]:
    """Each public top-level class name and the modules that define it."""
    where: dict[str, list[str]] = defaultdict(list)
    for module, tree in trees.items():
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                where[node.name].append(module)
    return where


def outside_names(trees: dict[str, ast.Module]) -> set[str]:
    """Names the package imports from outside itself (``Path`` from pathlib ...)."""
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.module.startswith("anynode"):
                names.update(alias.asname or alias.name for alias in node.names)
    return names


def test_no_public_class_name_is_defined_twice_or_shadows_an_imported_name() -> None:
    trees = _modules()
    classes = public_classes(trees)
    twice = {name: modules for name, modules in classes.items() if len(modules) > 1}
    assert twice == {}, "rename one of each pair"
    shadowing = sorted(set(classes) & outside_names(trees))
    assert shadowing == [], "a class named like an imported name reads as that name"


def test_the_check_finds_a_pair() -> None:
    trees = {"a.py": ast.parse("class Batch: ...\nclass _Private: ..."),
             "b.py": ast.parse("from pathlib import Path\nclass Batch: ...\nclass Path: ...\nclass _Private: ...")}
    assert public_classes(trees) == {"Batch": ["a.py", "b.py"], "Path": ["b.py"]}
    assert "Path" in outside_names(trees)
