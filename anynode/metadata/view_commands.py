"""Commands over the metadata view: get data nodes, get cluster info, blockchain query metadata / test cluster,
test node, test network, set servers ping.

The view (``view.py``) says which clusters hold each table and which
operators serve each cluster; liveness (``liveness.py``) says which of those
answered lately. Output follows AnyLog's shapes (notes §7.6).
"""

from __future__ import annotations

from typing import Any

from anynode.codes import Code
from anynode.errors import CommandSyntaxError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.tokens import Token
from anynode.grammar.types import FORMAT, SECONDS, TEXT
from anynode.metadata.build import BLOCKCHAIN
from anynode.metadata.policy import PolicyError
from anynode.metadata.view import Member, MetadataView, cluster_problem, metadata_view, view_cache
from anynode.results import Batch, Json, Message, Record, Result, Table

FMT = Opt("format", FORMAT, default="table", help="table, or json for programs")
KEYS = ("blockchain", "network")
NODE_COLUMNS = ("Company", "DBMS", "Table", "Cluster ID", "Cluster Status", "Node Name", "Member ID",
                "External IP/Port", "Local IP/Port", "Main", "Node Status")
NODE_TYPES = ("master", "operator", "query", "publisher")


def _own_addresses(ctx: Context) -> set[str]:
    """This node's TCP addresses (external and internal), when its TCP server runs."""
    service = ctx.node.services.get("TCP")
    hook = getattr(service, "connection_addresses", None)
    if hook is None or ctx.node.services.status("TCP").state != "Running":
        return set()
    external, internal, _ = hook()
    return {external, internal}


def this_operator(ctx: Context, view: MetadataView) -> Member | None:
    """The operator this node is: the policy ``run operator`` named, else the one at this node's TCP address."""
    chosen = view_cache(ctx.node).this_operator
    if chosen:
        return view.operator(chosen)
    mine = _own_addresses(ctx)
    return next((m for m in (view.operator_at(a) for a in mine) if m is not None), None)


@command("get data nodes", options=[
    Opt("company", TEXT, default="*", help="only this company's tables"),
    Opt("dbms", TEXT, default="*", help="only this database"),
    Opt("table", TEXT, default="*", help="only this table"), FMT,
], remote=True, keywords=KEYS, examples=["get data nodes", "get data nodes where dbms = demo and table = sensor",
                                         "get data nodes where company = acme and format = json"])
def get_data_nodes(ctx: Context, company: str, dbms: str, table: str, format: str) -> Result:
    """List the operators that hold each table: company, dbms, table, cluster, member, addresses, main, status.

    Built from the cluster and operator policies of the local ledger (the
    view is rebuilt when the ledger changes). Node Status is active, or
    not_responding after a send to it failed and until it answers again.
    """
    view = metadata_view(ctx.node)
    rows: list[tuple[Any, ...]] = []
    for route in view.routes(company, dbms.lower(), table.lower()):
        cluster = view.cluster(route.cluster)
        for member in view.operators_of(route.cluster):
            rows.append((route.company, route.dbms, route.table, route.cluster, route.status, member.name,
                         "" if member.member is None else member.member, member.address, member.local_address,
                         "+" if member.main else "-", member.status))
        if cluster is not None and not cluster.operators:
            rows.append((route.company, route.dbms, route.table, route.cluster, route.status,
                         "", "", "", "", "", "no operator"))
    if format == "json":
        return Json([dict(zip(NODE_COLUMNS, r, strict=True)) for r in rows])
    shown, last = [], ("",) * 4
    for r in rows:  # AnyLog writes company, dbms, table and cluster once per group
        head = tuple(r[:4])
        same = [head[i] == last[i] and all(head[j] == last[j] for j in range(i)) for i in range(4)]
        shown.append(tuple("" if same[i] else head[i] for i in range(4)) + tuple(r[4:]))
        last = head
    return Table.of(NODE_COLUMNS, shown)


@command("get cluster info", options=[FMT], remote=True, keywords=KEYS,
         examples=["get cluster info", "get cluster info where format = json"])
def get_cluster_info(ctx: Context, format: str) -> Result:
    """Show this operator's cluster: its id, member id, name, company, the cluster's operators and its tables.

    The node is the operator whose policy `run operator where policy = id`
    named, or the operator policy at this node's TCP address.
    """
    view = metadata_view(ctx.node)
    me = this_operator(ctx, view)
    cluster = view.cluster(me.cluster) if me is not None else None
    if me is None or cluster is None:
        return Message("Cluster data is not available: no operator policy of the ledger is this node "
                       "(run operator where policy = <id>, or start the TCP server on the policy's ip:port)")
    operators = [(m.ip, m.port, m.member, m.status) for m in view.operators_of(cluster.id)]
    tables = [(r.company, r.dbms, r.table) for r in view.tables_of(cluster.id)]
    head = {"Cluster ID": cluster.id, "Member ID": me.member, "Cluster Name": cluster.name,
            "Company": cluster.company}
    if format == "json":
        return Json({**head, "Operators": [dict(zip(("IP", "Port", "Member", "Status"), o, strict=True))
                                           for o in operators],
                     "Tables": [dict(zip(("Company", "DBMS", "Table"), t, strict=True)) for t in tables]})
    return Batch((Record(head), Table.of(("IP", "Port", "Member", "Status"), operators, "Participating Operators:"),
                  Table.of(("Company", "DBMS", "Table"), tables, "Tables Supported:")))


def _levels(nodes: list[tuple[str, list[Any]]], indent: int) -> list[str]:
    """Lines of ``==> label`` columns: the first child on its parent's line, the others below it, aligned."""
    width = max(len(label) for label, _ in nodes)
    lines: list[str] = []
    for n, (label, kids) in enumerate(nodes):
        head = " ==> " + label.ljust(width)
        below = _levels(kids, indent + len(head)) if kids else [""]
        lines.append(("" if n == 0 else " " * indent) + head + below[0])
        lines += below[1:]
    return lines


def diagram(view: MetadataView, me: Member | None, company: str = "*", dbms: str = "*", table: str = "*") -> str:
    """AnyLog's ``blockchain query metadata`` picture: company ==> dbms ==> table ==> cluster ==> operators."""
    tree: dict[str, dict[str, dict[str, list[str]]]] = {}
    for r in view.routes(company, dbms.lower(), table.lower()):
        tree.setdefault(r.company, {}).setdefault(r.dbms, {}).setdefault(r.table, []).append(r.cluster)

    def operator(m: Member) -> tuple[str, list[Any]]:
        where = "local " if me is not None and m.policy_id == me.policy_id else "remote"
        member = "----" if m.member is None else f"{m.member:04d}"
        text = f"[{member}  {where} {m.status}]".ljust(30) + "      " + m.address.ljust(25) + m.local_address
        return text.rstrip(), []

    def cluster(cid: str) -> tuple[str, list[Any]]:
        found = view.cluster(cid)
        label = f"{cid} ({found.name})" if found is not None else cid
        return label, [operator(m) for m in view.operators_of(cid)]

    out: list[str] = []
    for comp, databases in tree.items():
        nodes = [(db, [(t, [cluster(c) for c in cids]) for t, cids in tables.items()])
                 for db, tables in databases.items()]
        lines = _levels(nodes, len(comp))
        out += [comp + lines[0], *lines[1:], ""]
    return "\n".join(line.rstrip() for line in out).rstrip()


@command("blockchain query metadata", options=[
    Opt("company", TEXT, default="*", help="only this company"),
    Opt("dbms", TEXT, default="*", help="only this database"),
    Opt("table", TEXT, default="*", help="only this table"),
], remote=True, keywords=BLOCKCHAIN, examples=["blockchain query metadata",
                                               "blockchain query metadata where dbms = demo and table = sensor"])
def blockchain_query_metadata(ctx: Context, company: str, dbms: str, table: str) -> Result:
    """Draw the metadata: company ==> dbms ==> table ==> cluster id (name) ==> [member local|remote status] ip:port.

    One line per operator; a table held by several clusters shows each. The
    operator that is this node says local.
    """
    view = metadata_view(ctx.node)
    text = diagram(view, this_operator(ctx, view), company, dbms, table)
    return Message(text or "no table is assigned to a cluster in the metadata")


@command("blockchain test cluster", raw=True, remote=True, keywords=BLOCKCHAIN,
         examples=["blockchain test cluster", "blockchain test cluster where company = acme"])
def blockchain_test_cluster(ctx: Context, tokens: list[Token]) -> Result:
    """Check the cluster policies (id, name, status, table list) and how operators join them: [where <condition>].

    Replies "Blockchain cluster policies status: OK", or fails with AnyLog's
    87 naming the problems (a table without dbms, a status other than active,
    static or down, two operators on one ip:port, a child whose parent is
    missing ...).
    """
    from anynode.metadata.ledger import ledger
    from anynode.metadata.select import parse_where, select

    clusters: list[Any] = list(ledger(ctx.node).snapshot().of_types(["cluster"]))
    problems: list[str] = []
    if tokens:
        if not tokens[0].is_word("where") or len(tokens) == 1:
            raise CommandSyntaxError(f"unexpected '{tokens[0].text}' after 'blockchain test cluster'",
                                     offset=tokens[0].start, hint="write: blockchain test cluster where company = acme")
        clusters = select(clusters, "cluster", parse_where(tokens[1:]))
    else:
        problems = list(metadata_view(ctx.node).problems)
    if not clusters:
        raise PolicyError(Code.POLICY_NOT_AVAILABLE, "no cluster policy in the local ledger"
                          + (" matches the condition" if tokens else ""),
                          hint="'blockchain get cluster' lists them")
    problems = [p for p in (cluster_problem(c.get("cluster")) for c in clusters) if p] + problems
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise PolicyError(Code.WRONG_POLICY, "Blockchain cluster policies status: Failure: "
                          + "; ".join(dict.fromkeys(problems[:3])) + more,
                          hint="fix the policies (blockchain delete policy, then insert a corrected one)")
    return Message("Blockchain cluster policies status: OK")


def _ping_timeout(ctx: Context, given: float | None) -> float:
    return given if given is not None else float(ctx.node.settings["peer_ping_timeout"])


def _network(ctx: Context, peers: list[tuple[str, str, str]], command_line: str, title: str, timeout: float,
             format: str) -> Result:
    """Send ``command_line`` to every (address, type, name) at once; a row each: who answered, and what."""
    if not peers:
        raise PolicyError(Code.POLICY_NOT_AVAILABLE,
                          "no node to test: the local ledger has no such policy with an ip and a port",
                          hint="'blockchain get (master, operator, query, publisher)' lists the nodes it knows")
    from anynode.metadata.liveness import liveness

    liveness(ctx.node)  # the client reports each outcome to it: a silent operator is marked not_responding
    replies = {r.dest: r for r in ctx.node.client().fan_out_command([a for a, _, _ in peers], command_line,
                                                                    timeout=timeout)}
    rows = []
    for address, kind, name in peers:
        reply = replies.get(address)
        if reply is None or reply.error is not None:
            err = reply.error if reply is not None else None
            answer = "not_responding" if err is None or getattr(err, "remote", None) is None else f"error: {err}"
        elif title == "Status":
            answer = "+"
        else:
            from anynode.net.peers import to_reply

            answer = to_reply(address, reply.header, None).text()
        rows.append((address, kind, name, answer))
    if format == "json":
        return Json([{"address": a, "type": k, "name": n, "status": s} for a, k, n, s in rows])
    return Table.of(("Address", "Node Type", "Node Name", title), rows)


def _nodes(ctx: Context, types: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(ip:port, type, name) of the ledger's policies of ``types`` that have an ip and a port, each address once."""
    from anynode.metadata.ledger import ledger

    found: dict[str, tuple[str, str, str]] = {}
    for policy in ledger(ctx.node).snapshot().of_types(list(types)):
        kind = next(iter(policy))
        attrs = policy[kind]
        if isinstance(attrs, dict) and attrs.get("ip") and attrs.get("port"):
            address = f"{attrs['ip']}:{attrs['port']}"
            found.setdefault(address, (address, kind, str(attrs.get("name", ""))))
    return list(found.values())


NET_OPTS = [Opt("timeout", SECONDS, help="how long to wait for the replies (default: setting peer_ping_timeout)"),
            FMT]


@command("test network", options=NET_OPTS, keywords=KEYS,
         examples=["test network", "test network where timeout = 5 seconds and format = json"])
def test_network(ctx: Context, timeout: float | None, format: str) -> Result:
    """Send get status to every master, operator, query and publisher node of the metadata; a row for each.

    Status is + for a node that answered within the timeout, else
    not_responding (an operator of the metadata is then marked so until it
    answers again).
    """
    return _network(ctx, _nodes(ctx, NODE_TYPES), "get status", "Status", _ping_timeout(ctx, timeout), format)


@command("test network with", args=[Arg("target", TEXT, help="master, operator, query or publisher, or ip:port")],
         options=NET_OPTS, keywords=KEYS,
         examples=["test network with operator", "test network with master", "test network with 10.0.0.3:32148"])
def test_network_with(ctx: Context, target: str, timeout: float | None, format: str) -> Result:
    """Send get status to the nodes of one policy type in the metadata, or to one ip:port; who answered."""
    kind = target.strip().lower()
    if kind in NODE_TYPES:
        peers = _nodes(ctx, (kind,))
    else:
        from anynode.grammar.types import HostPort

        address = HostPort().convert(target)
        peers = [(address, "node", "node")]
    return _network(ctx, peers, "get status", "Status", _ping_timeout(ctx, timeout), format)


@command("test network metadata version", options=NET_OPTS, keywords=KEYS,
         examples=["test network metadata version"])
def test_network_metadata_version(ctx: Context, timeout: float | None, format: str) -> Result:
    """Ask every node of the metadata for its metadata version: synced nodes show the same md5."""
    return _network(ctx, _nodes(ctx, NODE_TYPES), "get metadata version", "Metadata Version",
                    _ping_timeout(ctx, timeout), format)


@command("test node", options=NET_OPTS, keywords=KEYS, examples=["test node", "test node where format = json"])
def test_node(ctx: Context, timeout: float | None, format: str) -> Result:
    """Test this node: its metadata version and structure, and a get status through its own TCP and REST servers."""
    from anynode.metadata.ledger import ledger

    limit = _ping_timeout(ctx, timeout)
    rows: list[tuple[str, str]] = []
    book = ledger(ctx.node)
    try:
        version = book.version()
        problems = book.problems() + list(metadata_view(ctx.node).problems)
        rows += [("Metadata Version", version or "no ledger file"),
                 ("Metadata Test", "Pass" if not problems else f"Failed: {problems[0]}")]
    except PolicyError as exc:
        rows += [("Metadata Version", "none"), ("Metadata Test", f"Failed: {exc.message}")]
    rows.append(_server_test(ctx, "TCP", limit))
    rows.append(_server_test(ctx, "REST", limit))
    if format == "json":
        return Json({test: status for test, status in rows})
    return Table.of(("Test", "Status"), rows)


def _server_test(ctx: Context, name: str, timeout: float) -> tuple[str, str]:
    """(test, status): get status sent to this node's own TCP or REST server."""
    service = ctx.node.services.get(name)
    hook = getattr(service, "connection_addresses", None)
    if hook is None or ctx.node.services.status(name).state != "Running":
        return f"{name} test", f"the {name} server is not running"
    internal = hook()[1]
    try:
        if name == "TCP":
            from anynode.net.peers import to_reply

            header, _ = ctx.node.client().send_command(internal, "get status", timeout=timeout)
            return f"TCP test using {internal}", to_reply(internal, header, None).text()
        import urllib.request

        request = urllib.request.Request(f"http://{internal}/", headers={"command": "get status",
                                                                         "User-Agent": "AnyLog/1.23"})
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - our own server
            return f"REST test using http://{internal}", answer.read(4096).decode("utf-8", "replace").strip()
    except Exception as exc:  # noqa: BLE001 - the failure is the test's answer
        return f"{name} test using {internal}", f"Failed: {exc}"


@command("set servers ping", keywords=KEYS, examples=["set servers ping"])
def set_servers_ping(ctx: Context) -> Result:
    """Send get status now to the operators the metadata marks not_responding (scheduler 0 does it every minute)."""
    from anynode.metadata.view import ping_down

    pinged, back = ping_down(ctx.node, float(ctx.node.settings["peer_ping_timeout"]))
    return Message(f"{pinged} operator(s) not responding pinged, {back} answered")
