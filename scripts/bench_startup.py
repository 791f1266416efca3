#!/usr/bin/env python3
"""Start-up time of a one-shot command: `anynode -e "get status"` beside `python -c pass`.

Both run N times in the same session, alternating, each a fresh process; the
median of each and their difference and ratio are printed. Target: anynode's
median under 0.3 s on the CI machine.

    .venv/bin/python scripts/bench_startup.py [-n 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="runs of each (default 30)")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="anynode-bench-")
    env = dict(os.environ, ANYNODE_HOME=home)
    exe = shutil.which("anynode", path=os.path.dirname(sys.executable)) or ""
    anynode = [exe] if exe else [sys.executable, "-m", "anynode"]
    anynode += ["-e", "get status"]
    baseline = [sys.executable, "-c", "pass"]
    timed(anynode, env)  # warm the page cache and .pyc files
    a, b = [], []
    for _ in range(args.n):
        a.append(timed(anynode, env))
        b.append(timed(baseline, env))
    shutil.rmtree(home, ignore_errors=True)
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"runs: {args.n} each, alternating")
    print(f"anynode -e 'get status'  median {ma * 1000:7.1f} ms   p90 {sorted(a)[int(0.9 * len(a))] * 1000:7.1f} ms")
    print(f"python -c pass           median {mb * 1000:7.1f} ms   p90 {sorted(b)[int(0.9 * len(b))] * 1000:7.1f} ms")
    print(f"anynode's own start-up   {(ma - mb) * 1000:7.1f} ms   ratio {ma / mb:.2f}x the bare interpreter")
    print(f"target: median under 300 ms -> {'met' if ma < 0.3 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
