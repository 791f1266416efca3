"""Node-to-node commands: run tcp server, run client, set network key."""

from __future__ import annotations

from pathlib import Path

from anynode.errors import AnyNodeError, CommandSyntaxError
from anynode.grammar.dispatch import Context
from anynode.grammar.parser import Rest
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.types import BOOL, SECONDS, TEXT, DestinationList, Destinations, FilePath, Int, Port, Words
from anynode.results import Message, Reply, Result

NETWORK = ("network", "background processes")


def _address(ctx: Context, ip: str | None, port: int | None, other_ip: str | None,
             other_port: int | None) -> tuple[str, int]:
    host = ip or other_ip or ctx.node.get_var("ip") or "127.0.0.1"
    chosen = port if port is not None else other_port
    if chosen is None:
        raise CommandSyntaxError("'run tcp server' needs a port",
                                 hint="add: where internal_ip = 127.0.0.1 and internal_port = 32048")
    return host, chosen


@command("run tcp server", http="POST", keywords=NETWORK, options=[
    Opt("external_ip", TEXT, help="the address peers use to reach this node"),
    Opt("external_port", Port(), help="the port peers use (default: internal_port)"),
    Opt("internal_ip", TEXT, aliases=("ip",), help="the address on this machine's network (default: external_ip)"),
    Opt("internal_port", Port(), aliases=("port",), help="the port to listen on (0: any free port)"),
    Opt("bind", BOOL, default=False, help="true: listen on internal_ip only; false: on every interface"),
    Opt("threads", Int(1, 64), default=6, help="how many peers' commands or file chunks run at once"),
    Opt("ssl", BOOL, default=False, help="serve TLS (needs cert_file and key_file)"),
    Opt("cert_file", FilePath(), help="PEM certificate of this node (with ssl)"),
    Opt("key_file", FilePath(), help="PEM private key of this node (with ssl)"),
    Opt("ca_file", FilePath(), help="PEM CA: peers must present a certificate it signed (with ssl)"),
    Opt("max_connections", Int(1, 100_000), default=1024,
        help="peers connected at once that have sent a verified frame; more are refused"),
    Opt("max_pending", Int(1, 100_000), default=128,
        help="connections at once still waiting for their first frame; when full, the oldest is dropped"),
    Opt("first_frame_timeout", SECONDS, default=5.0,
        help="seconds a new connection has to send its first (signed, with a key) frame"),
], examples=[
    "run tcp server where external_ip = !external_ip and external_port = !anylog_server_port "
    "and internal_ip = !ip and internal_port = !anylog_server_port and bind = false and threads = 6",
    "run tcp server where internal_ip = 127.0.0.1 and internal_port = 32048 and bind = true",
    "run tcp server where internal_ip = 127.0.0.1 and internal_port = 32048 and max_pending = 32 "
    "and first_frame_timeout = 3",
])
def run_tcp_server(ctx: Context, external_ip: str | None, external_port: int | None, internal_ip: str | None,
                   internal_port: int | None, bind: bool, threads: int, ssl: bool, cert_file: str | None,
                   key_file: str | None, ca_file: str | None, max_connections: int, max_pending: int,
                   first_frame_timeout: float) -> Result:
    """Serve other nodes: they run remote-safe commands here and send files into the watch directory.

    Frames are length-prefixed with a JSON header; with a network key (`set
    network key`) every frame is signed and strangers are refused; with ssl,
    the connection is TLS. Each peer connection is served in order by its own
    thread; `threads` bounds how many frames run at once over all of them.

    A new connection is pending until its first frame arrives complete and,
    with a network key, correctly signed: it must send it within
    `first_frame_timeout` and at most `max_pending` connections wait at once
    (the oldest is dropped for a newcomer), so idle strangers cannot lock peers
    out. Only connections past their first frame count against
    `max_connections`; beyond it new connections are refused.
    """
    from anynode.net.tls import server_ssl_context
    from anynode.tcp.service import TcpConfig, TcpService

    int_ip, int_port = _address(ctx, internal_ip, internal_port, external_ip, external_port)
    ext_ip, ext_port = _address(ctx, external_ip, external_port, internal_ip, internal_port)
    context = None
    if ssl:
        if not cert_file or not key_file:
            raise CommandSyntaxError("ssl = true needs cert_file and key_file",
                                     hint="add: and cert_file = node.crt and key_file = node.key")
        context = server_ssl_context(cert_file, key_file, ca_file)
    if first_frame_timeout <= 0:
        raise CommandSyntaxError("first_frame_timeout must be more than 0 seconds",
                                 hint="e.g. first_frame_timeout = 5 (a peer sends its first frame at once)")
    service = TcpService(ctx.node, TcpConfig(ext_ip, ext_port, int_ip, int_port, bind, threads, context,
                                             max_connections, max_pending, first_frame_timeout))
    status = ctx.node.services.start(service, float(ctx.node.settings["start_timeout"]))
    return Message(f"TCP server running: {status.details}")


@command("set network key", args=[Arg("key", TEXT, help="the shared secret of the network; \"\" turns signing off")],
         http="POST", keywords=("network", "security"), secret=True,
         examples=["set network key !network_key", "set network key \"\""])
def set_network_key(ctx: Context, key: str) -> Result:
    """Sign every node-to-node frame with a shared key and refuse peers without it.

    HMAC-SHA256 over each frame with a timestamp and a nonce (replayed or
    stale frames are refused). Every node of the network needs the same key;
    the setting `network_key` sets it at start.
    """
    ctx.node.set_network_key(key)
    return Message("network key set: frames are signed" if key else "network key removed: frames are not signed")


def _file_copy(ctx: Context, dests: list[str], words: Rest, timeout: float) -> Result:
    """``run client (dest) file copy <local file> <!!target_dir/name>``: send a file to peers."""
    from anynode.net import send_file
    from anynode.net.peers import replies_or_raise

    if len(words) != 4:
        raise CommandSyntaxError("file copy needs a local file and a destination",
                                 hint="write: run client (ip:port) file copy data.json !!watch_dir/data.json")
    source, target = words[2].text, words[3].text
    if not Path(source).is_file():
        raise CommandSyntaxError(f"no file '{source}' to copy", hint="give the path of a file on this node")
    dir_part, _, name = target.rpartition("/")
    if not dir_part.startswith("!") or not dir_part.endswith("_dir") or "/" in dir_part:
        raise CommandSyntaxError(f"'{target}' is not a place a peer accepts files",
                                 hint="use !!watch_dir/<name> (also !!prep_dir, !!bkup_dir, !!blobs_dir, !!tmp_dir)")
    replies = []
    for dest in dests:
        try:
            report = send_file(ctx.node.client(), dest, source, name=name or Path(source).name,
                               target=dir_part[1:].removesuffix("_dir"), timeout=timeout, cancel=ctx.cancel)
            replies.append(Reply(dest, Message(f"{report.size} bytes delivered as {report.name}"), None))
        except AnyNodeError as exc:
            replies.append(Reply(dest, None, exc.to_wire()))
    return replies_or_raise(replies)


@command("run client", args=[
    Arg("destination", Destinations(), help="(ip:port, ip:port) — and inside: timeout = N, subset = true"),
    Arg("command", Words(), help="the command the peers run"),
], remote=False, keywords=("network",), examples=[
    "run client (127.0.0.1:32148) get status",
    "run client (10.0.0.2:32148, 10.0.0.3:32148, timeout = 5) get processes where format = json",
    "run client (!operator_conn) get status",
    "run client (blockchain get operator where company = acme bring.ip_port) get status",
    "run client (dbms = demo and table = sensor) get processes",
    "run client (127.0.0.1:32148) file copy data/my.json !!watch_dir/demo.readings.0.json",
])
def run_client(ctx: Context, destination: DestinationList, command: Rest) -> Result:
    """Run a command on other nodes, in parallel, and show each node's reply or error; `sql` answers as one database.

    `run client () sql DBMS "select ..."` asks every cluster that holds the
    table (from the metadata), one operator each, main first, and combines
    their answers as one database would (docs/query.md); with named peers,
    those peers answer the same way. `subset = true` inside the parentheses
    accepts the answers of those that reply.

    The destinations may come from the metadata: (blockchain get operator
    where ... bring.ip_port), (operator where ...), or (dbms = d and table =
    t) for one responding operator of each cluster holding the table.
    Peers run only commands declared remote-safe. The reply of each
    destination comes back within the timeout (default: setting
    remote_timeout); an unreachable, refusing or slow peer shows its error
    instead. `!!name` defers a variable to the peer.
    """
    timeout = destination.timeout
    dests = list(destination.dests)
    if destination.query:
        from anynode.metadata.destinations import resolve  # the peers the metadata names

        found = resolve(ctx.node, ctx.run, destination.query, destination.subset)
        dests, timeout = list(found.dests), found.timeout or timeout
    is_sql = bool(command) and command[0].is_word("sql")
    if not dests and not destination.query and not is_sql:
        raise CommandSyntaxError("'run client ()' takes its destinations from the query's table: only for sql",
                                 hint="name the peers: run client (ip:port) <command>")
    timeout = timeout or float(ctx.node.settings["remote_timeout"])
    if is_sql:  # one answer from every operator that holds the table, as if one database held it all
        from anynode.query.netsql import metadata_routes, network_sql

        return network_sql(ctx.node, ctx.fmt, list(command), dests, destination.subset, timeout,
                           metadata_routes(ctx.node), stream=True, cancel=ctx.cancel)
    if len(command) >= 2 and command[0].is_word("file") and command[1].is_word("copy"):
        return _file_copy(ctx, dests, command, timeout)
    from anynode.net.peers import ask_peers

    return ask_peers(ctx.node.client(), dests, command.source, timeout, cancel=ctx.cancel)
