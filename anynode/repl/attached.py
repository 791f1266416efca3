"""The prompt attached to a running node: the local prompt's look, completion and history; the node runs the lines."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from anynode.console.client import Attached


class RemoteView:
    """What the prompt's parts (toolbar, completion, history) read of a node, answered by the attached one."""

    def __init__(self, attached: Attached, home: Path, registry: Any) -> None:
        self.attached = attached
        self.home = home
        self.registry = registry
        self.debug = False
        self._asked = 0.0

    @property
    def name(self) -> str:
        """The node's name."""
        return self.attached.name

    def user_services(self) -> list[str]:
        """The node's running services, as it last said."""
        return [str(s) for s in self.attached.hello.get("services") or []]

    def variables(self) -> dict[str, str]:
        """No variable names are completed when attached."""
        return {}

    def redact(self, line: str) -> str:
        """The line as the node would write it down (history keeps no secret)."""
        return self.attached.redact(line)

    def toolbar(self) -> str:
        """The toolbar's live part (the node's ingest count), asked every second; notes waiting are said."""
        now = time.monotonic()
        if now - self._asked >= 0.5:  # a redraw per key press must not ask the node each time
            self._asked = now
            try:
                self.attached.refresh()
            except OSError:
                return " | the node closed its console"
        return str(self.attached.hello.get("ingest") or "")


def run_prompt(attached: Attached, home: Path, fmt: str) -> int:
    """The attached prompt; returns 0 when the user detaches (Ctrl-D) or the node stops."""
    from prompt_toolkit.patch_stdout import patch_stdout

    import anynode.assembly  # noqa: F401  (declares every command: completion and help words)
    from anynode.grammar.registry import Registry
    from anynode.repl.paging import Busy
    from anynode.repl.session import build_session, prompt_text

    view = RemoteView(attached, home, Registry.default())
    session: Any = build_session(view, view.toolbar)  # type: ignore[arg-type]  # the parts it reads, not a node
    attached._prompt = True
    attached.watch()
    pid = attached.hello.get("pid")
    print(f"attached to node {attached.name} (pid {pid}) on {home}; Ctrl-D detaches, 'exit node' stops the node")
    max_rows = int(attached.hello.get("max_rows") or 0)
    with patch_stdout(raw=True):
        while True:
            try:
                line = session.prompt(lambda: prompt_text(view))  # type: ignore[arg-type]
            except KeyboardInterrupt:
                continue
            except EOFError:
                print("detached; the node keeps running ('anynode stop' ends it)")
                break
            if not line.strip():
                continue
            attached.run(line.strip(), sys.stdout, sys.stderr, fmt=fmt, source="repl", max_rows=max_rows,
                         busy=Busy(line.strip()))
            if attached.exiting:
                break
            try:
                attached.refresh()
            except OSError:
                break
    return 0
