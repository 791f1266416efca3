"""Helpers for the console tests: a real node process holding a home, the CLI, a prompt in a pty."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ANYNODE = [sys.executable, "-m", "anynode"]

SERVICES_SCRIPT = """\
set node name {name}
connect dbms demo where type = sqlite
run tcp server where internal_ip = 127.0.0.1 and internal_port = 0
run rest server where internal_ip = 127.0.0.1 and internal_port = 0
echo up
"""
"""A node script that starts TCP and REST on free ports and says ``up``."""

LONG_SQL = 'sql demo "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"'
"""A SQLite query that never ends by itself."""


def env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of an anynode process on ``home`` in a terminal-like setting."""
    # A pty under pexpect answers no cursor-position request; prompt_toolkit would wait 1 s for one at each Enter.
    out = dict(os.environ, ANYNODE_HOME=str(home), TERM="xterm", COLUMNS="100", LINES="30", PROMPT_TOOLKIT_NO_CPR="1")
    out.update(extra)
    return out


def cli(home: Path, *args: str, stdin: str | None = None, timeout: float = 20,
        **extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``anynode ARGS`` on ``home``; its completed process."""
    return subprocess.run([*ANYNODE, *args], input=stdin, capture_output=True, text=True, timeout=timeout,
                          env=env(home, **extra))


@contextmanager
def held_home(tmp: Path, name: str = "held1", home: Path | None = None,
              more: str = "") -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A node started with ``anynode process`` (TCP, REST, then the lines ``more``) holding a home;
    stopped (SIGTERM) at the end."""
    home = home or tmp / "home"
    script = tmp / f"{name}.al"
    script.write_text(more + SERVICES_SCRIPT.format(name=name))
    proc = subprocess.Popen([*ANYNODE, "process", str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env(home))
    try:
        assert proc.stdout is not None
        seen = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if line.strip() == "up" or not line:
                break
        assert seen and seen[-1].strip() == "up", "".join(seen)
        yield home, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def spawn(home: Path, *args: str, **extra: str) -> Any:
    """``anynode ARGS`` in a real pseudo-terminal (pexpect), 30 lines of 100 columns."""
    import pexpect

    return pexpect.spawn(ANYNODE[0], [*ANYNODE[1:], *args], env=env(home, **extra), encoding="utf-8", timeout=15,
                         dimensions=(30, 100))


def elapsed_until(child: Any, text: str, since: float) -> float:
    """Wait for ``text`` from the pexpect ``child``; seconds since ``since`` (time.monotonic())."""
    child.expect_exact(text)
    return time.monotonic() - since


CPR_REQUEST = "\x1b[6n"


def expect_answering_cpr(child: Any, text: str, timeout: float = -1) -> None:
    """Wait for ``text``, answering prompt_toolkit's cursor-position requests as a terminal does.

    The bottom toolbar is drawn only once prompt_toolkit knows the screen
    below the cursor (spawn with PROMPT_TOOLKIT_NO_CPR="0" for it).
    """
    while child.expect_exact([CPR_REQUEST, text], timeout=timeout) == 0:
        child.send("\x1b[1;1R")
