#!/usr/bin/env python3
"""Ingest speed into a table partitioned by day beside the same table unpartitioned, measured in the same run.

F files x R rows spanning 30 days (in time order, as devices send them) go
through the ingest pipeline (``ingest_file``, what the operator calls) into
one table of a fresh database: once unpartitioned, once declared with
``partition bench sensor using timestamp by 1 day``. The two sides alternate
(a shared machine's load falls on both); each figure is the best of N.

    .venv/bin/python scripts/bench_partition.py [--files 20] [--rows 10000] [--rounds 3]
                                                 [--kind sqlite|psql|both] [--column timestamp|insert_timestamp]

PostgreSQL needs ANYNODE_TEST_PG (postgresql://user:password@host:port/db).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from anynode.ingest.pipeline import ingest_file  # noqa: E402
from anynode.store.catalog import DatabaseCatalog  # noqa: E402
from anynode.store.partitions import PartitionSpec  # noqa: E402
from anynode.store.pg_backend import PostgresBackend  # noqa: E402

DAYS = 30


def make_files(directory: Path, files: int, rows: int) -> list[Path]:
    """``files`` JSON files of ``rows`` rows each, timestamps spread evenly over 30 days in order."""
    rnd = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    step = DAYS * 86400 / (files * rows)
    paths = []
    for f in range(files):
        data = [{"timestamp": (start + timedelta(seconds=(f * rows + i) * step)).isoformat(timespec="seconds"),
                 "device": f"dev-{rnd.randrange(100)}", "value": round(rnd.uniform(-50, 50), 3),
                 "count": rnd.randrange(10**6), "status": rnd.choice(["ok", "warn", "fail"])}
                for i in range(rows)]
        path = directory / f"bench.sensor.{f}.json"
        path.write_bytes(orjson.dumps(data))
        paths.append(path)
    return paths


def pg_login() -> dict[str, object]:
    url = os.environ.get("ANYNODE_TEST_PG")
    if not url:
        raise SystemExit("--kind psql needs ANYNODE_TEST_PG=postgresql://user:password@host:port/db")
    u = urlsplit(url)
    return {"user": u.username, "password": u.password, "host": u.hostname or "127.0.0.1", "port": u.port or 5432}


def one_run(paths: list[Path], work: Path, kind: str, spec: PartitionSpec | None) -> tuple[float, float, int]:
    """Wall and CPU seconds (this process, every thread) to ingest every file into a fresh database,
    and the partitions made."""
    catalog = DatabaseCatalog(work / f"dbms-{uuid.uuid4().hex[:8]}")
    name = "bench" if kind == "sqlite" else f"bench_{uuid.uuid4().hex[:10]}"
    catalog.connect(name, "sqlite") if kind == "sqlite" else catalog.connect(name, "psql", **pg_login())
    backend = catalog.get(name).backend
    try:
        if spec is not None:
            catalog.partitions.declare(name, "sensor", spec)
        t0, c0 = time.perf_counter(), time.process_time()
        for p in paths:
            ingest_file(p, catalog, name=None if kind == "sqlite" else _renamed(p, name))
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        parts = sum(1 for t in catalog.tables(name) if t.startswith("par_"))
        return seconds, cpu, parts
    finally:
        catalog.close()
        if isinstance(backend, PostgresBackend):
            drop(backend)


def drop(backend: PostgresBackend) -> None:
    """Drop the benchmark's database; autovacuum may hold it a moment (FORCE cannot end a superuser's worker)."""
    for attempt in range(10):
        try:
            backend.drop_database()
            return
        except Exception:  # noqa: BLE001  (psycopg's error: try again shortly)
            if attempt == 9:
                raise
            time.sleep(0.5)


def _renamed(path: Path, dbms: str) -> object:
    from anynode.ingest.naming import FileName

    return FileName.parse(path.name.replace("bench.", f"{dbms}.", 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="best of N, the two sides alternating")
    parser.add_argument("--kind", choices=["sqlite", "psql", "both"], default="sqlite")
    parser.add_argument("--column", default="timestamp", help="the partition column (timestamp or insert_timestamp)")
    args = parser.parse_args()
    kinds = ["sqlite", "psql"] if args.kind == "both" else [args.kind]
    spec = PartitionSpec.parse(args.column, "1 day")
    work = Path(tempfile.mkdtemp(prefix="anynode-bench-partition-"))
    paths = make_files(work, args.files, args.rows)
    total = args.files * args.rows
    print(f"{args.files} files x {args.rows:,} rows = {total:,} rows over {DAYS} days; "
          f"partitioned by {args.column} every day; load average {_load()} on {os.cpu_count()} cores")
    for kind in kinds:
        best = {"plain": [float("inf")] * 2, "part": [float("inf")] * 2}
        made = 0
        pairs = []  # each round's plain / partitioned wall time: the two ran one right after the other
        for i in range(args.rounds):
            sides = [None, spec] if i % 2 == 0 else [spec, None]
            walls = {}
            for side in sides:
                seconds, cpu, parts = one_run(paths, work, kind, side)
                key = "plain" if side is None else "part"
                walls[key] = seconds
                best[key] = [min(best[key][0], seconds), min(best[key][1], cpu)]
                made = max(made, parts)
            pairs.append(walls["plain"] / walls["part"])
        (plain, plain_cpu), (part, part_cpu) = best["plain"], best["part"]
        print(f"{kind:6} unpartitioned: {total / plain:10,.0f} rows/s ({plain:.2f} s wall, {plain_cpu:.2f} s CPU, "
              f"best of {args.rounds})")
        print(f"{kind:6} partitioned  : {total / part:10,.0f} rows/s ({part:.2f} s wall, {part_cpu:.2f} s CPU, "
              f"best of {args.rounds}, {made} partitions)")
        print(f"{kind:6} ratio partitioned/unpartitioned: {plain / part:.2f} by wall time, "
              f"{plain_cpu / part_cpu:.2f} by CPU time (target >= 0.90)")
        print(f"{kind:6} the same, round by round (each pair run back to back): {pair_ratios(pairs)}")
    print(f"load average {_load()}")
    return 0


def pair_ratios(ratios: list[float]) -> str:
    """The back-to-back pairs' ratios: their median, middle half (from 4 pairs on) and range."""
    middle = ""
    if len(ratios) >= 4:
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        middle = f", middle half {q1:.2f}-{q3:.2f}"
    return f"median {statistics.median(ratios):.2f}{middle}, all {min(ratios):.2f}-{max(ratios):.2f}"


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    raise SystemExit(main())
