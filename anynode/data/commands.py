"""Local databases: connect dbms, disconnect dbms, get databases / tables / columns, sql."""

from __future__ import annotations

import re
import time
from typing import Any

from anynode.errors import AnyNodeError, CommandSyntaxError, NotPermitted
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.tokens import STRING, WORD, Token
from anynode.grammar.types import BOOL, FORMAT, TEXT, Choice, Port
from anynode.query import has_anylog_time
from anynode.results import Json, Message, Result, Table
from anynode.store.backend import QueryLimits

DBMS = ("dbms", "data")
FMT = Opt("format", FORMAT, default="table", help="table, or json for programs")
_SQL_START = re.compile(r"^\s*(select|with|values|explain|insert|update|delete|create|drop|alter|replace|pragma)\b",
                        re.I)
# Options of AnyLog's object-store connections (type = bucket), accepted so scripts parse.
_OBJECT_STORE = ("provider", "access_key", "secret_key", "region", "endpoint", "network_id", "bucket_name",
                 "connection")
_READS = ("select", "with", "values", "explain")
# AnyLog's sql options that only mean something for a network query.
_NETWORK_OPTIONS = ("dest", "file", "table", "drop", "extend", "include", "max_time", "nodes", "committed",
                    "topic", "title", "test", "source", "option")


@command("connect dbms", args=[Arg("name", TEXT, help="the logical database name")], http="POST", keywords=DBMS,
         secret=True,
         options=[
             Opt("type", Choice("sqlite", "psql", "mongo", "bucket"), default="sqlite",
                 help="sqlite (a file under !dbms_dir) or psql (mongo and bucket are refused)"),
             Opt("user", TEXT, help="PostgreSQL user"),
             Opt("password", TEXT, help="PostgreSQL password"),
             Opt("reader_user", TEXT, help="PostgreSQL role for queries (SELECT only); needed for peers' and REST "
                 "queries when user is a superuser"),
             Opt("reader_password", TEXT, help="password of reader_user"),
             Opt("ip", TEXT, help="PostgreSQL host (default 127.0.0.1)"),
             Opt("port", Port(), help="PostgreSQL port (default 5432)"),
             Opt("memory", BOOL, default=False, help="sqlite only: keep the database in memory"),
             Opt("autocommit", BOOL, default=True, ignored=True, help="every write commits"),
             Opt("unlog", BOOL, default=False, ignored=True),
             *(Opt(name, TEXT, ignored=True, help="object stores only (refused)") for name in _OBJECT_STORE),
         ], examples=[
             "connect dbms demo where type = sqlite",
             "connect dbms demo where type = psql and user = anynode and password = !db_password "
             "and ip = 127.0.0.1 and port = 5432",
             "connect dbms scratch where type = sqlite and memory = true",
         ])
def connect_dbms(ctx: Context, name: str, type: str, user: str | None, password: str | None,
                 reader_user: str | None, reader_password: str | None, ip: str | None,
                 port: int | None, memory: bool) -> Result:
    """Connect a logical database: SQLite (the embedded default, one file per database) or PostgreSQL.

    Connecting a name again with the same type changes nothing. A PostgreSQL
    database that does not exist yet is created. Queries run in read-only
    transactions as ``reader_user`` when given, else as ``user``; peers and
    REST clients may query only when that role is not a superuser.
    """
    if type in ("mongo", "bucket"):
        raise AnyNodeError(f"anynode does not connect {type} databases: it stores rows in SQLite or PostgreSQL",
                           hint="use type = sqlite or type = psql; leave blob storage off (blobs_storage = false)")
    info = ctx.node.catalog.connect(name, type, user=user, password=password, host=ip, port=port, memory=memory,
                                    reader_user=reader_user, reader_password=reader_password)
    return Message(f"Database {info.name} using {info.type} connected ({info.address})")


@command("disconnect dbms", args=[Arg("name", TEXT, help="the logical database name")], http="POST",
         keywords=DBMS, examples=["disconnect dbms demo"])
def disconnect_dbms(ctx: Context, name: str) -> Result:
    """Disconnect a logical database after its queued writes are done."""
    ctx.node.catalog.disconnect(name)
    return Message(f"Database {name} disconnected")


@command("get databases", options=[FMT], remote=True, keywords=DBMS, examples=["get databases"])
def get_databases(ctx: Context, format: str) -> Result:
    """List the connected logical databases: type, owner, address and storage."""
    rows = [(d.name, d.type, d.owner, d.address, d.storage) for d in ctx.node.catalog.databases()]
    columns = ["Logical DBMS", "Database Type", "Owner", "IP:Port", "Storage"]
    return Json([dict(zip(columns, r, strict=True)) for r in rows]) if format == "json" else Table.of(columns, rows)


@command("get tables", options=[Opt("dbms", TEXT, required=True, help="a database name, or * for every one"), FMT],
         remote=True, keywords=DBMS, examples=["get tables where dbms = demo", "get tables where dbms = *"])
def get_tables(ctx: Context, dbms: str, format: str) -> Result:
    """List the tables of a database (or of every connected database with dbms = *)."""
    catalog = ctx.node.catalog
    names = [d.name for d in catalog.databases()] if dbms == "*" else [dbms]
    rows = [(name, table) for name in names for table in catalog.tables(name)]
    if format == "json":
        return Json({name: [t for n, t in rows if n == name] for name in names})
    return Table.of(["Database", "Table"], rows)


@command("get columns", options=[Opt("dbms", TEXT, required=True), Opt("table", TEXT, required=True), FMT],
         remote=True, keywords=DBMS, aliases=["get table columns"],
         examples=["get columns where dbms = demo and table = readings",
                   "get table columns where dbms = demo and table = readings and format = json"])
def get_columns(ctx: Context, dbms: str, table: str, format: str) -> Result:
    """List the columns of a table with their types."""
    cols = ctx.node.catalog.columns(dbms, table)
    return Json(dict(cols)) if format == "json" else Table.of(["Column", "Type"], cols)


def sql_parts(tokens: list[Token]) -> tuple[str, dict[str, str], str]:
    """Split ``<dbms> [k = v and ...] [text] "<statement>"`` into its parts."""
    if not tokens or tokens[0].kind != WORD:
        raise CommandSyntaxError("'sql' needs a database and a statement",
                                 hint='write: sql demo format = table "select * from readings"')
    dbms = tokens[0].text
    rest = tokens[1:]
    at = next((i for i, t in enumerate(rest) if t.kind in (STRING, WORD) and _SQL_START.match(t.text)), None)
    if at is None:
        raise _no_statement(tokens)
    statement = rest[at].text if rest[at].kind == STRING else " ".join(t.text for t in rest[at:])
    options: dict[str, str] = {}
    words = rest[:at]
    i = 0
    while i < len(words):
        tok = words[i]
        if tok.is_word("and"):
            i += 1
        elif tok.is_word("text"):
            options["format"] = "table"
            i += 1
        elif i + 2 < len(words) and words[i + 1].is_op("="):
            options[tok.text.lower()] = words[i + 2].text
            i += 3
        else:
            raise CommandSyntaxError(f"unexpected '{tok.text}' before the statement", offset=tok.start,
                                     hint="options are name = value and ..., e.g. format = json")
    return dbms, options, statement


def _no_statement(tokens: list[Token]) -> CommandSyntaxError:
    """The error for a line with no statement: under a quoted text's first word when it is a misspelt keyword."""
    import difflib

    quoted = next((t for t in tokens[1:] if t.kind == STRING and t.text.strip()), None)
    if quoted is None:
        return CommandSyntaxError("'sql' found no statement (select, insert, ...)",
                                  hint='put the statement in double quotes: sql demo "select count(*) from t"',
                                  offset=tokens[0].start)
    first = quoted.text.split()[0]
    keywords = _SQL_START.pattern.split("(", 1)[1].split(")", 1)[0].split("|")
    close = difflib.get_close_matches(first.lower(), keywords, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"a statement starts with one of: {', '.join(keywords)}"
    offset = quoted.start + 1 + (len(quoted.text) - len(quoted.text.lstrip()))  # after the opening quote
    return CommandSyntaxError(f"'{first}' does not start an SQL statement", hint=hint, offset=offset)


def _elapsed(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


@command("sql", raw=True, remote=True, syntax='DBMS [format = json|table and stat = true|false] "query"',
         keywords=DBMS, examples=[
    'sql demo "select count(*) from readings"',
    'sql demo format = json "select * from readings limit 10"',
    'sql demo format = table and stat = false "select sensor, avg(value) from readings group by sensor"',
    'sql demo "create index readings_sensor on readings (sensor)"',
])
def sql(ctx: Context, tokens: list[Token]) -> Result:
    """Run SQL on a local database: sql <dbms> [format = json|table and stat = true|false] "<statement>".

    A SELECT runs on its own read-only connection and answers with its rows
    (format = json gives AnyLog's {"Query": [...], "Statistics": [...]});
    other statements run through the database's single writer. Peers and
    REST clients may run SELECT only.
    """
    dbms, options, statement = sql_parts(tokens)
    fmt = options.pop("format", ctx.fmt).lower()
    stat = BOOL.convert(options.pop("stat", "true"))
    zone_text = options.pop("timezone", None)
    if zone_text is not None:
        from anynode.query.options import parse_zone

        zone = parse_zone(zone_text)  # a bad zone fails before the query runs
    for key in options:
        if key in _NETWORK_OPTIONS:
            raise CommandSyntaxError(f"option '{key}' is for network queries (run client () sql ...)",
                                     hint="drop it to query this node's database")
        raise CommandSyntaxError(f"unknown sql option '{key}'", hint="use format = json|table and stat = true|false")
    if fmt not in ("json", "table", "json:output", "json:list"):
        raise CommandSyntaxError(f"sql format '{fmt}' is not accepted", hint="use format = json or format = table")
    word = _SQL_START.match(statement).group(1).lower()  # type: ignore[union-attr]
    started = time.monotonic()
    if word not in _READS:
        if ctx.source.external:
            raise NotPermitted(f"a peer or REST client may run SELECT only, not {word.upper()}",
                               hint="run the statement on the node itself")
        count = ctx.node.catalog.execute(dbms, statement)
        return Message(f"{word.upper()} done on {dbms}" + (f": {count} row(s)" if count >= 0 else ""))
    limits = QueryLimits(untrusted=ctx.source.external, cancel=ctx.cancel,
                         max_bytes=int(ctx.node.settings["max_result_size"]) or None)
    if has_anylog_time(statement):  # increments(), period(), now() - 1 hour: planned as a network query of one
        from anynode.query.local import query_local

        columns, rows = query_local(ctx.node.catalog, dbms, statement, limits)
    else:
        columns, rows = ctx.node.catalog.query(dbms, statement, limits=limits)
    if zone_text is not None:
        from anynode.query.options import in_zone

        rows = in_zone(rows, zone)
    stats: dict[str, Any] = {"Count": len(rows), "Time": _elapsed(time.monotonic() - started), "Nodes": 0}
    if fmt.startswith("json"):
        records = [dict(zip(columns, r, strict=True)) for r in rows]
        if fmt == "json:list":
            return Json(records)
        return Json({"Query": records, "Statistics": [stats]} if stat else {"Query": records})
    title = f"{stats['Count']} row(s) in {stats['Time']}" if stat else ""
    return Table.of(columns, rows, title=title)
