"""The walkthroughs in examples/ run as documented."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = str(Path(sys.executable).parent)


def run_example(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


@pytest.mark.skipif(not Path(BIN, "anynode").exists(), reason="the anynode command is not installed in this venv")
def test_example_ingest_shows_rows_and_the_refused_file() -> None:
    out = run_example("bash", "examples/ingest.sh")
    assert out.returncode == 0, out.stderr
    assert "s1      21.5" in out.stdout and "s2      19.0" in out.stdout
    assert "code: 67" in out.stdout and "demo.broken.err_67." in out.stdout


@pytest.mark.skipif(not Path(BIN, "anynode").exists(), reason="the anynode command is not installed in this venv")
def test_example_two_nodes_ask_send_and_read_back() -> None:
    out = run_example("bash", "examples/two_nodes.sh")
    assert out.returncode == 0, out.stderr
    assert "op1@127.0.0.1:" in out.stdout and "58 bytes delivered" in out.stdout
    assert '"sensor": "s2"' in out.stdout


def test_example_rest_client_against_a_standalone_node(tmp_path: Path) -> None:
    from tests.helpers import free_port

    tcp, rest = free_port(), free_port()
    env = dict(os.environ, ANYNODE_HOME=str(tmp_path / "home"), ANYLOG_SERVER_PORT=str(tcp),
               ANYLOG_REST_PORT=str(rest))
    node = subprocess.Popen([sys.executable, "-m", "anynode", "process", "commands/standalone.al"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert node.stdout is not None
        while "is up" not in (line := node.stdout.readline()):
            assert line, "the node did not start"
        out = run_example(sys.executable, "examples/rest_client.py", f"http://127.0.0.1:{rest}")
        assert out.returncode == 0, out.stderr
        assert "running" in out.stdout and "'AnyLog.status': 'Success'" in out.stdout
        assert "[{'sensor': 't1', 'value': 20.5}, {'sensor': 't2', 'value': 22.0}]" in out.stdout
    finally:
        node.terminate()
        node.wait(15)
