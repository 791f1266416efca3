"""The ready-to-run node scripts in commands/: they lint clean and standalone.al really starts a node."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "commands").glob("*.al"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_commands_script_passes_check(script: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "anynode", "check", str(script)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def readme_curl_lines() -> list[str]:
    """The curl commands of the README's REST section, continuation lines joined."""
    text = (ROOT / "README.md").read_text().split("## Applications (REST)", 1)[1]
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    return [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip().startswith("curl")]


def check_readme_curl_examples(port: int, home: Path) -> None:
    lines = readme_curl_lines()
    assert len(lines) >= 5
    for line in lines:
        out = subprocess.run(line.replace("32549", str(port)) + " -s -S -f", shell=True, capture_output=True,
                             text=True, timeout=30)
        assert out.returncode == 0, f"{line}: {out.stderr}"
        assert out.stdout.strip(), line
    deadline = time.monotonic() + 20
    while True:  # the PUT example's row goes through the watch directory into the operator's database
        reply = httpx.get(f"http://127.0.0.1:{port}/", timeout=10,
                          headers={"command": 'sql demo format = json "select sensor, value from readings"'})
        if reply.status_code == 200 and reply.json()["Query"] == [{"sensor": "s1", "value": 3.5}]:
            break
        assert time.monotonic() < deadline, reply.text
        time.sleep(0.1)


def test_standalone_script_starts_a_node_that_answers_rest_and_stops_on_sigterm(tmp_path: Path) -> None:
    tcp, rest = free_port(), free_port()
    env = dict(os.environ, ANYNODE_HOME=str(tmp_path / "home"), NODE_NAME="solo",
               ANYLOG_SERVER_PORT=str(tcp), ANYLOG_REST_PORT=str(rest))
    proc = subprocess.Popen([sys.executable, "-m", "anynode", "process", str(ROOT / "commands" / "standalone.al")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        line = ""
        while time.monotonic() < deadline and "is up" not in line:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert f"REST http://127.0.0.1:{rest}" in line
        reply = httpx.get(f"http://127.0.0.1:{rest}/", headers={"command": "get status"}, timeout=10)
        assert reply.text == f"solo@127.0.0.1:{tcp} running"
        if shutil.which("curl"):
            check_readme_curl_examples(rest, tmp_path / "home")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
