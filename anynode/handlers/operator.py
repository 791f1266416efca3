"""The operator: run operator, get operator, get tsd details|summary|errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anynode.errors import CommandSyntaxError, ServiceError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.parser import Rest
from anynode.grammar.types import BOOL, FORMAT, SECONDS, TEXT, Choice, Int, Path as PathType, Words
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
    Opt("watch_dir", PathType(), help="directory watched for data files (default !watch_dir)"),
    Opt("bkup_dir", PathType(), help="where ingested files go when archive_json = false (default !bkup_dir)"),
    Opt("error_dir", PathType(), aliases=("err_dir",), help="where bad files go, with the reason (default !err_dir)"),
    Opt("archive_dir", PathType(), help="where ingested files are archived by date (default !archive_dir)"),
    Opt("archive_json", BOOL, default=True, aliases=("archive",), help="keep ingested files under archive/YY/MM/DD/"),
    Opt("compress_json", BOOL, default=True, help="gzip kept files"),
    Opt("delete_json", BOOL, default=False, help="delete ingested files instead of keeping them"),
    Opt("move_json", BOOL, default=False, help="accepted for AnyLog scripts: files are always moved"),
    Opt("dbms_name", TEXT, help="put every file's rows in this database (default: the name's first section)"),
    Opt("table_name", TEXT, help="put every file's rows in this table (default: the name's second section)"),
    Opt("limit_tables", TEXT, help="only these dbms.table (dbms.* for a whole database); others are refused (130)"),
    Opt("create_table", BOOL, default=True, help="create tables for new data (false: refuse files of unknown tables)"),
    Opt("update_tsd_info", BOOL, default=True, help="accepted for AnyLog scripts: every file is always recorded"),
    Opt("threads", Int(1, 10), default=1, help="accepted for AnyLog scripts: writes to a database are serial"),
    Opt("rescan", SECONDS, default=5.0, help="how often the directory is listed besides the file events"),
    Opt("policy", TEXT, help="AnyLog's operator policy id; kept for scripts, metadata is not used yet"),
    Opt("master_node", TEXT, help="accepted for AnyLog scripts; metadata is not used yet"),
    Opt("distributor", BOOL, default=False, help="accepted for AnyLog scripts; HA is not available yet"),
    Opt("company", TEXT, help="accepted for AnyLog scripts"),
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
                 move_json: bool, dbms_name: str | None, table_name: str | None, limit_tables: str | None,
                 create_table: bool, update_tsd_info: bool, threads: int, rescan: float, policy: str | None,
                 master_node: str | None, distributor: bool, company: str | None) -> Result:
    """Ingest every data file that lands in the watch directory into the local databases.

    A file named dbms.table[.source.hash.instructions].json[.gz] holding a
    JSON array, one object or JSON lines becomes rows of dbms.table (the
    database must be connected). Good files are archived under
    archive/YY/MM/DD/; bad ones go to the error directory named
    <name>.err_<code>.<n>.json with a .err.txt saying what was wrong.
    """
    from anynode.services.operator import OperatorConfig, OperatorService

    if rescan <= 0:
        raise CommandSyntaxError("rescan must be above 0 seconds", hint="e.g. rescan = 5 seconds")
    config = OperatorConfig(
        watch_dir=_dir(ctx, watch_dir, "watch_dir").resolve(), archive_dir=_dir(ctx, archive_dir, "archive_dir"),
        bkup_dir=_dir(ctx, bkup_dir, "bkup_dir"), error_dir=_dir(ctx, error_dir, "err_dir"),
        archive_json=archive_json, compress_json=compress_json, delete_json=delete_json, move_json=move_json,
        dbms_name=dbms_name.lower() if dbms_name and "[" not in dbms_name else None,
        table_name=table_name.lower() if table_name and "[" not in table_name else None,
        limit_tables=_table_list(limit_tables), create_table=create_table, threads=threads, rescan=rescan)
    status = ctx.node.services.start(OperatorService(ctx.node, config), float(ctx.node.settings["start_timeout"]))
    return Message(f"Operator running: watching {config.watch_dir} ({status.details})")


def _operator(ctx: Context) -> Any:
    service = ctx.node.services.get("Operator")
    if service is None:
        raise ServiceError("the operator has not run on this node", hint="start it with: run operator")
    return service


@command("get operator", args=[Arg("view", Choice("summary", "config", "tables"), required=False,
                                   help="summary (default), config, or tables")],
         options=[FMT], remote=True, keywords=KEYS,
         examples=["get operator", "get operator config", "get operator tables where format = json"])
def get_operator(ctx: Context, view: str | None, format: str) -> Result:
    """Show what the operator did: files, rows, errors with the last reason, rows/s, last file."""
    service = _operator(ctx)
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


_TSD_COLUMNS = "file_id, dbms_name, table_name, source, file_hash, instructions, file_time, rows, status1, status2"


@command("get tsd", args=[Arg("view", Choice("details", "summary", "errors"), help="details, summary or errors")],
         options=[Opt("hash", TEXT, help="only the file with this hash"),
                  Opt("limit", Int(1, 100000), default=100, help="rows shown (details, errors)"), FMT],
         remote=True, keywords=KEYS,
         examples=["get tsd details", "get tsd details where hash = 0a07ef7260634e625da03ff5f54cc53e",
                   "get tsd summary", "get tsd errors where limit = 20"])
def get_tsd(ctx: Context, view: str, hash: str | None, limit: int, format: str) -> Result:
    """Show the record of ingested files (AnyLog's tsd_info in almgm): details, per-table summary, or errors.

    Every ingested file has a row: id, database, table, source, hash, time and
    rows; errors are the files recorded with no rows.
    """
    catalog = ctx.node.catalog
    if not catalog.is_connected("almgm") or "tsd_info" not in catalog.tables("almgm"):
        return Message("no file has been ingested on this node yet (almgm.tsd_info is empty)")
    if view == "summary":
        sql = ("select dbms_name, table_name, count(*) as files, sum(rows) as rows, min(file_time) as first_file, "
               "max(file_time) as last_file from tsd_info group by dbms_name, table_name order by dbms_name, table_name")
        params: tuple[Any, ...] = ()
    else:
        where = "where rows = 0" if view == "errors" else ""
        params = ()
        if hash:
            where = (where + " and" if where else "where") + " file_hash = ?"
            params = (hash,)
        sql = f"select {_TSD_COLUMNS} from tsd_info {where} order by file_id desc limit {int(limit)}"
    columns, rows = catalog.query("almgm", catalog.get("almgm").backend.sql(sql), params)
    if format == "json":
        return Json([dict(zip(columns, r)) for r in rows])
    return Table.of(columns, rows, title=f"Info on TSD table: tsd_info ({view})")


def _tsd_row(ctx: Context, file_id: int) -> tuple[str, str, str]:
    """(dbms, table, hash) of a file's record in almgm.tsd_info."""
    catalog = ctx.node.catalog
    if catalog.is_connected("almgm") and "tsd_info" in catalog.tables("almgm"):
        sql = catalog.get("almgm").backend.sql("select dbms_name, table_name, file_hash from tsd_info where file_id = ?")
        _, rows = catalog.query("almgm", sql, (file_id,))
        if rows:
            return rows[0][0], rows[0][1], rows[0][2]
    raise CommandSyntaxError(f"no file with id {file_id} in tsd_info", hint="'get tsd details' lists the files")


@command("time file delete", args=[Arg("file_id", Int(1), help="the file's id (get tsd details)"),
                                   Arg("table", Words(), required=False, help="AnyLog's optional 'from tsd_info'")],
         http="POST", keywords=KEYS, examples=["time file delete 12", "time file delete 12 from tsd_info"])
def time_file_delete(ctx: Context, file_id: int, table: Rest) -> Result:
    """Forget that a file was ingested, so the same file can be ingested again.

    The record goes from almgm.tsd_info and from its database's own file
    record; the rows it brought stay (delete them with sql first if the file
    is to replace them).
    """
    if table.text.lower() not in ("", "from tsd_info"):
        raise CommandSyntaxError("only tsd_info holds this node's file records", hint="time file delete <id> from tsd_info")
    catalog = ctx.node.catalog
    dbms, tbl, file_hash = _tsd_row(ctx, file_id)
    removed = catalog.execute("almgm", catalog.get("almgm").backend.sql("delete from tsd_info where file_id = ?"),
                              (file_id,))
    if catalog.is_connected(dbms) and "tsd_info" in catalog.tables(dbms):
        catalog.execute(dbms, catalog.get(dbms).backend.sql("delete from tsd_info where file_hash = ?"), (file_hash,))
    return Message(f"file {file_id} ({dbms}.{tbl}, hash {file_hash}) forgotten: {removed} record(s) removed; "
                   "the same file will be ingested again")


@command("time file update", args=[Arg("hash", TEXT, help="the file's hash"),
                                   Arg("status1", TEXT, help="a status text"),
                                   Arg("status2", TEXT, required=False, help="a second status text")],
         http="POST", keywords=KEYS, examples=['time file update 0a07ef7260634e625da03ff5f54cc53e "checked" "ok"'])
def time_file_update(ctx: Context, hash: str, status1: str, status2: str | None) -> Result:
    """Set the status fields of a file's record in almgm.tsd_info (notes for whoever repairs data)."""
    catalog = ctx.node.catalog
    if not catalog.is_connected("almgm"):
        raise CommandSyntaxError("no file has been ingested on this node yet", hint="'get tsd details' lists files")
    count = catalog.execute("almgm", catalog.get("almgm").backend.sql(
        "update tsd_info set status1 = ?, status2 = ? where file_hash = ?"), (status1, status2, hash))
    if count == 0:
        raise CommandSyntaxError(f"no file with hash {hash} in tsd_info", hint="'get tsd details' lists the hashes")
    return Message(f"{count} record(s) updated")
