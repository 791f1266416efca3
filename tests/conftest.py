"""Fixtures shared by every test: a private node home, a node, a service manager, the REPL's pipe input,
and a check that no node thread outlives its test."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import anynode.assembly  # noqa: F401  (declares every command, as the edges do)
from tests.svc_helpers import anynode_threads, assert_no_anynode_threads


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
    deadline = time.monotonic() + 5.0
    while True:
        left = [t for t in anynode_threads() if t.ident not in before]
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


@pytest.fixture
def manager() -> Iterator[Any]:
    """A ServiceManager logging to ``test.manager``; every service stopped and no thread left after the test."""
    from anynode.services.manager import ServiceManager

    m = ServiceManager(logger=logging.getLogger("test.manager"))
    yield m
    m.stop_all(timeout=5)
    assert_no_anynode_threads()


@pytest.fixture
def pipe() -> Iterator[Any]:
    """prompt_toolkit's pipe input, for driving the REPL without a terminal."""
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    with create_pipe_input() as inp, create_app_session(input=inp, output=DummyOutput()):
        yield inp
