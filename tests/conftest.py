"""Fixtures shared by every test: a private node home, a node, and a check
that no node thread outlives its test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import anynode.assembly  # noqa: F401  (declares every command, as the edges do)


@pytest.fixture(autouse=True)
def _private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own ANYNODE_HOME; nothing touches ~/.anynode."""
    home = tmp_path / "home"
    monkeypatch.setenv("ANYNODE_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _no_thread_outlives_its_test() -> Iterator[None]:
    """Fail a test that leaves an anynode:* thread running."""
    before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + 2.0
    while True:
        left = [t for t in threading.enumerate()
                if t.name.startswith("anynode:") and t.is_alive() and t.ident not in before]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not left, f"threads outlived the test: {[t.name for t in left]}"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:  # noqa: F821
    """A node with no services running, closed after the test."""
    from anynode.node import Node

    n = Node(tmp_path / "node")
    yield n
    n.close()


@pytest.fixture
def run(node):  # type: ignore[no-untyped-def]
    """Run a command line on `node` and return its plain text."""

    def _run(line: str) -> str:
        return node.execute(line).to_text()

    return _run
