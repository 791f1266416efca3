"""A node in its own process for the metadata network tests: `anynode process` on a script, its TCP address."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path


class NodeProcess:
    """``anynode process start.al`` on ``home``; the script must start a TCP server on 127.0.0.1 (port 0 is fine)."""

    def __init__(self, home: Path, script: str) -> None:
        home.mkdir(parents=True, exist_ok=True)
        path = home / "start.al"
        path.write_text(script)
        self.home = home
        env = dict(os.environ, ANYNODE_HOME=str(home))
        self.proc = subprocess.Popen([sys.executable, "-m", "anynode", "process", str(path)], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 20
        self.address = ""
        while time.monotonic() < deadline and not self.address:
            line = self.proc.stdout.readline()
            found = re.search(r"Listening on: (127\.0\.0\.1:\d+)", line)
            if found:
                self.address = found.group(1)
            elif not line and self.proc.poll() is not None:
                break
        if not self.address:
            self.kill()
            raise AssertionError(f"node did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")

    def kill(self) -> None:
        """SIGKILL it (no clean stop) and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def run_on(home: Path, command: str) -> str:
    """Run one command on a fresh node process over ``home`` (``anynode -e``); its output (an error fails)."""
    env = dict(os.environ, ANYNODE_HOME=str(home))
    out = subprocess.run([sys.executable, "-m", "anynode", "-e", command], env=env, capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr or out.stdout
    return out.stdout.strip()
