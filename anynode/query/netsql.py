"""``run client (...) sql DBMS [options] "select ..."``: one answer from the operators that hold the table.

With ``()`` the operators come from the metadata: every cluster that holds
``DBMS.TABLE``, each asked through its members in order (main first,
responding ones before those marked down). With named destinations each is
its own share. The answer is the query's as if one database held every row
(see docs/query.md), with AnyLog's ``Statistics`` (count, time, nodes).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from anynode.errors import AnyNodeError, CommandSyntaxError, QueryCancelled
from anynode.grammar.tokens import Token
from anynode.grammar.types import BOOL
from anynode.query import options as opt, timefn
from anynode.query.network import Ask, Target, sources
from anynode.query.run import NetworkQueryError, run_query
from anynode.query.status import query_log
from anynode.results import Json, Result, StreamedJson, StreamedTable, Table

if TYPE_CHECKING:
    from anynode.cancel import Cancel
    from anynode.protocols import NodeView

RoutesOf = Callable[[str, str], list[Target]]  # (dbms, table) -> where its shares are
_IGNORED = ("dest", "drop", "table", "include", "committed", "topic", "title", "test", "source",
            "option")  # AnyLog output options anynode does not act on (see docs/query.md)
_OPTIONS_HINT = ("use format = json|table, stat = true|false, subset = true, extend = (...), max_time = N, "
                 "timezone = utc|local|<zone>, nodes = main|all")


def metadata_routes(node: NodeView) -> RoutesOf:
    """Where a table's shares are, from the metadata: a route per cluster, responding members first, main first."""

    def routes(dbms: str, table: str) -> list[Target]:
        from anynode.metadata.view import metadata_view

        view = metadata_view(node)
        clusters = view.clusters_of(dbms, table)
        if not clusters:
            raise NetworkQueryError(f"no cluster holds table {dbms}.{table} in the metadata",
                                    hint="'get data nodes' lists the tables the network holds")
        out = []
        for cluster in clusters:
            members = [m for m in view.operators_of(cluster.id) if m.address]
            live = [m.address for m in members if m.responding]
            out.append(Target(cluster.name or cluster.id,
                              tuple(live + [m.address for m in members if not m.responding]), len(live)))
        return out

    return routes


def _in_turn(node: NodeView, routes: list[Target]) -> list[Target]:
    """``nodes = all``: each cluster's responding members take turns (round robin), the others stay last."""
    turn = next(node.part("query.turns", itertools.count))
    out = []
    for route in routes:
        live = route.members[:route.live] if route.live >= 0 else route.members
        k = turn % len(live) if live else 0
        out.append(Target(route.name, live[k:] + live[:k] + route.members[len(live):], route.live))
    return out


def _elapsed(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def network_sql(node: NodeView, fmt: str, words: list[Token], dests: list[str], subset: bool, timeout: float,
                routes_of: RoutesOf, on_down: Callable[[str], None] | None = None, stream: bool = False,
                cancel: Cancel | None = None) -> Result:
    """Run ``sql DBMS [options] "select"`` (the words after ``run client (...)``) over the network.

    ``fmt`` is the caller's default format (``--format json``, a REST client's).
    With ``stream`` the answer returns once its first rows have arrived and
    its rows come in chunks as the operators send them (a StreamedTable or
    StreamedJson); without it, once every row has arrived. ``cancel`` (Ctrl-C)
    stops the reading between chunks.
    """
    from anynode.data.commands import sql_parts
    from anynode.query.plan import build


    dbms, options, statement = sql_parts(words[1:])
    fmt = options.pop("format", fmt).lower()
    stat = BOOL.convert(options.pop("stat", "true"))
    subset = subset or BOOL.convert(options.pop("subset", "false"))
    extend = opt.parse_extend(options.pop("extend")) if "extend" in options else ()
    max_time = opt.parse_max_time(options.pop("max_time")) if "max_time" in options else None
    zone = opt.parse_zone(options.pop("timezone")) if "timezone" in options else None
    in_turn = opt.parse_nodes(options.pop("nodes", "main"))
    for key in list(options):
        if key in _IGNORED:
            options.pop(key)
        else:
            raise CommandSyntaxError(f"unknown sql option '{key}'", hint=_OPTIONS_HINT)
    if fmt not in ("json", "table"):
        raise CommandSyntaxError(f"sql format '{fmt}' is not accepted", hint="use format = json or format = table")
    started = time.monotonic()
    table = build(timefn.prepare(statement).text).table  # which table: before any source is asked
    routes = [Target(d, (d,)) for d in dests] if dests else routes_of(dbms, table)
    if in_turn:
        routes = _in_turn(node, routes)
    job = query_log(node).start(statement, [r.name for r in routes])
    ask = Ask(tuple(e.key for e in extend), table, started + max_time if max_time else None)

    def late(exc: AnyNodeError) -> AnyNodeError:
        if max_time is None or time.monotonic() < started + max_time:
            return exc
        return NetworkQueryError(f"the query did not end within max_time = {max_time:g} s ({exc.message})",
                                 hint="raise max_time, or narrow the query (a WHERE on time)")

    try:
        answer = run_query(statement, sources(node.client(), routes, dbms, timeout, on_down, job, ask), subset,
                           extend=[e.title for e in extend])
    except AnyNodeError as exc:
        job.end("Failed", error=exc.message)
        raise late(exc) from None
    stats: dict[str, Any] = {}

    def counted() -> Iterator[list[tuple[Any, ...]]]:
        count = 0
        try:
            for chunk in answer.chunks:
                if cancel is not None and cancel.cancelled:
                    raise QueryCancelled(f"the network query was cancelled ({cancel.reason or 'timeout'})")
                count += len(chunk)
                yield opt.in_zone(chunk, zone) if zone is not None else [tuple(r) for r in chunk]
        except AnyNodeError as exc:
            job.end("Failed", count, error=exc.message)
            raise late(exc) from None
        except GeneratorExit:
            job.end("Stopped", count, error="the answer was not read to its end")
            raise
        finally:  # ended, failed or left early: the sources stop feeding it
            getattr(answer.chunks, "close", lambda: None)()
            answer.close()
        job.end("Completed", count)
        stats.update({"Count": count, "Time": _elapsed(time.monotonic() - started), "Nodes": len(answer.replied)})
        if answer.failed:
            stats["Not replied"] = sorted(answer.failed)

    def title() -> str:
        if not stat or not stats:
            return ""
        text = f"{stats['Count']} row(s) in {stats['Time']} from {stats['Nodes']} node(s)"
        return text + (f"; no reply from {', '.join(sorted(answer.failed))}" if answer.failed else "")

    def value(rows: tuple[tuple[Any, ...], ...]) -> Any:
        records = [dict(zip(answer.columns, r, strict=False)) for r in rows]
        return {"Query": records, "Statistics": [stats]} if stat else {"Query": records}

    def close() -> None:  # the answer was dropped before its end: the operators stop sending
        answer.close()
        if job.ended is None:
            job.end("Stopped", error="the answer was not read to its end")

    result: StreamedJson | StreamedTable = StreamedJson(answer.columns, counted(), value, close) \
        if fmt == "json" else StreamedTable(answer.columns, counted(), title, close)
    if stream:
        return result
    return Json(result.value) if isinstance(result, StreamedJson) else Table.of(result.columns, result.rows,
                                                                                 result.title)
