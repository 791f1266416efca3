"""Retention of data by time: partition, get partitions, drop partition; info table and create table.

How partitions are laid out in each database is in `anynode/store/partitioned.py`;
names and periods in `anynode/store/partitions.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from anynode.errors import CommandSyntaxError, NoSuchTable, StoreError
from anynode.grammar.dispatch import Context
from anynode.grammar.parser import Rest
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.types import FORMAT, TEXT, Choice, Int, Words
from anynode.results import Json, Message, Result, Table
from anynode.store import tsd

if TYPE_CHECKING:  # the catalog loads the database drivers: a one-shot command must not pay for them
    from anynode.store.catalog import DatabaseCatalog
    from anynode.store.partitions import Partition, PartitionSpec

KEYS = ("data", "retention")
FMT = Opt("format", FORMAT, default="table", help="table, or json for programs")
_TIME = "%Y-%m-%d %H:%M:%S"


def _run(catalog: DatabaseCatalog, dbms: str, job: Any) -> Any:
    """Run `job(backend, conn)` on the database's writer, in one transaction; driver errors made readable."""
    from anynode.store.catalog import driver_errors

    db = catalog.get(dbms)
    try:
        return catalog.submit(dbms, lambda conn: job(db.backend, conn)).result()
    except driver_errors() as exc:
        raise StoreError(f"Database {dbms}: {str(exc).strip().splitlines()[0]}",
                         hint="see the node's log for the statement") from exc


def _user_tables(catalog: DatabaseCatalog, dbms: str) -> list[str]:
    return [t for t in catalog.tables(dbms) if not t.startswith(("par_", "tsd_"))]


def _apply(backend: Any, conn: Any, table: str, spec: PartitionSpec, star: bool
           ) -> tuple[str, PartitionSpec | None]:
    """Partition one existing table (move its rows) or check that its partitions match `spec`.

    Returns a note and, for `*`, the spec a table already partitioned another way keeps.
    """
    from anynode.store import partitioned

    kind = partitioned.table_kind(backend, conn, table)
    if kind == "table":
        moved = partitioned.migrate(backend, conn, table, spec)
        count = len(partitioned.list_partitions(backend, conn, table))
        return f"{table}: {moved:,} row(s) moved into {count} partition(s)", None
    have = [p.spec for p in partitioned.list_partitions(backend, conn, table)]
    if have and have[-1] != spec:
        other = f"by {have[-1].column} every {have[-1].interval}"
        if star:
            return f"{table}: keeps its partitions {other}", have[-1]
        raise StoreError(f"Table {table} already has partitions {other}",
                         hint=f"keep that interval, or drop its partitions first: drop partition * where "
                              f"dbms = <dbms> and table = {table}")
    return (f"{table}: already partitioned this way" if have else ""), None


@command("partition", args=[Arg("dbms", TEXT, help="the logical database"),
                            Arg("table", TEXT, help="a table, or * for every table of the database"),
                            Arg("interval", Words(), help="using <column> by [N] hour|day|week|month|year")],
         http="POST", keywords=KEYS, examples=[
             "partition demo readings using timestamp by 1 day",
             "partition monitoring * using insert_timestamp by 12 hours",
             "partition !default_dbms !table_name using !partition_column by !partition_interval"])
def partition(ctx: Context, dbms: str, table: str, interval: Rest) -> Result:
    """Store a table's rows in one partition per period of a date-time column (AnyLog's partitioning).

    Queries keep using the table's name. A table that already has rows is
    partitioned at once (its rows are moved into their partitions, in one
    transaction); a table made later is partitioned from its first rows.
    `*` applies to every table of the database, now and later. The
    declaration is kept across restarts; declaring it again is harmless.
    """
    from anynode.store.partitions import PartitionSpec

    words = interval.text.split()
    if len(words) < 4 or words[0].lower() != "using" or words[2].lower() != "by":
        raise CommandSyntaxError("'partition' needs: using <column> by <interval>",
                                 hint="e.g. partition demo readings using timestamp by 1 day")
    spec = PartitionSpec.parse(words[1], " ".join(words[3:]))
    dbms, table = dbms.lower(), table.lower()
    if table.startswith(("par_", "tsd_")):
        raise CommandSyntaxError(f"table {table} cannot be partitioned (a partition or a file record table)",
                                 hint="name the data table")
    catalog = ctx.node.catalog
    done: list[str] = []
    failed: list[str] = []
    if catalog.is_connected(dbms):
        tables = _user_tables(catalog, dbms) if table == "*" else [table]
        present = set(catalog.tables(dbms))
        for name in tables:
            if name not in present:
                continue
            try:
                note, keeps = _run(catalog, dbms, lambda b, c, name=name: _apply(b, c, name, spec, table == "*"))
            except StoreError as exc:
                if table != "*":
                    raise
                failed.append(f"{name}: {exc.message} (its rows stay in one table)")
                continue
            if keeps is not None:
                catalog.partitions.declare(dbms, name, keeps)
            if note:
                done.append(note)
    catalog.partitions.declare(dbms, table, spec)
    head = f"Partitions of {dbms}.{table} by {spec.column} every {spec.interval} declared"
    return Message("\n".join([head, *done, *failed]))


def _partitions(catalog: DatabaseCatalog, dbms: str, table: str) -> dict[str, list[Partition]]:
    """table -> its partitions (oldest first), for one table or every table with partitions (`*`)."""
    from anynode.store import partitioned
    from anynode.store.partitions import partitioned_tables

    def job(backend: Any, conn: Any) -> dict[str, list[Partition]]:
        names = backend.table_names(conn)
        tables = partitioned_tables(names) if table == "*" else [table]
        return {t: partitioned.list_partitions(backend, conn, t) for t in tables}
    db = catalog.get(dbms)
    with db.backend.reader() as conn:
        return job(db.backend, conn)


@command("get partitions", options=[Opt("dbms", TEXT, help="the database (then its partitions are listed)"),
                                    Opt("table", TEXT, default="*", help="a table, or * for every table"), FMT],
         remote=True, keywords=KEYS, examples=["get partitions", "get partitions where dbms = demo",
                                               "get partitions where dbms = demo and table = readings "
                                               "and format = json"])
def get_partitions(ctx: Context, dbms: str | None, table: str, format: str) -> Result:
    """Without a database: the declared partitioning. With one: each table's partitions and their periods.

    A period's end is not part of it (the next period starts there).
    """
    catalog = ctx.node.catalog
    if dbms is None:
        rows = [(d, t, s.column, s.interval) for d, t, s in catalog.partitions.entries()]
        if not rows:
            return Message("No partitions declared")
        columns = ["DBMS", "Table", "Column", "Interval"]
        return Json([dict(zip(columns, r, strict=True)) for r in rows]) if format == "json" \
            else Table.of(columns, rows)
    found = _partitions(catalog, dbms.lower(), table.lower())
    out = [(t, n, p.name, p.start.strftime(_TIME), p.end.strftime(_TIME))
           for t, parts in found.items() for n, p in enumerate(parts, 1)]
    if format == "json":
        return Json({t: [{"partition": p.name, "start": p.start.strftime(_TIME), "end": p.end.strftime(_TIME)}
                         for p in parts] for t, parts in found.items()})
    if not out:
        return Message(f"No partitions in {dbms}" + ("" if table == "*" else f".{table}"))
    return Table.of(["Table", "Counter", "Partition", "Start Date", "End Date"], out,
                    title=f"Partitions in DBMS: '{dbms}'")


def _to_drop(parts: list[Partition], name: str | None, keep: int | None) -> list[str]:
    if name == "*":
        return [p.name for p in parts]
    if name is not None:
        return [p.name for p in parts if p.name == name]
    if keep:
        return [p.name for p in parts[:-keep]]
    return [p.name for p in parts[:1]] if len(parts) > 1 else []  # the oldest, never the only one


@command("drop partition", args=[Arg("name", TEXT, required=False,
                                     help="one partition by name, or * for all; none: the oldest (or by keep)")],
         options=[Opt("dbms", TEXT, required=True), Opt("table", TEXT, required=True, help="a table, or * for all"),
                  Opt("keep", Int(0), help="keep this many of the newest partitions, drop the rest")],
         http="POST", keywords=KEYS, examples=[
             "drop partition where dbms = demo and table = readings and keep = 7",
             "drop partition where dbms = demo and table = readings",
             "drop partition par_readings_2026_07_27_d01_timestamp where dbms = demo and table = readings",
             "drop partition where dbms = monitoring and table = * and keep = 3"])
def drop_partition(ctx: Context, name: str | None, dbms: str, table: str, keep: int | None) -> Result:
    """Drop old partitions of a table (their rows go with them): all but the newest `keep`, or the oldest.

    Without `keep` (or keep = 0) the oldest partition goes, unless it is the
    only one. Nothing to drop is not an error, so a scheduled drop keeps
    succeeding. Scheduled as in EdgeLake's deployment scripts:
    `schedule time = 1 day and name = "Drop Partitions" task drop partition
    where dbms = !default_dbms and table = !table_name and keep = !partition_keep`.
    """
    from anynode.store import partitioned

    catalog = ctx.node.catalog
    dbms, table = dbms.lower(), table.lower()
    catalog.get(dbms)
    found = _partitions(catalog, dbms, table)
    if table != "*" and table not in catalog.tables(dbms):
        raise NoSuchTable(f"Table '{table}' not found in database {dbms}", hint=f"get tables where dbms = {dbms}")
    if name is not None and name != "*" and not any(p.name == name for ps in found.values() for p in ps):
        raise NoSuchTable(f"{name} is not a partition of {dbms}.{table}",
                          hint=f"get partitions where dbms = {dbms} and table = {table}")
    plan = {t: _to_drop(parts, name, keep) for t, parts in found.items()}
    plan = {t: names for t, names in plan.items() if names}
    if not plan:
        return Message(f"No partition dropped in {dbms}.{table}: none beyond what is kept")

    def job(backend: Any, conn: Any) -> None:
        for t, names in plan.items():
            partitioned.drop(backend, conn, t, names)
    _run(catalog, dbms, job)
    lines = [f"{t}: dropped {len(names)} partition(s), {len(found[t]) - len(names)} kept ({names[0]}"
             + (f" ... {names[-1]})" if len(names) > 1 else ")") for t, names in plan.items()]
    return Message("\n".join(lines))


@command("info table", args=[Arg("dbms", TEXT), Arg("table", TEXT),
                             Arg("info", Choice("exists", "columns", "partitions"), help="what to tell"),
                             Arg("detail", Choice("all", "first", "last", "count"), required=False, default="all",
                                 help="for partitions: all, first, last or count")],
         remote=True, keywords=KEYS, examples=["info table almgm tsd_info exists", "info table demo readings columns",
                                               "info table demo readings partitions last",
                                               "is_table = info table almgm tsd_info exists"])
def info_table(ctx: Context, dbms: str, table: str, info: str, detail: str) -> Result:
    """Whether a table exists (true/false), its columns, or its partitions (all, first, last or count)."""
    catalog = ctx.node.catalog
    dbms, table = dbms.lower(), table.lower()
    catalog.get(dbms)
    if info == "exists":
        return Message("true" if table in catalog.tables(dbms) else "false")
    if info == "columns":
        return Json(dict(catalog.columns(dbms, table)))
    parts = _partitions(catalog, dbms, table).get(table, [])
    if not parts and table not in catalog.tables(dbms):
        raise NoSuchTable(f"Table '{table}' not found in database {dbms}", hint=f"get tables where dbms = {dbms}")
    if detail == "count":
        return Message(str(len(parts)))
    if detail in ("first", "last"):
        return Message(parts[0 if detail == "first" else -1].name if parts else "")
    return Json([{"par_name": p.name, "start": p.start.strftime(_TIME), "end": p.end.strftime(_TIME)}
                 for p in parts])


@command("create table", args=[Arg("name", TEXT, help="tsd_info (the record of ingested files)")],
         options=[Opt("dbms", TEXT, required=True, help="the database, almgm for tsd_info")],
         http="POST", keywords=KEYS, examples=["create table tsd_info where dbms = almgm"])
def create_table(ctx: Context, name: str, dbms: str) -> Result:
    """Create a table with a built-in layout: tsd_info, the record of ingested files (AnyLog's almgm.tsd_info).

    Data tables need no create: the first rows of a table create it, with
    columns from the data.
    """
    name, dbms = name.lower(), dbms.lower()
    if name != tsd.TSD_TABLE:
        raise CommandSyntaxError(f"no built-in layout for table '{name}'",
                                 hint="create table tsd_info where dbms = almgm; data tables are made by their "
                                      "first rows")
    catalog = ctx.node.catalog
    catalog.get(dbms)
    if name in catalog.tables(dbms):
        return Message(f"Table {name} exists in {dbms}")
    _run(catalog, dbms, lambda backend, conn: tsd.ensure_tsd_table(backend, conn, serial=True))
    return Message(f"Table {name} created in {dbms}")
