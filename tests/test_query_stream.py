"""A large network answer streams: the rows reach the caller in chunks while operators still send (issue 15).

Two operators (real nodes, TCP servers on 127.0.0.1) hold 500,000 rows each;
the query node is a process of its own, so its peak memory (VmHWM) is its
alone. It reads ``run client (...) sql`` through the command's result, chunk
by chunk, as a user's program does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from anynode.cancel import Cancel
from anynode.errors import QueryCancelled
from anynode.grammar.dispatch import Source
from anynode.node import Node
from anynode.repl.running import run_interruptible
from anynode.results import RowsAlreadyRead, StreamedTable, Table
from tests.helpers import start_tcp, wait_until
from tests.query_helpers import big_operators

REPO = Path(__file__).resolve().parents[1]
PER_OPERATOR = 500_000
BOUND_MB = 40  # the rows held whole would take about 150 MB here (tuples, ints, strings)

CHILD = r"""
import json, re, sys, time
from pathlib import Path
import anynode.assembly
from anynode.node import Node
from anynode.query.status import query_log

def peak_kb():
    return int(re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read()).group(1))

node = Node(Path(sys.argv[1]))
peers = ", ".join(sys.argv[2:])
node.execute(f'run client ({peers}) sql demo "select i, s from big where i <= 20000"').to_text()  # warm up
before = peak_kb()
started = time.monotonic()
answer = node.execute(f'run client ({peers}) sql demo "select i, s from big"')
first, rows, chunks, at_first, total = None, 0, 0, [], 0
for chunk in answer.chunks():
    if first is None:
        first = time.monotonic() - started
        at_first = [s.status for s in query_log(node).jobs()[-1].shares.values()]
    rows += len(chunk)
    total += sum(r[0] for r in chunk)
    chunks += 1
took = time.monotonic() - started
print(json.dumps({"rows": rows, "chunks": chunks, "sum": total, "first": first, "took": took,
                  "at_first": at_first, "growth_mb": (peak_kb() - before) / 1024,
                  "status": query_log(node).jobs()[-1].status, "title": answer.title}))
node.close()
"""


@pytest.fixture
def operators(tmp_path: Path) -> Iterator[list[str]]:
    """Two operators with PER_OPERATOR rows each in demo.big (i runs 1..10^6 over both)."""
    with big_operators(tmp_path, PER_OPERATOR) as addresses:
        yield addresses


def test_a_million_rows_stream_to_the_caller_in_bounded_memory(operators: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "query"), *operators], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    print("query node:", {k: got[k] for k in ("rows", "chunks", "first", "took", "at_first", "growth_mb")})  # -s
    n = 2 * PER_OPERATOR
    assert got["rows"] == n and got["sum"] == n * (n + 1) // 2  # every row, once
    assert got["chunks"] >= 100  # in frames of 5,000 rows, not one block
    assert got["at_first"].count("Completed") < 2, got  # an operator was still sending when the first rows came
    assert got["first"] < got["took"], got
    assert got["growth_mb"] < BOUND_MB, got
    assert got["status"] == "Completed" and got["title"].startswith(f"{n} row(s) in ")


@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[Node, list[str]]]:
    """Two operators with 50,000 rows each, and a query node."""
    nodes, addresses = [], []
    try:
        for k in range(2):
            op = Node(tmp_path / f"op{k}")
            nodes.append(op)
            op.execute("connect dbms demo where type = sqlite")
            op.catalog.execute("demo", "create table big (i integer, s text)")
            op.catalog.execute("demo", """insert into big with recursive c(n) as (select 1 union all select n + 1
                from c where n < 50000) select n, 'x' from c""")
            addresses.append(start_tcp(op))
        query = Node(tmp_path / "query")
        nodes.append(query)
        yield query, addresses
    finally:
        for node in nodes:
            node.close()


def _query_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("query-")]


def test_an_answer_dropped_unread_stops_its_operators(small: tuple[Node, list[str]]) -> None:
    query, addresses = small
    answer = query.execute(f'run client ({", ".join(addresses)}) sql demo "select i, s from big"')
    assert isinstance(answer, StreamedTable)
    chunks = answer.chunks()
    assert len(next(chunks)) > 0
    del answer, chunks
    wait_until(lambda: not _query_threads(), 5.0, "the query threads to end")
    job = query.execute("query status where format = json").to_json()[0]
    assert job["Status"] == "Stopped" and "not read to its end" in job["Command"]


def test_a_streamed_answer_is_a_table_for_every_other_caller(small: tuple[Node, list[str]]) -> None:
    query, addresses = small
    started = time.monotonic()
    answer = query.execute(f'run client ({", ".join(addresses)}) sql demo "select count(*), max(i) from big"')
    assert isinstance(answer, Table) and answer.rows == ((100000, 50000),)
    assert answer.title.startswith("1 row(s) in ") and "from 2 node(s)" in answer.title
    assert answer.to_json() == [{"count(*)": 100000, "max(i)": 50000}]
    assert time.monotonic() - started < 10
    again = query.execute(f'run client ({", ".join(addresses)}) sql demo "select i from big where i < 3"')
    assert sorted(r for chunk in again.chunks() for r in chunk) == [(1,), (1,), (2,), (2,)]
    with pytest.raises(RowsAlreadyRead, match="read already"):
        _ = again.rows
    js = query.execute(f'run client ({addresses[0]}) sql demo format = json "select i from big where i < 3"')
    assert js.to_json()["Query"] == [{"i": 1}, {"i": 2}] and js.to_json()["Statistics"][0]["Count"] == 2


def test_ctrl_c_stops_a_network_query_between_chunks(small: tuple[Node, list[str]]) -> None:
    query, addresses = small
    cancel = Cancel()
    answer = query.execute(f'run client ({", ".join(addresses)}) sql demo "select i, s from big"', cancel=cancel)
    chunks = answer.chunks()  # type: ignore[attr-defined]
    assert next(chunks)
    cancel.cancel("Ctrl-C")
    with pytest.raises(QueryCancelled, match="cancelled"):
        for _ in chunks:
            pass
    wait_until(lambda: not _query_threads(), 5.0, "the query threads to end")
    assert query.execute("query status where format = json").to_json()[0]["Status"] == "Failed"


def test_the_prompt_waits_for_the_rows_on_the_command_thread(small: tuple[Node, list[str]]) -> None:
    query, addresses = small
    outcome = run_interruptible(query, f'run client ({", ".join(addresses)}) sql demo "select i from big"',
                                Source.REPL)
    assert outcome.error is None and isinstance(outcome.result, Table)
    job = query.execute("query status where format = json").to_json()[0]
    assert job["Status"] == "Completed" and job["Rows"] == 100000  # arrived before the prompt renders anything
    assert len(outcome.result.rows) == 100000
