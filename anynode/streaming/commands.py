"""Streaming data: run streamer, set buffer threshold, get streaming, flush buffers."""

from __future__ import annotations

import time

from anynode.errors import CommandSyntaxError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Opt
from anynode.grammar.types import BOOL, FORMAT, SECONDS, TEXT, Storage
from anynode.results import Json, Message, Result, Table

KEYS = ("streaming", "data")


@command("run streamer", http="POST", keywords=KEYS, options=[
    Opt("prep_dir", TEXT, ignored=True, help="buffers are flushed into the database, not files"),
    Opt("watch_dir", TEXT, ignored=True),
    Opt("err_dir", TEXT, ignored=True, help="rows a flush cannot ingest go to !err_dir"),
], examples=["run streamer", "run streamer where prep_dir = !prep_dir and watch_dir = !watch_dir"])
def run_streamer(ctx: Context) -> Result:
    """Start the service that flushes streamed rows (REST PUT with mode: streaming) by time and volume.

    It also starts by itself on the first streaming PUT or set buffer
    threshold; running it again is harmless. Buffered rows are flushed when it
    stops and when the node exits.
    """
    from anynode.streaming.service import streamer

    service = streamer(ctx.node)
    return Message(f"Streamer running: {service.details()}")


@command("set buffer threshold", http="POST", keywords=KEYS, options=[
    Opt("dbms", TEXT, aliases=("dbms_name",), help="only this database (with table: only that table)"),
    Opt("table", TEXT, aliases=("table_name",), help="only this table (needs dbms)"),
    Opt("time", SECONDS, help="flush a buffer this old (default 60 seconds)"),
    Opt("volume", Storage(), help="flush a buffer this large (default 10000 bytes; KB, MB allowed)"),
    Opt("write_immediate", BOOL, help="true: ingest every call at once, no buffering"),
], examples=[
    "set buffer threshold where time = 10 seconds and volume = 64KB",
    "set buffer threshold where dbms = demo and table = readings and time = 2 seconds",
    "set buffer threshold where dbms = demo and write_immediate = true",
])
def set_buffer_threshold(ctx: Context, dbms: str | None, table: str | None, time: float | None,
                         volume: int | None, write_immediate: bool | None) -> Result:
    """Choose when streamed rows (REST PUT with mode: streaming) are flushed into the database.

    Without dbms the setting is the node default; with dbms (and table) it
    applies to that database (table) only.
    """
    from anynode.streaming.service import Threshold, streamer

    if time is None and volume is None and write_immediate is None:
        raise CommandSyntaxError("give time, volume or write_immediate", hint="e.g. where time = 10 seconds")
    if table and not dbms:
        raise CommandSyntaxError("table needs dbms", hint="add: dbms = <database>")
    service = streamer(ctx.node)
    key = f"{dbms.lower()}.{table.lower() if table else '*'}" if dbms else ""
    old = service.thresholds.get(key, service.default) if key else service.default
    new = Threshold(time if time is not None else old.time, volume if volume is not None else old.volume,
                    write_immediate if write_immediate is not None else old.write_immediate)
    if key:
        service.thresholds[key] = new
    else:
        service.default = new
    service.wake()
    where = key or "default"
    return Message(f"buffer threshold ({where}): {new.time:g} seconds, {new.volume:,} bytes"
                   + (", write immediate" if new.write_immediate else ""))


@command("get streaming", options=[Opt("format", FORMAT, default="table")], remote=True, keywords=KEYS,
         examples=["get streaming", "get streaming where format = json"])
def get_streaming(ctx: Context, format: str) -> Result:
    """Show each streamed table: rows buffered and flushed, its thresholds, fill and time left, last flush."""
    from anynode.streaming.service import Streamer

    service = ctx.node.services.get("Streamer")
    if not isinstance(service, Streamer):
        return Message("no rows have been streamed to this node (REST PUT with mode: streaming)")
    now = time.monotonic()
    rows = []
    for key, buf in sorted(service.buffers.items()):
        rule = service.threshold(key)
        left = max(0.0, rule.time - (now - buf.since)) if buf.rows else rule.time
        last = time.strftime("%H:%M:%S", time.localtime(buf.last_flush)) if buf.last_flush else ""
        rows.append((key, buf.calls, len(buf.rows), buf.flushed_rows, rule.volume, rule.time,
                     f"{100 * buf.size / rule.volume:.0f}%", f"{left:.0f}", rule.write_immediate, last,
                     buf.last_error))
    columns = ["Table", "Calls", "Buffered rows", "Flushed rows", "Threshold volume", "Threshold time",
               "Fill", "Time left", "Immediate", "Last flush", "Last error"]
    return Json([dict(zip(columns, r, strict=True)) for r in rows]) if format == "json" else Table.of(columns, rows)


@command("flush buffers", http="POST", keywords=KEYS, examples=["flush buffers"])
def flush_buffers(ctx: Context) -> Result:
    """Write every streamed row still buffered into its database now."""
    from anynode.streaming.service import Streamer

    service = ctx.node.services.get("Streamer")
    flushed = service.flush(force=True) if isinstance(service, Streamer) else 0
    return Message(f"{flushed} buffered row(s) flushed")
