"""Every command line in README.md, docs/*.md and examples/*.md runs against a real node (issue 10, item 6).

Each fenced block is one test. A block runs on a node started with
``commands/standalone.al`` (what ``scripts/start`` gives: TCP, REST, the
operator, the ``demo`` database), or on a fresh node when the line before the
block is ``<!-- doc-test: fresh -->``; ``<!-- doc-test: skip (reason) -->``
skips a block that needs what a test cannot have (the reason is required).
docs/commands.md is left out: it is generated from the declarations, whose
examples tests/test_registry.py parses.

In a block:

* ``AN <name> > <command>`` runs the command at the prompt; ``<name>`` must be
  the node's name at that moment (the prompt the node prints);
* ``$ <line>``, ``curl ...``, and every line of a ``sh`` block run in bash,
  with ``anynode`` on PATH and a throwaway home of their own (``~/.anynode``
  is the node's home); ``curl`` reaches the block's node;
* any other line is a command, unless it follows a ``$``/``curl`` line or a
  prompt (then it is output), or starts with ``error:`` or a space (the
  error the previous command gives);
* output shown is checked line by line against what the node prints
  (spaces collapsed; ``...`` stands for anything), retried for a few
  seconds while the operator catches up.

Ports 32548/32549 (the standalone node's TCP and REST) and any other 32xxx
port become free ports, the same one everywhere in the block.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from anynode.errors import AnyNodeError
from anynode.grammar.dispatch import Source
from anynode.node import Node
from anynode.output.render import error_text, render
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "commands.md"),
         *sorted((ROOT / "examples").glob("*.md"))]
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.M | re.S)
MARK = re.compile(r"<!-- doc-test: (fresh|skip)\s*(.*?)\s*-->")
PROMPT = re.compile(r"^AN (\S+) > (.*)$")
COMMENT = re.compile(r"\s{2,}#.*$")
PORT = re.compile(r"\b32\d{3}\b")


@dataclass
class Step:
    """One line to run, and the output the page shows for it."""

    kind: str  # "node", "shell" or "script"
    text: str
    prompt: str | None = None
    shown: list[str] = field(default_factory=list)


@dataclass
class Block:
    page: str
    line: int
    lang: str
    body: str
    mode: str = "standalone"
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def blocks() -> Iterator[Block]:
    """Every fenced block of the pages, with its mode from the marker line before it."""
    for page in PAGES:
        text = page.read_text()
        for m in FENCE.finditer(text):
            before = text[:m.start()].rstrip().rsplit("\n", 1)[-1]
            mark = MARK.search(before)
            body = "\n".join(line[len(m.group(1)):] for line in m.group(3).splitlines())
            yield Block(str(page.relative_to(ROOT)), text[:m.start()].count("\n") + 1, m.group(2), body,
                        mark.group(1) if mark else "standalone", mark.group(2).strip("() ") if mark else "")


def steps(block: Block) -> list[Step]:
    """The lines of a block as steps, each with the output the page shows after it.

    A block that starts with ``# <name>.al``, or with ``<``, is a script: it runs whole, with ``process``.
    """
    if re.match(r"# \S+\.al\n", block.body) or block.body.startswith("<"):
        return [Step("script", block.body)]
    out: list[Step] = []
    transcript = any(PROMPT.match(line) for line in block.body.splitlines())
    after_shell = False
    for raw in block.body.replace("\\\n", " ").splitlines():
        line = raw.rstrip()
        if not line.strip():
            after_shell = False
            continue
        prompt = PROMPT.match(line)
        if prompt:
            out.append(Step("node", COMMENT.sub("", prompt.group(2)), prompt.group(1)))
            after_shell = False
        elif line.startswith("$ ") or line.startswith("curl ") or block.lang == "sh":
            out.append(Step("shell", COMMENT.sub("", line.removeprefix("$ "))))
            after_shell = True
        elif out and (transcript or after_shell or line.startswith(("error:", " "))):
            out[-1].shown.append(line)
        elif line.startswith("error:"):  # an error shown before its command: the next line is the command
            out.append(Step("node", "", None, [line]))
        else:
            out.append(Step("node", COMMENT.sub("", line)))
    for step in out:  # an error block: "error: ...", then the command indented, then the caret
        if not step.text and len(step.shown) >= 2:
            step.text = step.shown[1].strip()
    return out


ALL = list(blocks())


def test_every_block_is_run_or_says_why_not() -> None:
    assert len(ALL) >= 20
    unexplained = [str(b) for b in ALL if b.mode == "skip" and len(b.reason) < 10]
    assert not unexplained, f"skipped without a reason: {unexplained}"
    empty = [str(b) for b in ALL if b.mode != "skip" and not steps(b)]
    assert not empty, f"blocks with no line to run: {empty}"


class Ports:
    """The block's free ports standing for the ports the page shows."""

    def __init__(self) -> None:
        self.tcp, self.rest = free_port(), free_port()
        self.map = {"32548": str(self.tcp), "32549": str(self.rest)}

    def __call__(self, text: str) -> str:
        return PORT.sub(lambda m: self.map.setdefault(m.group(), str(free_port())), text)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _shows(actual: str, shown: list[str]) -> str | None:
    """None when every shown line is in ``actual`` (``...`` matching anything); else the first missing line."""
    flat = _flat(actual)
    for line in shown:
        pieces = [p for p in (_flat(x) for x in line.split("...")) if p]
        at = 0
        for piece in pieces:
            found = flat.find(piece, at)
            if found < 0:
                return line
            at = found + len(piece)
    return None


def _run_node(node: Node, text: str) -> tuple[str, bool]:
    """What the prompt prints for ``text``, and whether it failed."""
    try:
        result = node.execute(text, Source.REPL)
    except AnyNodeError as exc:
        return error_text(exc, text), True
    out = io.StringIO()
    render(result, out)
    return out.getvalue(), False


@pytest.mark.parametrize("block", ALL, ids=[str(b) for b in ALL])
def test_doc_block_runs_as_shown(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if block.mode == "skip":
        pytest.skip(block.reason)
    ports = Ports()
    home = tmp_path / "node"
    monkeypatch.setenv("ANYLOG_SERVER_PORT", str(ports.tcp))
    monkeypatch.setenv("ANYLOG_REST_PORT", str(ports.rest))
    monkeypatch.delenv("NODE_NAME", raising=False)
    work = _workdir(tmp_path)
    node = Node(home)
    try:
        if block.mode == "standalone":
            node.execute(f"process {ROOT / 'commands' / 'standalone.al'}")
        for step in steps(block):
            _run_step(node, step, ports, work, home, tmp_path / "shell_home")
    finally:
        node.close()


def _workdir(tmp_path: Path) -> Path:
    """Where shell lines run: the README's my_node.al, the repository's commands/, a rows.json."""
    work = tmp_path / "work"
    work.mkdir()
    readme = (ROOT / "README.md").read_text()
    (work / "my_node.al").write_text(readme.split("# my_node.al\n", 1)[1].split("```", 1)[0])
    (work / "commands").symlink_to(ROOT / "commands")
    (work / "rows.json").write_text('[{"sensor": "s9", "value": 1}]')
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "anynode").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m anynode "$@"\n')
    (shim / "anynode").chmod(0o755)
    return work


def _run_step(node: Node, step: Step, ports: Ports, work: Path, home: Path, shell_home: Path) -> None:
    text = ports(step.text)
    shown = [ports(line).replace("~/.anynode", str(home)) for line in step.shown]
    wants_error = bool(shown) and shown[0].startswith("error:")
    deadline = time.monotonic() + 10
    if step.prompt is not None:
        assert step.prompt == node.name, f"the page shows 'AN {step.prompt} >', the node is {node.name}"
    while True:
        failed = False
        if step.kind == "script":
            script = work / "page_script.al"
            script.write_text(text)
            actual, failed = _run_node(node, f"process {script}")
        elif step.kind == "node":
            actual, failed = _run_node(node, text)
        else:
            env = dict(os.environ, ANYNODE_HOME=str(shell_home), PYTHONPATH=str(ROOT),
                       PATH=f"{work.parent / 'bin'}{os.pathsep}{os.environ['PATH']}")
            line = text.replace("~/.anynode", str(home))
            if line.startswith("curl "):
                line += " -sS"
            done = subprocess.run(["bash", "-c", line], cwd=work, env=env, capture_output=True, text=True,
                                  timeout=60, stdin=subprocess.DEVNULL)
            actual = done.stdout + done.stderr
            assert done.returncode == 0, f"{step.text}: exit {done.returncode}: {actual}"
        missing = _shows(actual, shown) if failed == wants_error else "an error" if wants_error else "no error"
        if missing is None:
            return
        if time.monotonic() > deadline or step.kind == "shell":
            pytest.fail(f"{step.text}: the page shows {missing!r}, the node printed:\n{actual}")
        time.sleep(0.2)
