"""The operator: run operator, get operator (the file records it keeps are in :mod:`anynode.data.tsd_commands`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anynode.errors import CommandSyntaxError, ServiceError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.types import BOOL, FORMAT, SECONDS, TEXT, Choice, FilePath, HostPort, Int
from anynode.results import Json, Message, Record, Result, Table

KEYS = ("data", "background processes")
FMT = Opt("format", FORMAT, default="table", help="table, or json for programs")


def _dir(ctx: Context, given: str | None, var: str) -> Path:
    path = given or ctx.node.get_var(var)
    if not path:
        raise CommandSyntaxError(f"no {var} to use", hint=f"give {var} = <path>")
    return Path(path)


def _table_list(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(p.strip().lower() for p in text.strip("()[]").replace(",", " ").split() if p.strip())


@command("run operator", http="POST", keywords=KEYS, options=[
    Opt("watch_dir", FilePath(), help="directory watched for data files (default !watch_dir)"),
    Opt("bkup_dir", FilePath(), help="where ingested files go when archive_json = false (default !bkup_dir)"),
    Opt("error_dir", FilePath(), aliases=("err_dir",), help="where bad files go, with the reason (default !err_dir)"),
    Opt("archive_dir", FilePath(), help="where ingested files are archived by date (default !archive_dir)"),
    Opt("archive_json", BOOL, default=True, aliases=("archive",), help="keep ingested files under archive/YY/MM/DD/"),
    Opt("compress_json", BOOL, default=True, help="gzip kept files"),
    Opt("delete_json", BOOL, default=False, help="delete ingested files instead of keeping them"),
    Opt("move_json", BOOL, default=False, ignored=True, help="files are always moved"),
    Opt("dbms_name", TEXT, help="put every file's rows in this database (default: the name's first section)"),
    Opt("table_name", TEXT, help="put every file's rows in this table (default: the name's second section)"),
    Opt("limit_tables", TEXT, help="only these dbms.table (dbms.* for a whole database); others are refused (130)"),
    Opt("create_table", BOOL, default=True, help="create tables for new data (false: refuse files of unknown tables)"),
    Opt("update_tsd_info", BOOL, default=True, ignored=True,
        help="every file is always recorded (its record is what makes ingest exactly-once)"),
    Opt("threads", Int(1, 10), default=1, help="files ingested side by side (a table's first file runs alone)"),
    Opt("rescan", SECONDS, default=5.0, help="how often the directory is listed besides the file events"),
    Opt("policy", TEXT, help="the operator policy id: the node joins its cluster; new tables are added to it"),
    Opt("master_node", HostPort(), help="the master the cluster policies of new tables are published to"),
    Opt("blockchain", TEXT, help="the ledger's platform: master (or local); a public blockchain is refused"),
    Opt("compress_sql", BOOL, default=True, ignored=True,
        help="rows go straight into the database: the operator never makes .sql files to compress"),
    Opt("archive_sql", BOOL, default=False, ignored=True,
        help="rows go straight into the database: the operator never makes .sql files to archive"),
    Opt("distributor", BOOL, default=False, ignored=True, help="HA is not available yet"),
    Opt("company", TEXT, ignored=True),
], examples=[
    "run operator",
    "run operator where create_table = true and update_tsd_info = true and archive_json = true "
    "and compress_json = true and threads = 1",
    "run operator where watch_dir = /data/incoming and limit_tables = (demo.readings, demo.events)",
    "run operator where policy = !operator_policy and create_table = true and update_tsd_info = true "
    "and archive_json = true and distributor = false and master_node = !ledger_conn",
])
def run_operator(ctx: Context, watch_dir: str | None, bkup_dir: str | None, error_dir: str | None,
                 archive_dir: str | None, archive_json: bool, compress_json: bool, delete_json: bool,
                 dbms_name: str | None, table_name: str | None, limit_tables: str | None,
                 create_table: bool, threads: int, rescan: float, policy: str | None,
                 master_node: str | None, blockchain: str | None) -> Result:
    """Ingest every data file that lands in the watch directory into the local databases.

    A file named dbms.table[.source.hash.instructions].json[.gz] holding a
    JSON array, one object or JSON lines becomes rows of dbms.table (the
    database must be connected). Good files are archived under
    archive/YY/MM/DD/; bad ones go to the error directory named
    <name>.err_<code>.<n>.json with a .err.txt saying what was wrong.
    With policy = <operator policy id> the node is that operator of the
    metadata: it takes its cluster from the policy, and every table it
    ingests that the cluster does not hold is added to the cluster (a child
    cluster policy, inserted locally and sent to master_node when given).
    distributor and company are accepted for AnyLog scripts and noted in
    the reply: HA does not exist here yet. compress_sql and archive_sql are
    accepted and have nothing to act on: rows are inserted directly, never
    through .sql files. blockchain names the ledger's platform: master (the
    metadata comes from a master node) or local; a public blockchain is
    refused, as blockchain connect is.
    """
    from anynode.operator.service import OperatorConfig, OperatorService

    if blockchain is not None and blockchain.lower() not in ("master", "local"):
        from anynode.metadata.platforms import PlatformUnavailable

        raise PlatformUnavailable(f"the operator cannot take its metadata from the blockchain platform "
                                  f"'{blockchain}': anynode keeps policies with a master node",
                                  hint="run operator where policy = <id> and master_node = <master ip:port>")
    ignored = [k for k in ("distributor", "company") if ctx.ignored.get(k)]
    member = None
    if policy:
        from anynode.metadata.membership import join  # the operator's cluster, from the metadata

        member = join(ctx.node, policy, master_node)
    if rescan <= 0:
        raise CommandSyntaxError("rescan must be above 0 seconds", hint="e.g. rescan = 5 seconds")
    config = OperatorConfig(
        watch_dir=_dir(ctx, watch_dir, "watch_dir").resolve(), archive_dir=_dir(ctx, archive_dir, "archive_dir"),
        bkup_dir=_dir(ctx, bkup_dir, "bkup_dir"), error_dir=_dir(ctx, error_dir, "err_dir"),
        archive_json=archive_json, compress_json=compress_json, delete_json=delete_json,
        dbms_name=dbms_name.lower() if dbms_name and "[" not in dbms_name else None,
        table_name=table_name.lower() if table_name and "[" not in table_name else None,
        limit_tables=_table_list(limit_tables), create_table=create_table, threads=threads, rescan=rescan)
    status = ctx.node.services.start(OperatorService(ctx.node, config, member),
                                     float(ctx.node.settings["start_timeout"]))
    note = f"; ignored (HA does not exist yet): {', '.join(ignored)}" if ignored else ""
    return Message(f"Operator running: watching {config.watch_dir} ({status.details}){note}")


def _operator(ctx: Context) -> Any:
    service = ctx.node.services.get("Operator")
    if service is None:
        raise ServiceError("the operator has not run on this node", hint="start it with: run operator")
    return service


@command("get operator", args=[Arg("view", Choice("summary", "config", "tables"), required=False,
                                   help="summary (AnyLog's one-line view), config, or tables")],
         options=[FMT], remote=True, keywords=KEYS,
         examples=["get operator", "get operator where format = json", "get operator summary", "get operator config",
                   "get operator tables where format = json"])
def get_operator(ctx: Context, view: str | None, format: str) -> Result:
    """Show what the operator did: files, rows, errors with the last reason, rows/s, last file.

    get operator summary gives AnyLog's columns (new rows and errors since the
    previous summary), config the options it runs with, tables the files and
    rows per table.
    """
    service = _operator(ctx)
    if view == "summary":
        row = service.summary()
        row["Status"] = ctx.node.services.status("Operator").state
        return Json(row) if format == "json" else Table.of(list(row), [tuple(row.values())])
    if view == "config":
        values = {k: str(v) for k, v in service.config.__dict__.items()}
        return Json(values) if format == "json" else Record(values, title="Operator configuration")
    if view == "tables":
        rows = [(key, files, rows) for key, (files, rows) in sorted(service.stats.by_table.items())]
        if format == "json":
            return Json({k: {"files": f, "rows": r} for k, f, r in rows})
        return Table.of(["Table", "Files", "Rows"], rows)
    info = {"status": ctx.node.services.status("Operator").state, **service.info()}
    return Json(info) if format == "json" else Record(info, title="Operator")
