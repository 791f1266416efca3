"""The ledger under stress: a writer SIGKILLed mid-rewrite leaves a valid ledger; readers hammering during
100 rewrites (in this process and from another process) never see an empty or partial list."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from anynode.metadata.ledger import Ledger

ROOT = Path(__file__).resolve().parent.parent

#: Run in a child process: rewrite the ledger at argv[1] for ever (mode "insert" or "swap"), printing "ready".
WRITER = r"""
import json, sys
from anynode.metadata.ledger import Ledger
path, mode, rounds, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
book = Ledger(lambda: path)
def generation(tag, n):
    return b"".join(json.dumps({"master": {"id": f"{tag}{i}", "pad": "x" * 2000}}).encode() + b"\n" for i in range(n))
A, B = generation("a", size), generation("b", size * 2 // 3)
book.swap(A)
print("ready", flush=True)
n = 0
while rounds < 0 or n < rounds:
    n += 1
    if mode == "swap":
        book.swap(B if n % 2 else A)
    else:
        book.insert({"query": {"id": f"q{n}", "name": f"q{n}"}})
print("done", flush=True)
"""


def _writer(path: Path, mode: str, rounds: int = -1, size: int = 1500) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), mode, str(rounds), str(size)],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _temps(path: Path) -> list[str]:
    return [p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.") and p.name.endswith(".tmp")]


def _kill_during_writes(path: Path, mode: str, rng: random.Random) -> bool:
    """Start a writer, SIGKILL it at a random moment; True when it died inside a rewrite (a temp file is left)."""
    proc = _writer(path, mode)
    time.sleep(rng.uniform(0.02, 0.25))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.stdout is not None
    proc.stdout.close()
    return bool(_temps(path))


def test_crash_writer_killed_during_swaps_restarts_with_a_whole_generation(tmp_path: Path) -> None:
    path = tmp_path / "blockchain.json"
    rng = random.Random(7)
    mid_write = rounds = 0
    while mid_write < 3 and rounds < 12:  # until three kills landed inside a rewrite (most do)
        rounds += 1
        mid_write += _kill_during_writes(path, "swap", rng)
        policies = Ledger(lambda: str(path)).policies()  # a restarted node's first load
        tags = {p["master"]["id"][0] for p in policies}
        assert (len(policies), len(tags)) in ((1500, 1), (1000, 1)), (len(policies), tags)
        assert not _temps(path), "the first load removes what the killed writer left"
    assert mid_write, "no kill landed inside a rewrite: the test did not test anything"


def test_crash_writer_killed_during_inserts_keeps_every_policy_it_reported(node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "blockchain.json"
    rng = random.Random(11)
    for _ in range(4):
        _kill_during_writes(path, "insert", rng)
        node.set_var("blockchain_file", str(path))
        node.execute("blockchain reload metadata")
        assert node.execute("blockchain test").to_text() == "Blockchain file status: OK"
        policies = json.loads(node.execute("blockchain get *").to_text())
        assert [p["master"]["id"] for p in policies[:1500]] == [f"a{i}" for i in range(1500)]
        queries = [p["query"]["id"] for p in policies[1500:]]
        assert queries == [f"q{n}" for n in range(1, len(queries) + 1)]  # a prefix, nothing torn
        path.unlink()


def _hammer(read: Any, sizes: set[int], stop: threading.Event, seen: list[int], errors: list[str]) -> None:
    while not stop.is_set():
        try:
            policies = read()
        except Exception as exc:  # noqa: BLE001 - any failure of a reader is what the test looks for
            errors.append(repr(exc))
            return
        if len(policies) not in sizes or any(len(p["master"]) != 2 for p in policies):
            errors.append(f"a reader saw {len(policies)} policies")
            return
        seen.append(len(policies))


def _generation(tag: str, n: int) -> bytes:
    return b"".join(json.dumps({"master": {"id": f"{tag}{i}", "pad": "x"}}).encode() + b"\n" for i in range(n))


def _run_readers(read: Any, sizes: set[int], rewrite: Any) -> list[int]:
    stop, seen, errors = threading.Event(), [], []  # type: ignore[var-annotated]
    readers = [threading.Thread(target=_hammer, args=(read, sizes, stop, seen, errors)) for _ in range(4)]
    for t in readers:
        t.start()
    try:
        rewrite()
    finally:
        stop.set()
        for t in readers:
            t.join(10)
    assert not errors, errors[:3]
    return seen


def test_crash_readers_during_100_swaps_in_the_node_never_see_a_partial_ledger(node) -> None:  # type: ignore[no-untyped-def]
    from anynode.metadata.ledger import ledger

    book = ledger(node)
    a, b = _generation("a", 150), _generation("b", 100)
    book.swap(a)

    def rewrite() -> None:
        for n in range(100):
            book.swap(b if n % 2 == 0 else a)

    seen = _run_readers(lambda: json.loads(node.execute("blockchain get *").to_text()), {150, 100}, rewrite)
    assert {150, 100} <= set(seen)


def test_crash_readers_during_100_rewrites_by_another_process_never_see_a_partial_ledger(tmp_path: Path) -> None:
    path = tmp_path / "blockchain.json"
    path.write_bytes(_generation("a", 600))
    book = Ledger(lambda: str(path))
    book.policies()  # the first load (which cleans stray temp files) comes before the writer starts

    def rewrite() -> None:
        proc = _writer(path, "swap", rounds=100, size=600)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "done"
        proc.wait(timeout=30)
        proc.stdout.close()

    seen = _run_readers(book.policies, {600, 400}, rewrite)
    assert {600, 400} <= set(seen) and book.generation > 2
