#!/usr/bin/env python3
"""Metadata speed: `blockchain get operator where ... bring ...` per second over a ledger of N policies,
and the time of one `run blockchain sync` of that ledger, beside a plain json.loads of the same ledger
file, measured in the same run.

The ledger is written once (N operator policies of 100 clusters, as the deployment scripts shape them);
then, alternating so machine load falls on both sides, best of --rounds:
  - load:   a fresh node reading the ledger file (parse and freeze) vs json.loads of every line;
  - query:  `blockchain get operator where cluster = <id> bring.ip_port` through Node.execute
            vs a plain Python loop over the json.loads'ed list doing the same filter and join;
  - sync:   a member with an empty ledger syncing from a master (in this process, over TCP on
            127.0.0.1) that holds the same N policies in its ledger table: fetch in chunks, md5 check,
            atomic swap, reload; and a sync when the member is up to date (one round trip).

    .venv/bin/python scripts/bench_metadata.py [--policies 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path


def make_ledger(path: Path, n: int) -> list[str]:
    """Write n operator policies (one per line, EdgeLake's spelling); return the cluster ids used."""
    clusters = [f"{i:032x}" for i in range(100)]
    with path.open("w") as f:
        for i in range(n):
            cluster = clusters[i % len(clusters)]
            policy = {"operator": {"company": "acme", "name": f"op{i}", "cluster": cluster,
                                   "ip": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}", "port": 32148,
                                   "rest_port": 32149, "member": i % 255 + 1, "id": f"{i:032x}",
                                   "date": "2026-12-01T00:00:00.000000Z", "ledger": "global"}}
            f.write(json.dumps(policy, separators=(", ", ": ")) + "\n")
    return clusters


def best(fn, rounds: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=50, help="queries per timed round")
    args = parser.parse_args()

    import anynode.assembly  # noqa: F401  (declares every command)
    from anynode.metadata.ledger import ledger
    from anynode.node import Node

    home = Path(tempfile.mkdtemp(prefix="anynode-bench-meta-"))
    node = Node(home / "node")
    path = Path(str(node.get_var("blockchain_file")))
    path.parent.mkdir(parents=True, exist_ok=True)
    clusters = make_ledger(path, args.policies)
    size_mb = path.stat().st_size / 1e6

    def raw_load() -> list[dict]:  # type: ignore[type-arg]
        with path.open() as f:
            return [json.loads(line) for line in f if line.strip()]

    def node_load() -> None:
        fresh = Node(home / f"n{time.perf_counter_ns()}")
        fresh.set_var("blockchain_file", str(path))
        ledger(fresh).policies()
        fresh.close()

    plain = raw_load()

    def raw_query() -> None:
        for q in range(args.queries):
            cluster = clusters[q % len(clusters)]
            ",".join(f"{p['operator']['ip']}:{p['operator']['port']}" for p in plain
                     if "operator" in p and p["operator"].get("cluster") == cluster)

    def node_query() -> None:
        for q in range(args.queries):
            node.execute(f"blockchain get operator where cluster = {clusters[q % len(clusters)]} bring.ip_port")

    ledger(node).policies()  # first load out of the timing
    master, member, sync = sync_pair(home, path)
    results = {"load raw": [], "load anynode": [], "query raw": [], "query anynode": [],  # type: ignore[var-annotated]
               "sync": [], "sync same": []}
    for _ in range(args.rounds):
        results["load raw"].append(best(raw_load, 1))
        results["load anynode"].append(best(node_load, 1))
        results["query raw"].append(best(raw_query, 1) / args.queries)
        results["query anynode"].append(best(node_query, 1) / args.queries)
        ledger(member).swap(b"")  # out of date again (out of the timing)
        results["sync"].append(best(sync, 1))
        results["sync same"].append(best(sync, 1))
    assert ledger(member).version() == hashlib.md5(path.read_bytes()).hexdigest()
    for n in (member, master, node):
        n.close()

    got = {k: min(v) for k, v in results.items()}
    print(f"ledger: {args.policies:,} operator policies, {size_mb:.1f} MB; best of {args.rounds}")
    print(f"load   json.loads per line   {got['load raw'] * 1e3:8.1f} ms")
    print(f"load   anynode ledger        {got['load anynode'] * 1e3:8.1f} ms   "
          f"ratio {got['load raw'] / got['load anynode']:.2f} of the raw loop")
    print(f"query  plain Python filter   {1 / got['query raw']:8.0f} /s")
    print(f"query  blockchain get ...    {1 / got['query anynode']:8.0f} /s   "
          f"ratio {got['query raw'] / got['query anynode']:.2f} of the raw loop")
    print(f"sync   whole ledger          {got['sync'] * 1e3:8.1f} ms   "
          f"{got['sync'] / got['load raw']:.2f} x json.loads of the file")
    print(f"sync   already up to date    {got['sync same'] * 1e3:8.1f} ms")
    return 0


def sync_pair(home: Path, path: Path):  # type: ignore[no-untyped-def]
    """A master holding the ledger file's policies in its table (TCP on 127.0.0.1:0), a member, and its sync."""
    import re

    from anynode.metadata import master as table
    from anynode.metadata.sync import SyncConfig, SyncService
    from anynode.node import Node

    master = Node(home / "master")
    master.execute("connect dbms blockchain where type = sqlite")
    master.execute("blockchain create table")
    table.push(master.catalog, [json.loads(line) for line in path.read_text().splitlines()], "127.0.0.1")
    text = master.execute("run tcp server where internal_ip = 127.0.0.1 and internal_port = 0 and bind = true")
    found = re.search(r"127\.0\.0\.1:\d+", text.to_text())
    assert found, text.to_text()
    member = Node(home / "member")
    service = SyncService(member, SyncConfig("master", 3600.0, found.group()))

    def sync() -> None:
        if not service.sync_once():
            raise RuntimeError(f"sync failed: {service.stats.last_error}")

    return master, member, sync


if __name__ == "__main__":
    raise SystemExit(main())
