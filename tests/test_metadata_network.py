"""A master, an operator and a query node on 127.0.0.1, the operator in its own process (`anynode process`):
policies inserted anywhere reach every node, the versions agree, a master that goes away leaves the copies
in service until it returns, and an operator SIGKILLed while it syncs restarts with a valid ledger."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from anynode.metadata import master as table
from anynode.metadata.ledger import Ledger
from anynode.node import Node
from tests.helpers import start_tcp, wait_until
from tests.sync_helpers import NodeProcess, run_on

OPERATOR = """set node name operator1
run tcp server where internal_ip = 127.0.0.1 and internal_port = 0 and bind = true
blockchain insert where policy = {policy} and local = true and master = {master}
run blockchain sync where source = master and time = 1 seconds and dest = file and connection = {master}
"""


def policy(kind: str, name: str, port: int) -> str:
    return json.dumps({kind: {"company": "acme", "name": name, "ip": "127.0.0.1", "port": port}})


def make_master(home: Path, port: int = 0) -> tuple[Node, str]:
    m = Node(home, name="master")
    m.execute("connect dbms blockchain where type = sqlite")
    m.execute("blockchain create table")
    if port:
        m.execute(f"run tcp server where internal_ip = 127.0.0.1 and internal_port = {port} and bind = true")
        addr = f"127.0.0.1:{port}"
    else:
        addr = start_tcp(m)
    m.execute(f"run blockchain sync where source = master and time = 1 seconds and dest = file and connection = {addr}")
    return m, addr


def remote(asker: Node, dest: str, command: str) -> str:
    return asker.execute(f"run client ({dest}) {command}").to_text().split("\n", 1)[1].strip()


def count(text: str) -> int:
    return len(json.loads(text or "[]"))


def test_three_nodes_agree_and_survive_the_master_going_away(tmp_path: Path) -> None:
    m, addr = make_master(tmp_path / "master")
    query = Node(tmp_path / "query", name="query1")
    op = None
    try:
        query.execute(f"run blockchain sync where source = master and time = 1 seconds and dest = file "
                      f"and connection = {addr}")
        op = NodeProcess(tmp_path / "operator", OPERATOR.format(policy=policy("publisher", "op1", 32148),
                                                                master=addr))
        query.execute(f"blockchain insert where policy = {policy('query', 'query1', 32348)} and local = true "
                      f"and master = {addr}")
        m.execute(f"blockchain insert where policy = {policy('master', 'master1', 32048)} and local = true "
                  f"and master = {addr}")
        started = time.monotonic()

        def everyone(n: int) -> bool:
            return (count(m.execute("blockchain get *").to_text()) == n
                    and count(query.execute("blockchain get *").to_text()) == n
                    and count(remote(query, op.address, "blockchain get *")) == n)

        wait_until(lambda: everyone(3), timeout=5, what="all three policies on all three nodes")
        assert time.monotonic() - started < 2.5  # one period (1 s, jitter up to 0.1 s) and the round trips
        wait_until(lambda: len({m.execute("get metadata version").to_text(),
                                query.execute("get metadata version").to_text(),
                                remote(query, op.address, "get metadata version")}) == 1,
                   timeout=3, what="one metadata version")

        m.close()  # the master goes away: the members keep serving their copy
        time.sleep(1.5)
        assert count(query.execute("blockchain get *").to_text()) == 3
        assert count(remote(query, op.address, "blockchain get *")) == 3
        status = json.loads(remote(query, op.address, "get synchronizer where format = json"))
        assert status["Sync Err"] >= 1 and "refused" in status["Last Error"]

        m, _ = make_master(tmp_path / "master", int(addr.rsplit(":", 1)[1]))  # back, with one more policy
        m.execute(f"blockchain push {policy('query', 'query2', 32349)}")
        wait_until(lambda: everyone(4), timeout=5, what="the members to catch up")
        wait_until(lambda: remote(query, op.address, "get metadata version") == table.export(m.catalog)[1],
                   timeout=3, what="the operator's version to be the master's")
    finally:
        if op is not None:
            op.kill()
        query.close()
        m.close()


def test_an_operator_killed_while_it_syncs_restarts_with_a_valid_ledger(tmp_path: Path) -> None:
    m, addr = make_master(tmp_path / "master")
    rng = random.Random(7)
    base = [json.loads(policy("query", f"q{i}", 20000 + i)) for i in range(6000)]
    table.push(m.catalog, base, "127.0.0.1")
    extra = json.loads(policy("query", "extra", 30000))
    extra_id = table.as_global(extra)["query"]["id"]
    home = tmp_path / "operator"
    flip = 0
    try:
        for rounds in range(2):
            op = NodeProcess(home, OPERATOR.format(policy=policy("publisher", "op1", 32148), master=addr)
                             if rounds == 0 else OPERATOR.split("blockchain insert")[0]
                             + f"run blockchain sync where source = master and time = 1 seconds and dest = file "
                               f"and connection = {addr}\n")
            deadline = time.monotonic() + rng.uniform(1.2, 2.2)
            while time.monotonic() < deadline:  # the master's ledger changes all the time: every sync swaps
                if flip % 2 == 0:
                    table.push(m.catalog, [extra], "127.0.0.1")
                else:
                    table.drop(m.catalog, extra_id)
                flip += 1
                time.sleep(0.05)
            op.kill()
            assert run_on(home, "blockchain test") == "Blockchain file status: OK"  # a node starts on it
            found = Ledger(lambda: str(home / "blockchain" / "blockchain.json")).policies()
            assert len(found) in (6001, 6002)  # the master's copy (with or without extra) and op1's policy
    finally:
        m.close()
