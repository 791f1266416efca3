"""The record of ingested files (AnyLog's TSD tables): get tsd, and the time file commands that inspect,
repair, add to it, and rename files to AnyLog's naming convention."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from anynode.errors import CommandSyntaxError
from anynode.grammar.dispatch import Context
from anynode.grammar.parser import Rest
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.types import FORMAT, TEXT, Choice, Int, Words
from anynode.results import Json, Message, Result, Table

KEYS = ("data", "background processes")
FMT = Opt("format", FORMAT, default="table", help="table, or json for programs")

_TSD_COLUMNS = "file_id, dbms_name, table_name, source, file_hash, instructions, file_time, rows, status1, status2"
_RELATIVE = re.compile(r"^-?\s*(\d+)\s*([smhdw])$", re.I)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
TSD_OPTIONS = [
    Opt("table", TEXT, default="tsd_info", help="tsd_info or * (this node keeps no peer tsd_<member> tables yet)"),
    Opt("hash", TEXT, help="only the file with this hash"),
    Opt("start_date", TEXT, help="files from this time: -3d, -12h, or a date like 2026-01-31 (UTC)"),
    Opt("end_date", TEXT, help="files before this time (same forms)"),
    Opt("limit", Int(0, 10**9), default=100, help="rows shown, 0 for all (details, errors)"), FMT]


def _date(text: str, what: str) -> datetime:
    """A naive UTC time from AnyLog's relative form (-3d) or an ISO date."""
    found = _RELATIVE.match(text.strip())
    if found:
        return datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(
            seconds=int(found.group(1)) * _UNIT[found.group(2).lower()])
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandSyntaxError(f"{what} '{text}' is not a time",
                                 hint=f"e.g. {what} = -3d or {what} = 2026-01-31") from None
    return when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo else when


def _tsd_query(ctx: Context, view: str, table: str, hash: str | None, start_date: str | None,
               end_date: str | None, limit: int, format: str) -> Result:
    """``get tsd`` / ``time file get|summary|errors``: query almgm.tsd_info."""
    if table.lower() not in ("tsd_info", "*"):
        raise CommandSyntaxError(f"no TSD table '{table}' on this node",
                                 hint="this node keeps tsd_info only (no cluster peers): table = tsd_info")
    catalog = ctx.node.catalog
    if not catalog.is_connected("almgm") or "tsd_info" not in catalog.tables("almgm"):
        return Message("no file has been ingested on this node yet (almgm.tsd_info is empty)")
    backend = catalog.get("almgm").backend
    conds, params = [], []
    if view == "errors":
        conds.append("rows = 0")
    for value, op, what in ((start_date, ">=", "start_date"), (end_date, "<", "end_date")):
        if value:
            when = _date(value, what)
            conds.append(f"file_time {op} ?")
            params.append(str(when) if backend.timestamps_as_text else when)
    if hash:
        conds.append("file_hash = ?")
        params.append(hash)
    where = f"where {' and '.join(conds)}" if conds else ""
    if view == "summary":
        sql = ("select dbms_name, table_name, min(file_time) as start_date, min(file_id) as from_id, "
               "max(file_time) as end_date, max(file_id) as to_id, count(*) as files_count, "
               "count(distinct source) as source_count, count(distinct status1) as status_1, "
               "count(distinct status2) as status_2, sum(rows) as total_rows "
               f"from tsd_info {where} group by dbms_name, table_name order by dbms_name, table_name")
    else:
        sql = f"select {_TSD_COLUMNS} from tsd_info {where} order by file_id desc"
        sql += f" limit {int(limit)}" if limit else ""
    columns, rows = catalog.query("almgm", backend.sql(sql), tuple(params))
    if format == "json":
        return Json([dict(zip(columns, r, strict=True)) for r in rows])
    return Table.of(columns, rows, title=f"Info on TSD table: tsd_info ({view})")


@command("get tsd", args=[Arg("view", Choice("details", "summary", "errors"), help="details, summary or errors")],
         options=TSD_OPTIONS, remote=True, keywords=KEYS,
         examples=["get tsd details", "get tsd details where hash = 0a07ef7260634e625da03ff5f54cc53e",
                   "get tsd summary", "get tsd summary where start_date = -3d",
                   "get tsd errors where limit = 20 and format = json"])
def get_tsd(ctx: Context, view: str, table: str, hash: str | None, start_date: str | None, end_date: str | None,
            limit: int, format: str) -> Result:
    """Show the record of ingested files (AnyLog's tsd_info in almgm): details, per-table summary, or errors.

    Every ingested file has a row: id, database, table, source, hash, time and
    rows; errors are the files recorded with no rows (a file refused after its
    record was made). The same as time file get, time file summary and
    time file errors.
    """
    return _tsd_query(ctx, view, table, hash, start_date, end_date, limit, format)


def _tsd_alias(view: str, words: str, example: str) -> None:
    """Register ``time file <view>``: AnyLog's older name of ``get tsd <details|summary|errors>``."""
    target = {"get": "details"}.get(view, view)

    def handler(ctx: Context, table: str, hash: str | None, start_date: str | None, end_date: str | None,
                limit: int, format: str) -> Result:
        return _tsd_query(ctx, target, table, hash, start_date, end_date, limit, format)

    handler.__name__ = words.replace(" ", "_")
    handler.__doc__ = f"Show the file records of tsd_info ({target}), as get tsd {target} does."
    command(words, options=TSD_OPTIONS, remote=True, keywords=KEYS, examples=[words, example])(handler)


_tsd_alias("get", "time file get", "time file get where hash = 0a07ef7260634e625da03ff5f54cc53e and format = json")
_tsd_alias("summary", "time file summary", "time file summary where table = * and start_date = -10d")
_tsd_alias("errors", "time file errors", "time file errors where start_date = -10d")


@command("time file drop", args=[Arg("table", TEXT, help="tsd_info, or all")], http="POST", keywords=KEYS,
         examples=["time file drop tsd_info", "time file drop all"])
def time_file_drop(ctx: Context, table: str) -> Result:
    """Drop the file records (tsd_info), so every file can be ingested again; the rows stay.

    The records go from almgm and from each connected database (anynode keeps
    a copy beside the rows, which is what refuses a file twice). Use it to
    start over after deleting a table's rows; a file dropped into the watch
    directory again after this is ingested again.
    """
    if table.lower() not in ("tsd_info", "all"):
        raise CommandSyntaxError(f"no TSD table '{table}' on this node", hint="time file drop tsd_info (or all)")
    catalog = ctx.node.catalog
    dropped = []
    for name in ["almgm"] + [d.name for d in catalog.databases() if d.name != "almgm"]:
        if catalog.is_connected(name) and "tsd_info" in catalog.tables(name):
            catalog.execute(name, "DROP TABLE tsd_info")
            dropped.append(name)
    if not dropped:
        return Message("no file records to drop (tsd_info does not exist)")
    return Message(f"tsd_info dropped in {', '.join(dropped)}: every file may be ingested again")


def _tsd_row(ctx: Context, file_id: int) -> tuple[str, str, str]:
    """(dbms, table, hash) of a file's record in almgm.tsd_info."""
    catalog = ctx.node.catalog
    if catalog.is_connected("almgm") and "tsd_info" in catalog.tables("almgm"):
        sql = catalog.get("almgm").backend.sql(
            "select dbms_name, table_name, file_hash from tsd_info where file_id = ?")
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
        raise CommandSyntaxError("only tsd_info holds this node's file records",
                                 hint="time file delete <id> from tsd_info")
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


# -- adding records and naming files ------------------------------------------
def _name_of(file: str) -> Any:
    """The parsed AnyLog name of ``file``; a name off the convention is a one-line error with the shape."""
    from anynode.errors import IngestError
    from anynode.ingest.naming import FileName

    try:
        return FileName.parse(file)
    except IngestError as exc:
        raise CommandSyntaxError(exc.message, hint=exc.hint) from None


def _new_record(ctx: Context, file: str, status1: str | None, status2: str | None, must_exist: bool) -> Result:
    from anynode.ingest.reader import file_hash
    from anynode.store import tsd

    name = _name_of(file)
    path = Path(file)
    if must_exist and not path.is_file():
        raise CommandSyntaxError(f"no file {file}", hint="time file add records a file that exists; "
                                 "time file new records one by its name alone")
    fhash = name.hash
    if fhash == "0":
        if not must_exist:
            raise CommandSyntaxError(f"{path.name} carries no hash (its hash section is 0 or missing)",
                                     hint=f"time file rename {file} puts the hash in the name, "
                                          f"or time file add {file} computes it")
        fhash = file_hash(path, name.dbms, name.table)
    when = datetime.now(timezone.utc).replace(tzinfo=None)
    if name.date:  # an 8-section name says when the file was first ingested
        try:
            when = datetime.strptime(name.date[:12], "%y%m%d%H%M%S")
        except ValueError:
            raise CommandSyntaxError(f"date section {name.date} of {path.name} is not a time",
                                     hint="the 8th section is YYMMDDHHMMSS (UTC)") from None
    rec = tsd.TsdRecord(name.dbms, name.table, name.source, fhash, name.instructions, when)
    catalog = ctx.node.catalog
    if not catalog.is_connected("almgm"):
        catalog.connect("almgm")
    mgm = catalog.get("almgm")
    file_id = mgm.writer.run(lambda conn: tsd.add_record(mgm.backend, conn, rec, status1, status2))
    if file_id is None:
        _, rows = catalog.query("almgm", mgm.backend.sql("select file_id from tsd_info where file_hash = ?"),
                                (fhash,))
        known = f" as file {rows[0][0]}" if rows else ""
        raise CommandSyntaxError(f"hash {fhash} is already in tsd_info{known}",
                                 hint="'get tsd details where hash = ...' shows it; a file is recorded once")
    return Message(str(file_id))


_NEW_ARGS = [Arg("status1", TEXT, required=False, help="a first status text"),
             Arg("status2", TEXT, required=False, help="a second status text")]


@command("time file new", args=[Arg("file", TEXT, help="a file named dbms.table.source.hash.instructions.json"),
                                *_NEW_ARGS], http="POST", keywords=KEYS,
         examples=["time file new demo.readings.0.0a07ef7260634e625da03ff5f54cc53e.0.json",
                   'time file new !prep_dir/demo.readings.dev7.0a07ef7260634e625da03ff5f54cc53e.0.json '
                   '"from publisher 7" "sent to backup"'])
def time_file_new(ctx: Context, file: str, status1: str | None, status2: str | None) -> Result:
    """Record a file in tsd_info from its name alone (the file need not be here); answers its file id.

    The record takes database, table, source, hash and instructions from the
    name, so the name must carry the hash (time file rename puts it there).
    It starts with 0 rows, so get tsd errors lists it until the file's rows
    are ingested here. A hash recorded already is refused.
    """
    return _new_record(ctx, file, status1, status2, must_exist=False)


@command("time file add",
         args=[Arg("file", TEXT, help="path of a file named dbms.table[.source.hash.instructions].json"), *_NEW_ARGS],
         http="POST", keywords=KEYS,
         examples=["time file add !prep_dir/demo.readings.json",
                   'time file add !prep_dir/demo.readings.0.0a07ef7260634e625da03ff5f54cc53e.0.json "checked"'])
def time_file_add(ctx: Context, file: str, status1: str | None, status2: str | None) -> Result:
    """Record a file that is here in tsd_info, as time file new does; answers its file id.

    The file must exist; when its name carries no hash, the hash is computed
    from the content (md5 of "dbms.table" and the data, as the operator does).
    """
    return _new_record(ctx, file, status1, status2, must_exist=True)


@command("time file rename", args=[Arg("file", TEXT, help="the file to rename (.json or .json.gz)")],
         clause="to", http="POST", keywords=KEYS, options=[
             Opt("dbms", TEXT, help="database section (default: the name's own)"),
             Opt("table", TEXT, help="table section (default: the name's own)"),
             Opt("source", TEXT, help="source section (default: the name's own, else 0)"),
             Opt("hash", TEXT, help="hash section (default: computed from the content)"),
             Opt("instructions", TEXT, help="instructions section (default: the name's own, else 0)")],
         examples=["time file rename !prep_dir/demo.readings.json",
                   "time file rename !prep_dir/demo.readings.json to table = heat_sensor",
                   "new_name = time file rename /data/x.json to dbms = demo and table = readings and source = dev7"])
def time_file_rename(ctx: Context, file: str, dbms: str | None, table: str | None, source: str | None,
                     hash: str | None, instructions: str | None) -> Result:
    """Rename a file, in its directory, to dbms.table.source.hash.instructions.json; answers the new path.

    Sections not given keep what the name already says (a name off the
    convention must be given dbms and table); the hash is computed from the
    content unless given. Drop the result into the watch directory and the
    operator takes it.
    """
    from anynode.errors import IngestError
    from anynode.ingest.naming import FileName
    from anynode.ingest.reader import file_hash

    path = Path(file)
    if not path.is_file():
        raise CommandSyntaxError(f"no file {file}", hint="give the path of a .json or .json.gz file")
    low = path.name.lower()
    if not low.endswith((".json", ".json.gz")):
        raise CommandSyntaxError(f"{path.name} is not a .json or .json.gz file",
                                 hint="the operator takes JSON files; rename it to end in .json first")
    try:
        old: FileName | None = FileName.parse(path)
    except IngestError:
        old = None
    dbms, table = dbms or (old.dbms if old else None), table or (old.table if old else None)
    if not dbms or not table:
        raise CommandSyntaxError(f"{path.name} does not say its database and table",
                                 hint=f"time file rename {file} to dbms = <dbms> and table = <table>")
    source = source or (old.source if old else "0")
    instructions = instructions or (old.instructions if old else "0")
    gz = low.endswith(".gz")
    if not hash:
        try:
            hash = file_hash(path, dbms.lower(), table.lower())
        except OSError as exc:
            raise CommandSyntaxError(f"cannot read {file}: {exc.strerror}", hint="check the file") from None
    target_name = f"{dbms}.{table}.{source}.{hash}.{instructions}.json" + (".gz" if gz else "")
    new = _name_of(target_name)  # refuses sections the operator would refuse, naming which
    target = path.with_name(str(new.with_hash(hash)))
    if target != path:
        if target.exists():
            raise CommandSyntaxError(f"{target.name} exists already in {path.parent}",
                                     hint="move one of them away first")
        path.rename(target)
    return Message(str(target))
