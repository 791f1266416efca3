"""Imports go one way: a module imports only its own layer or the layers below, and no import closes a cycle.

The layer order is written here and nowhere else (docs/architecture.md explains
it). Every import counts, including those inside functions: a lazy import that
climbs a layer still ties the lower layer to the upper one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Lowest first. A unit is a module or a package (with everything under it).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("vocabulary", ("anynode", "anynode.errors", "anynode.results", "anynode.cancel", "anynode.safejson",
                    "anynode.secret", "anynode.fileio", "anynode.values", "anynode.codes")),
    ("engines", ("anynode.store", "anynode.ingest", "anynode.net")),
    ("core", ("anynode.grammar", "anynode.settings", "anynode.logs", "anynode.lock", "anynode.lifecycle",
              "anynode.script", "anynode.node", "anynode.services", "anynode.protocols")),
    ("capabilities", ("anynode.data", "anynode.shell", "anynode.tcp", "anynode.rest", "anynode.operator",
                      "anynode.streaming", "anynode.scheduler", "anynode.metadata", "anynode.query",
                      "anynode.publisher", "anynode.ha")),
    ("edges", ("anynode.assembly", "anynode.cli", "anynode.__main__", "anynode.repl", "anynode.output",
               "anynode.console")),
)


def module_name(path: Path, root: Path) -> str:
    """``anynode/rest/app.py`` -> ``anynode.rest.app``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, name: str) -> Iterator[tuple[str, int]]:
    """Every module ``name`` (at ``path``) imports, anywhere in it, with the line."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base == "__future__":
                continue
            yield base, node.lineno
            for alias in node.names:  # `from anynode.rest import app` imports the module anynode.rest.app
                yield f"{base}.{alias.name}", node.lineno


def unit_of(module: str, layers: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[int, str] | None:
    """(layer index, unit) of the longest unit that holds ``module``; None when no layer names it."""
    best: tuple[int, str] | None = None
    for index, (_, units) in enumerate(layers):
        for unit in units:
            if (module == unit or module.startswith(unit + ".")) and (best is None or len(unit) > len(best[1])):
                best = (index, unit)
    return best


def check(root: Path, package: str, layers: tuple[tuple[str, tuple[str, ...]], ...]) -> list[str]:
    """Every breach of the layer rules in the package at ``root/package``, one line each."""
    problems: list[str] = []
    modules = {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        mine = unit_of(name, layers)
        if mine is None:
            problems.append(f"{name} is in no layer: add it to LAYERS in tests/test_layers.py")
            continue
        for target, line in imports(path, name):
            if target not in modules:
                continue  # another package, or a name imported from a module (not a module itself)
            graph[name].add(target)
            theirs = unit_of(target, layers)
            if theirs is not None and theirs[0] > mine[0]:
                problems.append(f"{path.relative_to(root)}:{line}: {name} ({layers[mine[0]][0]}) imports "
                                f"{target} ({layers[theirs[0]][0]}), a layer above it")
    problems += [f"import cycle: {' -> '.join(c)}" for c in cycles(graph)]
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One path around each strongly connected group of modules (Tarjan), a package's own __init__ aside."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def edges(m: str) -> set[str]:
        # a module importing its own package's __init__ (or the reverse) is how packages work, not a cycle
        return {t for t in graph[m] if not (m.startswith(t + ".") or t.startswith(m + "."))}

    def visit(m: str) -> None:
        index[m] = low[m] = len(index)
        stack.append(m)
        on_stack.add(m)
        for t in edges(m):
            if t not in index:
                visit(t)
                low[m] = min(low[m], low[t])
            elif t in on_stack:
                low[m] = min(low[m], index[t])
        if low[m] == index[m]:
            group = []
            while True:
                t = stack.pop()
                on_stack.discard(t)
                group.append(t)
                if t == m:
                    break
            if len(group) > 1:
                found.append(sorted(group) + [sorted(group)[0]])

    for m in sorted(graph):
        if m not in index:
            visit(m)
    return found


def test_imports_go_one_way_and_close_no_cycle() -> None:
    problems = check(ROOT, "anynode", LAYERS)
    assert not problems, "\n".join(problems)


def test_every_layer_unit_exists_or_is_a_planned_capability() -> None:
    planned = {"anynode.query", "anynode.publisher", "anynode.ha"}
    missing = [unit for _, units in LAYERS for unit in units if unit not in planned
               and not (ROOT / (unit.replace(".", "/") + ".py")).exists()
               and not (ROOT / unit.replace(".", "/")).is_dir()]
    assert not missing, f"LAYERS names units that do not exist: {missing}"


def _tree(tmp: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp


FAKE = (("low", ("pkg", "pkg.low")), ("high", ("pkg.high",)))


def test_the_check_catches_an_upward_import_even_inside_a_function(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/low.py": "def f():\n    from pkg.high import thing\n    return thing\n",
        "pkg/high.py": "from pkg import low\nthing = 1\n",
    })
    problems = check(root, "pkg", FAKE)
    assert any("pkg/low.py:2: pkg.low (low) imports pkg.high (high), a layer above it" in p for p in problems), problems


def test_the_check_catches_a_cycle_within_a_layer(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/low/__init__.py": "",
        "pkg/low/a.py": "from pkg.low import b\n",
        "pkg/low/b.py": "from .a import x\n",
        "pkg/high.py": "import pkg.low.a\n",
    })
    assert check(root, "pkg", FAKE) == ["import cycle: pkg.low.a -> pkg.low.b -> pkg.low.a"]


def test_the_check_names_a_module_in_no_layer(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"pkg/__init__.py": "", "pkg/stray.py": "", "pkg/high.py": ""})
    assert check(root, "pkg", (("low", ("pkg.low",)), ("high", ("pkg.high",)))) == [
        "pkg is in no layer: add it to LAYERS in tests/test_layers.py",
        "pkg.stray is in no layer: add it to LAYERS in tests/test_layers.py"]


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"pkg/__init__.py": "", "pkg/low.py": "X = 1\n", "pkg/high.py": "from pkg.low import X\n"})
    assert check(root, "pkg", FAKE) == []
