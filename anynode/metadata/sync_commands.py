"""The synchronizer's commands: run blockchain sync, get synchronizer, exit synchronizer, seed, switch network."""

from __future__ import annotations

from typing import TYPE_CHECKING

from anynode import values
from anynode.codes import Code
from anynode.errors import AlreadyRunning, CommandSyntaxError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.types import BOOL, FORMAT, SECONDS, TEXT, Choice, FilePath, HostPort
from anynode.metadata.build import BLOCKCHAIN
from anynode.metadata.policy import PolicyError
from anynode.results import Json, Message, Result, Table

if TYPE_CHECKING:
    from anynode.metadata.sync import SyncService

KEYS = (*BLOCKCHAIN, "background processes")
NAME = "Blockchain Sync"


def _running(ctx: Context) -> SyncService | None:
    from anynode.metadata.sync import SyncService

    if NAME not in ctx.node.services.running():
        return None
    service = ctx.node.services.get(NAME)
    return service if isinstance(service, SyncService) else None


def _master_of(ctx: Context) -> str:
    """The master's ip:port from the ledger (``blockchain get master bring.ip_port``)."""
    found = ctx.run("blockchain get master bring.ip_port").to_text().strip()
    first = found.split(",")[0].strip() if found else ""
    if not first:
        raise CommandSyntaxError("run blockchain sync with source = master needs the master's address",
                                 hint="add: and connection = ip:port  (or insert the master's policy first)")
    return first


@command("run blockchain sync", http="POST", keywords=KEYS, options=[
    Opt("source", Choice("master", "dbms", "file", "blockchain"), help="master: copy the master's ledger over TCP; "
        "dbms (on the master): export its ledger table to the file; file: copy a shared ledger file"),
    Opt("time", SECONDS, help="the period, at least 1 second: 30 seconds, 1 minute ..."),
    Opt("dest", Choice("file", "dbms"), multiple=True,
        help="file (the local ledger), and/or dbms (also the local ledger table)"),
    Opt("connection", TEXT, aliases=("master_node",),
        help="the master's ip:port (default: blockchain get master bring.ip_port); with source = file, the "
             "shared file"),
    Opt("file", FilePath(), help="the ledger file (default: !blockchain_file)"),
    Opt("platform", TEXT, ignored=True, help="a blockchain platform (source = blockchain)"),
    Opt("trace", BOOL, ignored=True, help="trace the sync"),
], examples=[
    "run blockchain sync where source = master and time = 30 seconds and dest = file and connection = !ledger_conn",
    "run blockchain sync where source = dbms and time = 10 seconds and dest = file",
    "run blockchain sync",
])
def run_blockchain_sync(ctx: Context, source: str | None, time: float | None, dest: list[str] | None,
                        connection: str | None, file: str | None) -> Result:
    """Keep the local ledger a copy of the master's: each period, copy it when its version differs.

    Local policies the master's copy lacks are kept and pushed on; the copy
    replaces the ledger in one atomic swap and a failed sync keeps the last
    good copy (`get synchronizer` shows the age of the last good sync and
    the last error). Without options, while it runs: sync now.
    """
    from anynode.metadata.sync import SyncConfig, SyncService

    running = _running(ctx)
    if source is None and time is None and not dest and connection is None and file is None:
        if running is None:
            raise PolicyError(Code.PROCESS_FAILURE,
                              "'run blockchain sync' without options syncs now, but no synchronizer runs",
                              hint="start one: run blockchain sync where source = master and time = 30 seconds "
                                   "and dest = file and connection = ip:port")
        running.now()
        return Message("synchronizer signalled: syncing now")
    if running is not None:
        raise AlreadyRunning("Process already active: the synchronizer runs",
                             hint="'run blockchain sync' syncs now; 'exit synchronizer' stops it")
    if source is None or time is None or not dest:
        missing = [n for n, v in (("source", source), ("time", time), ("dest", dest)) if not v]
        raise CommandSyntaxError(f"run blockchain sync needs {', '.join(missing)}",
                                 hint="write: run blockchain sync where source = master and time = 30 seconds "
                                      "and dest = file and connection = ip:port")
    if time < 1:
        raise CommandSyntaxError(f"the sync time must be at least 1 second, not {time:g}",
                                 hint="e.g. time = 30 seconds")
    if source == "blockchain":
        raise CommandSyntaxError("syncing from a blockchain platform is not available",
                                 hint="use source = master with the master's connection")
    if source == "dbms" and connection is not None:
        raise CommandSyntaxError("source = dbms exports this node's ledger table and takes no connection",
                                 hint="drop the connection, or use source = master")
    if source == "file":
        if not connection:
            raise CommandSyntaxError("source = file needs the shared ledger file",
                                     hint="add: and connection = /shared/blockchain.json")
        connection = values.parse_path(connection)
    elif connection is not None:
        connection = HostPort().convert(connection)
    if file is not None:
        ctx.node.set_var("blockchain_file", file)
    if source == "master" and connection is None:
        connection = _master_of(ctx)
    if source == "dbms" or "dbms" in dest:
        from anynode.metadata.master import has_table, not_connected

        if not ctx.node.catalog.is_connected("blockchain"):
            raise not_connected()
        if not has_table(ctx.node.catalog):
            raise PolicyError(Code.PROCESS_FAILURE, "the database 'blockchain' has no ledger table",
                              hint="blockchain create table")
    service = SyncService(ctx.node, SyncConfig(source, time, connection, tuple(dest)))
    status = ctx.node.services.start(service, float(ctx.node.settings["start_timeout"]))
    return Message(f"synchronizer running: {status.details}")


@command("get synchronizer", options=[Opt("format", FORMAT, default="table")], remote=True, keywords=KEYS,
         examples=["get synchronizer", "get synchronizer where format = json"])
def get_synchronizer(ctx: Context, format: str) -> Result:
    """The synchronizer: its source, period, version, age of the last good sync, counters and last error."""
    from anynode.metadata.sync import COLUMNS

    service = _running(ctx)
    if service is None:
        row: tuple[object, ...] = ("Not running", *[""] * (len(COLUMNS) - 1))
    else:
        row = service.row()
    if format == "json":
        return Json(dict(zip(COLUMNS, row, strict=True)))
    return Table.of(COLUMNS, [row])


@command("exit synchronizer", http="POST", keywords=KEYS, examples=["exit synchronizer"])
def exit_synchronizer(ctx: Context) -> Result:
    """Stop the synchronizer (the local ledger stays as the last sync left it)."""
    ctx.node.services.stop(NAME)
    return Message("synchronizer process terminated")


@command("blockchain seed from", http="POST", keywords=BLOCKCHAIN,
         args=[Arg("source", HostPort(), help="the ip:port of a node whose ledger file to copy")],
         examples=["blockchain seed from 10.0.0.25:32048", "blockchain seed from !ledger_conn"])
def blockchain_seed_from(ctx: Context, source: str) -> Result:
    """Copy another node's ledger file once, replacing this node's (a new node's first copy)."""
    from anynode.metadata.sync import seed

    count = seed(ctx.node, source)
    return Message(f"ledger seeded from {source}: {count} policies")


@command("blockchain switch network", http="POST", keywords=KEYS,
         options=[Opt("master", HostPort(), required=True, help="the new master's ip:port")],
         examples=["blockchain switch network where master = 10.0.0.26:32048"])
def blockchain_switch_network(ctx: Context, master: str) -> Result:
    """Sync with another master from now on (the synchronizer must run); syncs at once."""
    service = _running(ctx)
    if service is None or service.config.source != "master":
        raise PolicyError(Code.PROCESS_FAILURE, "no synchronizer with a master runs",
                          hint="run blockchain sync where source = master and time = 30 seconds and dest = file "
                               f"and connection = {master}")
    service.switch(master)
    return Message(f"synchronizer switched to master {master}")


@command("wait for sync", hidden=True, keywords=KEYS, args=[Arg("seconds", SECONDS, help="how long to wait")],
         examples=["wait for sync 10"])
def wait_for_sync(ctx: Context, seconds: float) -> Result:
    """Wait until the next good sync ends (`wait N for sync` comes here); true when it did within the time."""
    from anynode.metadata.sync import rounds

    return Message("true" if rounds(ctx.node).wait_next(seconds, ctx.node.exit_event) else "false")
