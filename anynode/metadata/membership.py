"""An operator's place in the metadata: ``run operator where policy = <id>`` joins the policy's cluster.

The operator policy must be in the local ledger once (else AnyLog's 113),
and its cluster too (222). From then on the node is that operator
(``get cluster info``, ``local`` in ``blockchain query metadata``), and each
table it ingests into that its cluster does not hold yet is added to the
cluster as AnyLog does: a child cluster policy
``{"cluster": {"parent": <cluster id>, "name", "company", "table": [{"dbms", "name"}],
"source": "Node at ip:port"}}`` published with ``blockchain insert`` (local,
and to the operator's ``master_node`` when one is given). The child's id is
AnyLog's (it hashes company, name, parent and table), so the same table
added twice, by two operators of one cluster, is one policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from anynode.codes import Code
from anynode.grammar.session import Source
from anynode.metadata.policy import PolicyError
from anynode.metadata.view import metadata_view, view_cache
from anynode.protocols import NodeView


@dataclass(frozen=True)
class Membership:
    """The operator policy a running operator is, and its cluster."""

    node: NodeView
    policy_id: str
    cluster_id: str
    cluster_name: str
    company: str
    member: int | None
    address: str
    master: str | None = None

    def details(self) -> str:
        """AnyLog's ``get processes`` words for the operator: Cluster Member, Using Master."""
        return f"Cluster Member: True, Using Master: {self.master or False}, Cluster: {self.cluster_id}, " \
               f"Member: {self.member}"

    def table_seen(self, dbms: str, table: str) -> None:
        """The operator ingested into ``dbms.table``: add it to the cluster; a failure is logged (the rows are in)."""
        try:
            self.add_table(dbms, table)
        except Exception as exc:  # noqa: BLE001 - never fails the file; the next start tries again
            self.node.log.warning("operator: could not add %s.%s to cluster %s: %s", dbms, table, self.cluster_id,
                                  exc)

    def add_table(self, dbms: str, table: str) -> bool:
        """Add ``dbms.table`` to the cluster unless the cluster holds it; True when a policy was inserted.

        Raises:
            AnyNodeError: the insert failed (the caller logs it; the rows are in).
        """
        if metadata_view(self.node).has_table(self.cluster_id, dbms, table):
            return False
        policy = {"cluster": {"parent": self.cluster_id, "name": self.cluster_name, "company": self.company,
                              "table": [{"dbms": dbms, "name": table}], "source": f"Node at {self.address}"}}
        line = f"blockchain insert where policy = {json.dumps(policy)} and local = true"
        if self.master:
            line += f" and master = {self.master}"
        try:
            self.node.execute(line, Source.SCRIPT)
        except PolicyError as exc:
            if exc.anylog_code == Code.DUPLICATE_OBJECT_ID:  # another operator of the cluster added it first
                return False
            raise
        self.node.log.info("operator: table %s.%s added to cluster %s (%s)", dbms, table, self.cluster_id,
                           self.cluster_name)
        return True


def join(node: NodeView, policy_id: str, master: str | None = None) -> Membership:
    """The membership of the operator policy ``policy_id``; the node is that operator from now on.

    Raises:
        PolicyError: 113 when the ledger has no operator policy with that id,
            222 when its cluster policy is missing.
    """
    from anynode.metadata.ledger import ledger

    view = metadata_view(node)
    me = view.operator(policy_id)
    cluster = view.cluster(me.cluster) if me is not None else None
    if me is None or cluster is None:
        found = [p["operator"] for p in ledger(node).snapshot().of_types(["operator"])
                 if p["operator"].get("id") == policy_id]
        if not found:
            raise PolicyError(Code.POLICY_NOT_AVAILABLE, f"Missing Operator policy with ID {policy_id} in the "
                              "local ledger",
                              hint="'blockchain get operator bring.table [*][id] [*][name]' lists them; sync first")
        raise PolicyError(Code.MISSING_CLUSTER_POLICY, f"the cluster {found[0].get('cluster')} of operator "
                          f"{policy_id} is not in the local ledger",
                          hint="insert the cluster policy, or sync with the master")
    view_cache(node).this_operator = policy_id
    return Membership(node, policy_id, cluster.id, cluster.name, cluster.company, me.member, me.address, master)
