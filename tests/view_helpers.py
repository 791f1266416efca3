"""Helpers of the metadata view tests: a small network of operators on 127.0.0.1 described by policies.

Two clusters of company acme, c1 and c2; c1 holds demo.sensor, c2 holds
demo.sensor and demo.other (child cluster policies, as operators add them).
Four operators: op0 and op1 (main) in c1, op2 and op3 in c2. op0-op2 are
real nodes with a TCP server on a free port; op3's address has nothing
listening. The policies go into the ledger of whichever node a test names
(no master needed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anynode.node import Node
from tests.helpers import dead_address, start_tcp


def insert(node: Any, policy: dict[str, Any]) -> str:
    """Insert ``policy`` into the node's local ledger; its id."""
    text = node.execute(f"blockchain insert where policy = {json.dumps(policy)} and local = true").to_text()
    return text.split()[2]


@dataclass
class Net:
    """The nodes and what the policies say about them."""

    query: Node
    operators: list[Node]
    addresses: list[str]  # op0..op3 (op3: nothing listens)
    clusters: dict[str, str] = field(default_factory=dict)  # name -> id
    operator_ids: list[str] = field(default_factory=list)

    def close(self) -> None:
        for n in [self.query, *self.operators]:
            n.close()


def publish(node: Any, addresses: list[str]) -> tuple[dict[str, str], list[str]]:
    """The clusters and operators of the test network, in ``node``'s ledger; (cluster ids, operator ids)."""
    c1 = insert(node, {"cluster": {"company": "acme", "name": "c1"}})
    c2 = insert(node, {"cluster": {"company": "acme", "name": "c2"}})
    insert(node, {"cluster": {"company": "acme", "name": "c1", "parent": c1,
                              "table": [{"dbms": "demo", "name": "sensor"}]}})
    insert(node, {"cluster": {"company": "acme", "name": "c2", "parent": c2,
                              "table": [{"dbms": "demo", "name": "sensor"}, {"dbms": "demo", "name": "other"}]}})
    ids = []
    for n, (cluster, address) in enumerate(zip((c1, c1, c2, c2), addresses, strict=True)):
        ip, port = address.split(":")
        ids.append(insert(node, {"operator": {"company": "acme", "name": f"op{n}", "cluster": cluster, "ip": ip,
                                              "port": int(port), "member": n + 1, "main": n == 1}}))
    return {"c1": c1, "c2": c2}, ids


def make_net(tmp_path: Path, config: str = "") -> Net:
    """The query node (with ``config`` as its anynode.cfg) and three live operator nodes, policies published."""
    home = tmp_path / "query"
    home.mkdir()
    (home / "anynode.cfg").write_text(config)
    query = Node(home, name="query")
    operators = [Node(tmp_path / f"op{n}", name=f"op{n}") for n in range(3)]
    try:
        addresses = [start_tcp(op) for op in operators] + [dead_address()]
        net = Net(query, operators, addresses)
        net.clusters, net.operator_ids = publish(query, addresses)
    except BaseException:
        for n in [query, *operators]:
            n.close()
        raise
    return net


def data_nodes(node: Any, where: str = "") -> list[dict[str, Any]]:
    """``get data nodes`` as JSON rows."""
    suffix = f" where {where} and format = json" if where else " where format = json"
    rows: list[dict[str, Any]] = node.execute("get data nodes" + suffix).to_json()
    return rows


def status_of(node: Any, name: str) -> str:
    """The Node Status of operator ``name`` in ``get data nodes`` (its first row)."""
    return next(str(r["Node Status"]) for r in data_nodes(node) if r["Node Name"] == name)
