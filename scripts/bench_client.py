#!/usr/bin/env python3
"""`run client` round trips per second between two nodes, beside the bare frame round trip.

Node B runs `run tcp server` in a separate process; node A (this process)
runs `run client (B) get status` in a loop, sequentially and from 8 threads.
The limit measured in the same run: the same peer answering the same command
through a bare NetClient.send_command (no parsing, no result objects on A).

    .venv/bin/python scripts/bench_client.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rate(fn, seconds: float, threads: int) -> float:
    """Calls of fn per second over `seconds`, from `threads` threads."""
    stop = time.monotonic() + seconds
    counts = [0] * threads

    def loop(i: int) -> None:
        while time.monotonic() < stop:
            fn()
            counts[i] += 1

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="anynode-bench-client-"))
    script = tmp / "b.al"
    script.write_text("set node name b\nrun tcp server where internal_ip = 127.0.0.1 and internal_port = 0 "
                      "and bind = true and threads = 8\n")
    env = dict(os.environ, ANYNODE_HOME=str(tmp / "b"))
    peer = subprocess.Popen([sys.executable, "-m", "anynode", "process", str(script)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = ""
        while not address:
            line = peer.stdout.readline() if peer.stdout else ""
            if not line:
                raise SystemExit("the peer node did not start")
            found = re.search(r"Listening on: (127\.0\.0\.1:\d+)", line)
            address = found.group(1) if found else ""
        import anynode.assembly  # noqa: F401  (declares every command)
        from anynode.node import Node

        node = Node(tmp / "a")
        try:
            command = f"run client ({address}) get status"
            client = node.client()
            node.execute(command)
            print(f"peer {address}; {args.seconds:g} s per measurement")
            for threads in (1, 8):
                raw = rate(lambda: client.send_command(address, "get status"), args.seconds, threads)
                ours = rate(lambda: node.execute(command), args.seconds, threads)
                print(f"{threads} caller(s): run client {ours:8,.0f}/s   bare frame round trip {raw:8,.0f}/s"
                      f"   ratio {ours / raw:.2f}")
        finally:
            node.close()
    finally:
        peer.terminate()
        peer.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
