#!/usr/bin/env python3
"""Ingest throughput of a running node beside the raw limit, measured in the same run.

* operator   - F files x R rows moved into the watch directory of an in-process
               node running `run operator`; time from the first file to the last
               row committed (polled with a read-only count).
* raw        - the same files through the minimal loop: orjson + sqlite3
               executemany, one transaction per file, WAL (scripts/bench_ingest_pipeline.py).
* put_rows   - the same rows handed to put_rows (what the REST PUT handler calls),
               mode file (through the watch directory) and mode streaming
               (buffered, flushed into the pipeline); time until all are queryable.
* --big      - peak RSS of a node process ingesting a ~1 GB JSON-lines file (target < 200 MB).

    .venv/bin/python scripts/bench_ingest.py [--files 20] [--rows 10000] [--threads 4] [--rounds 3]
                                             [--big [--big-mb 1024]]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_ingest_pipeline import make_files, raw_loop  # noqa: E402


def rows_in(db: Path, table: str) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute(f"select count(*) from {table}").fetchone()[0])
    except sqlite3.Error:
        return 0


def wait_rows(db: Path, table: str, total: int, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while rows_in(db, table) < total:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {rows_in(db, table)} of {total} rows after {timeout:g} s")
        time.sleep(0.01)
    return time.perf_counter()


def through_operator(paths: list[Path], work: Path, total: int, threads: int = 1) -> float:
    import anynode.assembly  # noqa: F401  (declares every command)
    from anynode.node import Node

    node = Node(work / f"node-{threads}-{time.monotonic_ns()}")
    try:
        node.execute("connect dbms bench where type = sqlite")
        node.execute(f"run operator where compress_json = false and threads = {threads}")
        watch = Path(node.get_var("watch_dir") or "")
        staged = []
        for p in paths:  # same file system as the watch dir, so moving in is a rename
            target = work / "staged" / p.name
            target.parent.mkdir(exist_ok=True)
            shutil.copy(p, target)
            staged.append(target)
        db = Path(node.get_var("dbms_dir") or "") / "bench.dbms"
        operator = node.services.get("Operator")
        t0 = time.perf_counter()
        for p in staged:
            os.rename(p, watch / p.name)
        while operator.stats.rows < total:  # counted after each file's commit; no reader competes
            if operator.stats.errors:
                raise SystemExit(f"operator refused a file: {operator.stats.last_error}")
            time.sleep(0.002)
        elapsed = time.perf_counter() - t0
        assert rows_in(db, "sensor") == total
        return elapsed
    finally:
        node.close()


def through_put_rows(paths: list[Path], work: Path, total: int, mode: str) -> float:
    """put_rows (the REST PUT entry, no HTTP) for every file's bytes; seconds until all rows are queryable."""
    import anynode.assembly  # noqa: F401  (declares every command)
    from anynode.node import Node
    from anynode.rest.ingest import put_rows

    node = Node(work / f"put-{mode}")
    try:
        node.execute("create work directories")
        node.execute("connect dbms bench where type = sqlite")
        if mode == "file":
            node.execute("run operator where compress_json = false")
        node.execute("set buffer threshold where time = 0.2 seconds and volume = 4MB")
        bodies = [p.read_bytes() for p in paths]
        db = Path(node.get_var("dbms_dir") or "") / "bench.dbms"
        t0 = time.perf_counter()
        for body in bodies:
            put_rows(node, "bench", "sensor", mode, body)
        return wait_rows(db, "sensor", total) - t0
    finally:
        node.close()


def rss_child(path: str) -> None:
    """Child process: a node ingests one big file; prints its peak RSS in MB."""
    import anynode.assembly  # noqa: F401  (declares every command)
    from anynode.node import Node

    work = Path(path).parent
    node = Node(work / "node")
    try:
        node.execute("connect dbms big where type = sqlite")
        node.execute("run operator where compress_json = false")
        lines = int(Path(path + ".lines").read_text())
        operator = node.services.get("Operator")
        os.rename(path, Path(node.get_var("watch_dir") or "") / Path(path).name)
        t0 = time.perf_counter()
        while operator.stats.rows < lines:  # the operator's own count: no reader adds to the memory measured
            if operator.stats.errors:
                raise SystemExit(f"the big file failed: {operator.stats.last_error}")
            time.sleep(0.05)
        seconds = time.perf_counter() - t0
    finally:
        node.close()
    print(f"{peak_rss_mb():.0f} {seconds:.1f}")


def peak_rss_mb() -> float:
    """This process's peak RSS in MB: VmHWM, which starts afresh at exec.

    ru_maxrss does not: Linux carries the forked parent's high-water mark
    across exec into it, so a child of a big benchmark process would report
    the parent's memory as its own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def big_rss(work: Path, megabytes: int) -> None:
    import orjson

    path = work / "big.lines.json"
    line = {"timestamp": "2026-01-01T00:00:00Z", "device": "dev-42", "value": 12.345, "count": 123456,
            "status": "ok", "note": "x" * 40}
    n = 0
    with open(path, "wb") as fh:
        while fh.tell() < megabytes * 2**20:
            chunk = b"".join(orjson.dumps(dict(line, count=n + i)) + b"\n" for i in range(10_000))
            fh.write(chunk)
            n += 10_000
    Path(str(path) + ".lines").write_text(str(n))
    size = path.stat().st_size / 2**20
    out = subprocess.run([sys.executable, __file__, "--rss-child", str(path)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    peak, seconds = out.stdout.split()
    print(f"big file  : {size:,.0f} MB, {n:,} rows ingested in {float(seconds):.1f} s "
          f"({n / float(seconds):,.0f} rows/s); peak RSS {peak} MB (target < 200 MB) "
          f"-> {'met' if float(peak) < 200 else 'NOT met'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=4, help="also the operator with this many threads (1: skip)")
    parser.add_argument("--big", action="store_true", help="also the ~1 GB file peak-RSS run (about a minute)")
    parser.add_argument("--big-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3, help="best of N, raw and operator interleaved")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child)
        return 0
    work = Path(tempfile.mkdtemp(prefix="anynode-bench-ingest-"))
    try:
        paths = make_files(work, args.files, args.rows)
        total = args.files * args.rows
        raw = op = float("inf")
        for i in range(args.rounds):  # interleaved: a shared machine's load falls on both sides
            raw = min(raw, raw_loop(paths, work / f"raw{i}.db")[0])
            op = min(op, through_operator(paths, work, total))
        n = args.rounds
        print(f"{args.files} files x {args.rows:,} rows = {total:,} rows")
        print(f"raw loop  : {total / raw:10,.0f} rows/s  ({raw:.2f} s, best of {n})")
        print(f"operator  : {total / op:10,.0f} rows/s  ({op:.2f} s, watch dir to committed, best of {n})  "
              f"ratio {raw / op:.2f} (target >= 0.6)")
        if args.threads > 1:
            opt = min(through_operator(paths, work, total, args.threads) for _ in range(n))
            print(f"operator threads = {args.threads}: {total / opt:10,.0f} rows/s  ({opt:.2f} s)  "
                  f"ratio {raw / opt:.2f}")
        for mode in ("file", "streaming"):
            t = through_put_rows(paths, work, total, mode)
            print(f"put_rows {mode:<9}: {total / t:10,.0f} rows/s until queryable ({t:.2f} s)")
        if args.big:
            big_rss(work, args.big_mb)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
