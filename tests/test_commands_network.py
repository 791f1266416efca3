"""commands/master.al, operator.al and query.al bring up a three-node network on loopback (README: A network)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from anynode.node import Node
from tests.helpers import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent


def start(role: str, home: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """``anynode process commands/<role>.al``, returned once it printed its "is up" line."""
    proc = subprocess.Popen([sys.executable, "-m", "anynode", "process", str(ROOT / "commands" / f"{role}.al")],
                            env=dict(os.environ, ANYNODE_HOME=str(home), SYNC_TIME="1", **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    line = ""
    while "is up" not in line:
        line = proc.stdout.readline()
        if (not line and proc.poll() is not None) or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{role} did not start: {proc.stderr.read() if proc.stderr else ''}")
    return proc


def test_the_three_scripts_make_a_network_that_agrees_on_its_policies(tmp_path: Path) -> None:
    ports = {role: (free_port(), free_port()) for role in ("master", "operator", "query")}
    ledger = f"127.0.0.1:{ports['master'][0]}"
    procs: list[subprocess.Popen[str]] = []
    asker = Node(tmp_path / "asker")
    try:
        for role, (tcp, rest) in ports.items():
            procs.append(start(role, tmp_path / role, {"ANYLOG_SERVER_PORT": str(tcp), "ANYLOG_REST_PORT": str(rest),
                                                       "LEDGER_CONN": ledger}))
        dests = ", ".join(f"127.0.0.1:{tcp}" for tcp, _ in ports.values())

        def versions() -> set[str]:
            reply = asker.execute(f"run client ({dests}) get metadata version").to_json()
            return set(reply.values())

        wait_until(lambda: len(versions()) == 1, timeout=5, what="one metadata version on the three nodes")
        found = asker.execute(f"run client (127.0.0.1:{ports['query'][0]}) blockchain get * bring [*] separator = ,")
        kinds = sorted(found.to_json()[f"127.0.0.1:{ports['query'][0]}"].split(","))
        assert kinds == ["cluster", "master", "operator", "query"]
    finally:
        asker.close()
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
