"""A second node while one runs (issue 10, defect 12): free ports are picked; -i keeps the prompt after a failure."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.console_helpers import ANYNODE, env, spawn

ROOT = Path(__file__).resolve().parent.parent
FREE_PORTS = ROOT / "scripts" / "lib" / "free_ports.py"

pexpect = pytest.importorskip("pexpect")


def _free_ports(tcp: int, rest: int) -> tuple[int, int]:
    out = subprocess.run([sys.executable, str(FREE_PORTS), "127.0.0.1", str(tcp), str(rest)], capture_output=True,
                         text=True, timeout=10, check=True)
    a, b = out.stdout.split()
    return int(a), int(b)


def _listening() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def test_free_ports_keeps_free_defaults_and_moves_past_taken_ones() -> None:
    taken = _listening()
    try:
        port = taken.getsockname()[1]
        tcp, rest = _free_ports(port, port + 1)
        assert (tcp, rest) == (port + 10, port + 11) or (tcp - port) % 10 == 0 and tcp > port
        probe = _listening()
        free = probe.getsockname()[1]
        probe.close()
        assert _free_ports(free, free)[0] == free
    finally:
        taken.close()


def test_second_standalone_node_on_another_home_starts_on_the_ports_picked_for_it(tmp_path: Path) -> None:
    probe = _listening()
    base = probe.getsockname()[1]
    probe.close()
    first_tcp, first_rest = _free_ports(base, base + 1)
    script = ROOT / "commands" / "standalone.al"
    first = subprocess.Popen([*ANYNODE, "process", str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env=env(tmp_path / "one", ANYLOG_SERVER_PORT=str(first_tcp),
                                                ANYLOG_REST_PORT=str(first_rest)))
    try:
        assert first.stdout is not None
        said = []
        while not said or ("is up" not in said[-1] and said[-1]):  # the script's last line, or EOF
            said.append(first.stdout.readline())
        assert "is up" in said[-1], said
        second_tcp, second_rest = _free_ports(first_tcp, first_rest)
        assert (second_tcp, second_rest) != (first_tcp, first_rest)
        second = subprocess.run([*ANYNODE, "-e", f"process {script}", "-e", "get processes"], capture_output=True,
                                text=True, timeout=20,
                                env=env(tmp_path / "two", ANYLOG_SERVER_PORT=str(second_tcp),
                                        ANYLOG_REST_PORT=str(second_rest)))
        assert second.returncode == 0, second.stderr
        assert "Address already in use" not in second.stderr
        assert f"127.0.0.1:{second_rest}" in second.stdout
    finally:
        first.terminate()
        first.wait(timeout=15)
        if first.stdout is not None:
            first.stdout.close()


def test_interactive_keeps_the_prompt_open_after_a_failed_command(tmp_path: Path) -> None:
    taken = _listening()
    try:
        port = taken.getsockname()[1]
        child = spawn(tmp_path / "home", "-i", "-e",
                      f"run rest server where internal_ip = 127.0.0.1 and internal_port = {port}")
        try:
            child.expect_exact("error:")
            child.expect_exact("AN anynode >")
            child.sendline("echo still !node_name")
            child.expect_exact("still anynode")
            child.expect_exact("AN anynode >")
            child.sendline("exit node")
            child.expect(pexpect.EOF)
        finally:
            child.close(force=True)
    finally:
        taken.close()
