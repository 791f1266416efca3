"""A network query's JSON answer over REST goes out as its rows arrive (issue 15, item 3).

The query node is an ``anynode process`` of its own with a REST server, so
its peak memory (VmHWM, read from /proc) is its alone; two operators (real
nodes, TCP on 127.0.0.1) hold the rows. A client asks with ``destination``
as an AnyLog application does and reads the body as it comes.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port, start_node_process, wait_until
from tests.query_helpers import big_operators

PER_OPERATOR = 250_000
BOUND_MB = 30  # the answer gathered as records before encoding takes about 100 MB here


def _peak_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


@pytest.fixture
def network(tmp_path: Path) -> Iterator[tuple[int, int, list[str]]]:
    """(REST port, pid) of a query node process, and two operators' addresses with PER_OPERATOR rows each."""
    port = free_port()
    script = tmp_path / "query.al"
    script.write_text(f"run rest server where internal_ip = 127.0.0.1 and internal_port = {port} and timeout = 60\n")
    proc = start_node_process(tmp_path / "query", script)
    try:
        with big_operators(tmp_path, PER_OPERATOR) as addresses:
            wait_until(lambda: _get(port, "get status", {})[0] == 200, timeout=20,
                       what="the query node's REST server")
            yield port, proc.pid, addresses
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _get(port: int, command: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/", headers={"command": command, "User-Agent": "AnyLog/1.23", **headers})
        reply = conn.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read()
    except OSError:
        return 0, {}, b""


def test_a_large_network_answer_streams_over_rest_in_bounded_memory(network: tuple[int, int, list[str]]) -> None:
    port, pid, peers = network
    headers = {"destination": ", ".join(peers)}
    status, _, warm = _get(port, 'sql demo "select i, s from big where i <= 20000"', headers)
    assert status == 200 and len(json.loads(warm)["Query"]) == 20000
    before = _peak_kb(pid)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.monotonic()
    conn.request("GET", "/", headers={"command": 'sql demo "select i, s from big"', "User-Agent": "AnyLog/1.23",
                                      **headers})
    reply = conn.getresponse()
    first_byte = time.monotonic() - started
    assert reply.status == 200 and reply.getheader("Content-Type") == "application/json"
    assert reply.getheader("Content-Length") is None and reply.getheader("Transfer-Encoding") == "chunked"
    body = bytearray()
    while piece := reply.read1(1 << 16):
        body += piece
    took = time.monotonic() - started
    growth_mb = (_peak_kb(pid) - before) / 1024
    print(f"REST stream: {len(body) / 1e6:.1f} MB, first byte {first_byte:.2f} s of {took:.2f} s, "
          f"query node peak +{growth_mb:.1f} MB")  # -s
    answer = json.loads(body)
    n = 2 * PER_OPERATOR
    rows = answer["Query"]
    assert len(rows) == n and sum(r["i"] for r in rows) == n * (n + 1) // 2 and set(rows[0]) == {"i", "s"}
    assert answer["Statistics"][0]["Count"] == n and answer["Statistics"][0]["Nodes"] == 2
    assert first_byte < took / 2, (first_byte, took)
    assert growth_mb < BOUND_MB, growth_mb


def test_a_streamed_answer_is_the_same_json_as_a_gathered_one(network: tuple[int, int, list[str]]) -> None:
    port, _, peers = network
    query = 'sql demo "select s, count(*) as n, min(i) as lo from big group by s order by s"'
    status, _, streamed = _get(port, query, {"destination": ", ".join(peers)})
    assert status == 200
    answer = json.loads(streamed)
    assert [r["s"] for r in answer["Query"]] == [f"r{d}" for d in range(10)]
    assert sum(r["n"] for r in answer["Query"]) == 2 * PER_OPERATOR
    assert list(answer) == ["Query", "Statistics"]
    status, _, empty = _get(port, 'sql demo "select i from big where i < 0"', {"destination": ", ".join(peers)})
    assert status == 200 and json.loads(empty)["Query"] == [] and json.loads(empty)["Statistics"][0]["Count"] == 0
    status, _, bad = _get(port, 'sql demo "select nope from big"', {"destination": ", ".join(peers)})
    assert status >= 400 and b"nope" in bad
