"""The metadata view: which clusters hold a table and which operators serve a cluster, with their liveness.

Built from the cluster, operator and table policies of one ledger snapshot
(notes §7.6, "Metadata layer"): company -> dbms -> table -> clusters ->
operators. A root cluster policy names a cluster; a child (``parent`` = the
root's id) adds tables to it, as an operator does when it creates one. Only
clusters whose status is ``active`` or ``static`` route data (``down`` ones
are known but hold no table); a table's clusters keep the ledger's order.

:func:`metadata_view` gives the node's view, rebuilt only when the ledger's
md5 (its version) changed. The view itself never changes; operator liveness
lives beside it in :class:`~anynode.metadata.liveness.Liveness` (it outlives
a rebuild, as AnyLog keeps it across reloads) and is read at each call.

The routing API (the network query uses it): :meth:`MetadataView.clusters_of`,
:meth:`MetadataView.operators_of` (main first), :meth:`MetadataView.pick`
(one live operator per cluster). :func:`ping_down` is the metadata ping of
system scheduler 0. docs/metadata.md describes it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from anynode.codes import Code
from anynode.metadata.liveness import ACTIVE, Liveness, liveness
from anynode.metadata.policy import PolicyError

if TYPE_CHECKING:
    from anynode.metadata.ledger import Snapshot
    from anynode.protocols import NodeView

ROUTING = ("active", "static")  # cluster and table statuses that route data
STATUSES = ("active", "static", "down")


@dataclass(frozen=True)
class Member:
    """One operator of a cluster: its policy id, member id, main flag, addresses and status (active/not responding)."""

    policy_id: str
    name: str
    cluster: str
    member: int | None
    main: bool
    ip: str
    port: int | None
    local_ip: str = ""
    local_port: int | None = None
    status: str = ACTIVE

    @property
    def address(self) -> str:
        """``ip:port``: where peers reach it (its external address)."""
        return f"{self.ip}:{self.port}" if self.ip and self.port else ""

    @property
    def local_address(self) -> str:
        """``local_ip:port`` when the policy names a local address, else empty."""
        if not self.local_ip:
            return ""
        return f"{self.local_ip}:{self.local_port or self.port or ''}"

    @property
    def responding(self) -> bool:
        """False once a send to it failed and no ping has answered since."""
        return self.status == ACTIVE


@dataclass(frozen=True)
class Cluster:
    """A cluster: its root id, name, company, status and operators (the main one first, then ledger order)."""

    id: str
    name: str
    company: str
    status: str
    operators: tuple[Member, ...] = ()


@dataclass(frozen=True)
class Route:
    """One table in one cluster: a branch of company -> dbms -> table -> cluster."""

    company: str
    dbms: str
    table: str
    status: str
    cluster: str


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _truth(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def cluster_problem(attrs: Any) -> str | None:
    """What is wrong with a cluster policy's body for the view, or None (AnyLog's ``blockchain test cluster``)."""
    if not isinstance(attrs, dict):
        return "a cluster policy's value is not an object"
    cid = attrs.get("id")
    if not cid:
        return "a cluster policy has no id"
    if not attrs.get("name"):
        return f"cluster {cid} has no name"
    if "status" in attrs and _text(attrs["status"]).lower() not in STATUSES:
        return f"cluster {cid}: status '{attrs['status']}' is not active, static or down"
    tables = attrs.get("table", [])
    if not isinstance(tables, list):
        return f"cluster {cid}: [cluster][table] is not a list"
    for n, entry in enumerate(tables):
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("dbms"):
            return f"cluster {cid}: table entry {n} needs a name and a dbms"
        if "status" in entry and _text(entry["status"]).lower() not in STATUSES:
            return f"cluster {cid}: table {entry['dbms']}.{entry['name']} has status '{entry['status']}'"
    return None


class MetadataView:
    """An immutable view of one ledger version; liveness is read from ``alive`` at each call."""

    def __init__(self, version: str, policies_of: dict[str, Sequence[dict[str, Any]]], alive: Liveness) -> None:
        self.version = version
        self.alive = alive
        self.problems: list[str] = []
        self._clusters: dict[str, Cluster] = {}
        self._tree: dict[str, dict[str, dict[str, dict[str, str]]]] = {}  # company/dbms/table -> {cluster: status}
        self._operators: dict[str, Member] = {}
        self.tables_declared: dict[tuple[str, str], dict[str, Any]] = {}
        self._load_clusters(policies_of.get("cluster", ()))
        self._load_operators(policies_of.get("operator", ()))
        for policy in policies_of.get("table", ()):
            attrs = next(iter(policy.values()))
            if isinstance(attrs, dict) and attrs.get("dbms") and attrs.get("name"):
                self.tables_declared[(_text(attrs["dbms"]).lower(), _text(attrs["name"]).lower())] = attrs
        alive.watch(m.address for m in self._operators.values() if m.address)

    # -- building ------------------------------------------------------------
    def _load_clusters(self, policies: Iterable[dict[str, Any]]) -> None:
        children: list[dict[str, Any]] = []
        for policy in policies:
            attrs = policy.get("cluster")
            problem = cluster_problem(attrs)
            if problem is not None:
                self.problems.append(problem)
                continue
            assert isinstance(attrs, dict)
            if attrs.get("parent"):
                children.append(attrs)
                continue
            cid = _text(attrs["id"])
            status = _text(attrs.get("status") or "active").lower()
            self._clusters[cid] = Cluster(cid, _text(attrs["name"]), _text(attrs.get("company") or "none"), status)
            self._add_tables(cid, attrs)
        for attrs in children:
            parent = self._clusters.get(_text(attrs["parent"]))
            if parent is None:
                self.problems.append(f"cluster {attrs['id']}: its parent {attrs['parent']} is not in the ledger")
                continue
            if _text(attrs.get("status") or "active").lower() in ROUTING:
                self._add_tables(parent.id, attrs)

    def _add_tables(self, cid: str, attrs: dict[str, Any]) -> None:
        cluster = self._clusters[cid]
        if cluster.status not in ROUTING:
            return
        for entry in attrs.get("table", ()):
            dbms, table = _text(entry["dbms"]).lower(), _text(entry["name"]).lower()
            status = _text(entry.get("status") or "active").lower()
            where = self._tree.setdefault(cluster.company.lower(), {}).setdefault(dbms, {}).setdefault(table, {})
            if cid in where:
                self.problems.append(f"cluster {cid} lists table {dbms}.{table} more than once")
                continue
            where[cid] = status

    def _load_operators(self, policies: Iterable[dict[str, Any]]) -> None:
        members: dict[str, list[Member]] = {}
        seen: dict[str, str] = {}
        for policy in policies:
            attrs = policy.get("operator")
            if not isinstance(attrs, dict) or not attrs.get("id") or not attrs.get("cluster"):
                continue
            cid = _text(attrs["cluster"])
            if cid not in self._clusters:
                self.problems.append(f"operator {attrs['id']}: its cluster {cid} is not in the ledger")
                continue
            member = Member(_text(attrs["id"]), _text(attrs.get("name")), cid, _int(attrs.get("member")),
                            _truth(attrs.get("main")), _text(attrs.get("ip")), _int(attrs.get("port")),
                            _text(attrs.get("local_ip")), _int(attrs.get("local_port")))
            if not member.address:
                self.problems.append(f"operator {member.policy_id} has no ip and port")
            elif member.address in seen:
                self.problems.append(f"operators {seen[member.address]} and {member.policy_id} "
                                     f"both use {member.address}")
                continue
            else:
                seen[member.address] = member.policy_id
            self._operators[member.policy_id] = member
            members.setdefault(cid, []).append(member)
        for cid, found in members.items():
            mains = [m.policy_id for m in found if m.main]
            if len(mains) > 1:
                self.problems.append(f"cluster {cid} has several main operators: {', '.join(mains)}")
            self._clusters[cid] = replace(self._clusters[cid], operators=tuple(sorted(found, key=lambda m: not m.main)))

    # -- reading ---------------------------------------------------------------
    def _live(self, member: Member) -> Member:
        status = self.alive.status(member.address)
        return member if status == member.status else replace(member, status=status)

    def companies(self) -> list[str]:
        """The companies that own tables, in ledger order."""
        return list(dict.fromkeys(r.company for r in self.routes()))

    def routes(self, company: str = "*", dbms: str = "*", table: str = "*") -> list[Route]:
        """Every (company, dbms, table, cluster) branch matching the filters (``*``: any), in ledger order."""
        out = []
        company = company.lower()
        for comp, databases in self._tree.items():
            if company not in ("*", comp):
                continue
            for db, tables in databases.items():
                if dbms not in ("*", db):
                    continue
                for name, clusters in tables.items():
                    if table in ("*", name):
                        out += [Route(self._clusters[cid].company, db, name, status, cid)
                                for cid, status in clusters.items()]
        return out

    def clusters_of(self, dbms: str, table: str, company: str | None = None) -> list[Cluster]:
        """The clusters that hold ``dbms.table`` (of ``company``, or any) for routing, in ledger order.

        A cluster that lists the table as ``down`` is left out.
        """
        seen: dict[str, Cluster] = {}
        owners = [company.lower()] if company else list(self._tree)
        for owner in owners:
            held = self._tree.get(owner, {}).get(dbms.lower(), {}).get(table.lower(), {})
            for cid, status in held.items():
                if status in ROUTING:
                    seen.setdefault(cid, self._clusters[cid])
        return list(seen.values())

    def cluster(self, cluster_id: str) -> Cluster | None:
        """The cluster with this root id (of any status), or None."""
        return self._clusters.get(cluster_id)

    def operators_of(self, cluster_id: str) -> list[Member]:
        """The operators of a cluster, the main one first, with their status now; empty for an unknown cluster."""
        cluster = self._clusters.get(cluster_id)
        if cluster is None:
            return []
        return [self._live(m) for m in cluster.operators]

    def operator(self, policy_id: str) -> Member | None:
        """The operator with this policy id (with its status now), or None."""
        member = self._operators.get(policy_id)
        return None if member is None else self._live(member)

    def operator_at(self, address: str) -> Member | None:
        """The operator whose ``ip:port`` is ``address``, or None."""
        return next((self._live(m) for m in self._operators.values() if m.address == address), None)

    def tables_of(self, cluster_id: str) -> list[Route]:
        """The tables a cluster holds."""
        return [r for r in self.routes() if r.cluster == cluster_id]

    def has_table(self, cluster_id: str, dbms: str, table: str) -> bool:
        """True when the cluster holds ``dbms.table``."""
        return any(cluster_id in tables.get(dbms.lower(), {}).get(table.lower(), {}) for tables in self._tree.values())

    def pick(self, dbms: str, table: str, company: str | None = None, subset: bool = False) -> list[Member]:
        """One responding operator per cluster that holds the table, the main one when it responds.

        Raises:
            PolicyError: no cluster holds the table; or a cluster has no responding
                operator and ``subset`` is false (with subset that cluster is left out).
        """
        clusters = [c for c in self.clusters_of(dbms, table, company) if c.status in ROUTING]
        if not clusters:
            raise PolicyError(Code.POLICY_NOT_AVAILABLE, f"no cluster holds table {dbms}.{table}",
                              hint="'get data nodes' lists the tables and their clusters")
        chosen = []
        for cluster in clusters:
            live = next((m for m in cluster.operators if m.address and self.alive.status(m.address) == ACTIVE), None)
            if live is None and not subset:
                raise PolicyError(Code.POLICY_NOT_AVAILABLE,
                                  f"no responding operator in cluster {cluster.id} ({cluster.name}) "
                                  f"for table {dbms}.{table}",
                                  hint="'get data nodes' shows their status; add subset = true to skip it")
            if live is not None:
                chosen.append(live)
        return chosen


class ViewCache:
    """The node's current view, rebuilt when the ledger's md5 changes; ``builds`` counts the rebuilds."""

    def __init__(self, alive: Liveness) -> None:
        self.alive = alive
        self._lock = threading.Lock()
        self._view: MetadataView | None = None
        self.builds = 0
        self.this_operator: str | None = None
        """The operator policy id this node runs as (``run operator where policy = id``)."""

    def get(self, snapshot: Snapshot) -> MetadataView:
        """The view of ``snapshot``: the cached one when the ledger version is the same."""
        view = self._view
        if view is not None and view.version == snapshot.md5:
            return view
        with self._lock:
            view = self._view
            if view is None or view.version != snapshot.md5:
                wanted = ("cluster", "operator", "table")
                view = MetadataView(snapshot.md5, {t: snapshot.by_type.get(t, ()) for t in wanted}, self.alive)
                self._view = view
                self.builds += 1
            return view


def view_cache(node: NodeView) -> ViewCache:
    """The node's view cache (one per node)."""
    alive = liveness(node)  # not inside the part's maker: node.part holds its lock while making
    return node.part("metadata.view", lambda: ViewCache(alive))


def metadata_view(node: NodeView) -> MetadataView:
    """The node's metadata view of its ledger now (rebuilt only when the ledger version changed).

    Raises:
        PolicyError: 58 when ``blockchain_file`` is not set.
    """
    from anynode.metadata.ledger import ledger

    return view_cache(node).get(ledger(node).snapshot())


def ping_down(node: NodeView, timeout: float) -> tuple[int, int]:
    """Send ``get status`` to every operator marked not responding; (pinged, recovered).

    A node without a ledger has nothing to ping.
    """
    from anynode.net.errors import PeerError, ProtocolError

    try:
        metadata_view(node)  # builds the view, which attaches the liveness state and lists the operators
    except PolicyError:
        return 0, 0
    state = liveness(node)
    down = state.down()
    if not down:
        return 0, 0
    replies = node.client().fan_out_command(down, "get status", timeout=timeout)
    for reply in replies:  # the client told the state already; this covers a client swapped meanwhile
        state.mark(reply.dest, reply.error is None or isinstance(reply.error, (PeerError, ProtocolError)))
    return len(down), sum(1 for a in down if state.status(a) == ACTIVE)
