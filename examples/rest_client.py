#!/usr/bin/env python3
"""Drive a node over REST with the standard library only.

    python examples/rest_client.py                          # starts a throwaway node, drives it, stops it
    python examples/rest_client.py http://127.0.0.1:32549   # drives the node you started (scripts/start)

The node needs `run rest server`, a connected `demo` database and `run
operator` (commands/standalone.al starts all three). Each run sends rows
tagged with its own run number, so running it again against the same node
adds new rows instead of sending the same file twice (which the node would
refuse as a duplicate, code 86).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path


def call(base: str, method: str, headers: dict[str, str], body: bytes | None = None) -> bytes:
    request = urllib.request.Request(base + "/", data=body, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.read()


def drive(base: str) -> int:
    print(call(base, "GET", {"command": "get status"}).decode())
    run = time.time_ns()
    rows = [{"run": run, "sensor": "t1", "value": 20.5}, {"run": run, "sensor": "t2", "value": 22.0}]
    put = call(base, "PUT", {"type": "json", "dbms": "demo", "table": "rest_readings", "mode": "file"},
               json.dumps(rows).encode())
    print(json.loads(put))
    query = {"command": f'sql demo format = json "select sensor, value from rest_readings where run = {run} '
                        'order by sensor"'}
    deadline = time.monotonic() + 20
    while True:  # the rows travel through the watch directory and the operator
        try:
            answer = json.loads(call(base, "GET", query))
            if len(answer["Query"]) == len(rows):
                break
        except urllib.error.HTTPError:  # the table does not exist yet
            pass
        if time.monotonic() > deadline:
            print("the rows did not arrive", file=sys.stderr)
            return 1
        time.sleep(0.2)
    print(answer["Query"])
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_throwaway_node() -> int:
    """Start commands/standalone.al in a temporary home on free ports, drive it, stop it."""
    script = Path(__file__).resolve().parent.parent / "commands" / "standalone.al"
    rest = free_port()
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, ANYNODE_HOME=home, ANYLOG_SERVER_PORT=str(free_port()), ANYLOG_REST_PORT=str(rest))
        node = subprocess.Popen([sys.executable, "-m", "anynode", "process", str(script)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert node.stdout is not None
            while "is up" not in (line := node.stdout.readline()):
                if not line:
                    print("the node did not start", file=sys.stderr)
                    return 1
            return drive(f"http://127.0.0.1:{rest}")
        finally:
            node.terminate()
            node.wait(15)


if __name__ == "__main__":
    sys.exit(drive(sys.argv[1]) if len(sys.argv) > 1 else with_throwaway_node())
