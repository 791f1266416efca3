"""Running a planned query over many sources (operators, or local databases) and combining their answers.

A source answers the remote query in chunks. Every source runs in its own
thread; the chunks go into the union as they arrive (or, for plain rows
without ORDER BY, straight to the caller through a small queue, so a large
answer is never held whole). ``period()`` needs the newest reading before its
date over all sources first: that is one more round of the same machinery
(a MAX), before the query itself.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from anynode.errors import AnyNodeError
from anynode.query import timefn
from anynode.query.extend import extend_plan, titled
from anynode.query.merge import UnionTable
from anynode.query.model import Plan
from anynode.query.plan import build

Rows = list[tuple[Any, ...]]
ENGINES = ("sqlite", "psql")


class ShareSource(Protocol):
    """Something that answers a remote query: an operator over the network, or a local database."""

    name: str
    engine: str  # sqlite | psql, or * for a source that takes every engine's text and picks

    def query(self, sql: Any) -> tuple[list[str], Iterable[Sequence[Sequence[Any]]]]:
        """The columns and the rows (in chunks) of ``sql`` (a dict engine -> text when engine is *)."""


class NetworkQueryError(AnyNodeError):
    """Sources did not answer and the query did not accept a partial answer."""


@dataclass
class Answer:
    """A combined answer: columns, rows in chunks, and who replied."""

    columns: list[str]
    chunks: Iterator[Rows]
    replied: list[str]
    failed: dict[str, str] = field(default_factory=dict)
    plan: Plan | None = None
    close: Callable[[], None] = lambda: None  # stops the sources when the chunks are not read to the end


class _Abandoned(Exception):
    """The caller stopped reading: a source ends its answer early (not a failure)."""


def _gather(plan: Plan, sources: Sequence[ShareSource], sink: Any, failed: dict[str, str]) -> list[str]:
    replied: list[str] = []
    lock = threading.Lock()

    def one(source: ShareSource) -> None:
        try:
            sql: Any = plan.remote_sql(source.engine) if source.engine != "*" else \
                {engine: plan.remote_sql(engine) for engine in ENGINES}
            columns, chunks = source.query(sql)
            sink(columns, [])  # the columns arrive even when no row does
            for rows in chunks:
                sink(columns, rows)
        except _Abandoned:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # a network source's connection closes: its remaining parts are not wanted
        except Exception as exc:  # one source failing is reported by name; the others go on
            with lock:
                failed[source.name] = str(exc) or type(exc).__name__
        else:
            with lock:
                replied.append(source.name)

    threads = [threading.Thread(target=one, args=(s,), name=f"query-{s.name}", daemon=True) for s in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return replied


def _check(failed: dict[str, str], subset: bool, replied: list[str]) -> None:
    if failed and (not subset or not replied):
        names = ", ".join(f"{name} ({why})" for name, why in sorted(failed.items()))
        raise NetworkQueryError(f"no answer from {len(failed)} of {len(failed) + len(replied)} source(s): {names}",
                                hint="add subset = true to accept the answers of the others")


def _merged(plan: Plan, sources: Sequence[ShareSource], subset: bool) -> Answer:
    union = UnionTable(plan.table)
    failed: dict[str, str] = {}
    replied = _gather(plan, sources, union.add, failed)
    try:
        _check(failed, subset, replied)
    except AnyNodeError:
        union.close()
        raise
    columns, chunks = union.query(plan.merge_sql() or "")
    return Answer(titled(plan, columns), chunks, replied, failed, plan, union.close)


def _streamed(plan: Plan, sources: Sequence[ShareSource], subset: bool) -> Answer:
    """Rows without ORDER BY: each chunk goes to the caller as it arrives, cut by LIMIT and OFFSET."""
    pipe: queue.Queue[Any] = queue.Queue(maxsize=8)
    failed: dict[str, str] = {}
    replied: list[str] = []
    first: dict[str, list[str]] = {}
    stop = threading.Event()

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                pipe.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise _Abandoned

    def sink(columns: list[str], rows: Sequence[Sequence[Any]]) -> None:
        first.setdefault("columns", list(columns))
        if rows:
            put([tuple(r) for r in rows])
        elif stop.is_set():
            raise _Abandoned

    def work() -> None:
        replied.extend(_gather(plan, sources, sink, failed))
        try:
            put(None)
        except _Abandoned:
            pass

    threading.Thread(target=work, name="query-gather", daemon=True).start()
    buffered: list[Rows] = []
    ended = False
    while not first:  # wait for the first source to answer: its columns name the result
        item = pipe.get()
        if item is None:
            ended = True
            break
        buffered.append(item)
    if not first:
        _check(failed, subset, replied)

    columns = plan.names if plan.names != ["*"] else titled(plan, first.get("columns", []))

    def chunks() -> Iterator[Rows]:
        skip, left = plan.offset, plan.limit
        try:
            pending = iter(buffered)
            while True:
                item = next(pending, None)
                if item is None and not ended:
                    item = pipe.get()
                if item is None:
                    break
                if skip:
                    cut = min(skip, len(item))
                    item, skip = item[cut:], skip - cut
                if left is not None:
                    item, left = item[:left], left - min(left, len(item))
                if item:
                    yield item
                if left == 0:
                    break
            if left != 0:  # every source has ended: one that failed fails the query (unless subset)
                _check(failed, subset, replied)
        finally:
            stop.set()

    return Answer(columns, chunks(), replied, failed, plan, stop.set)


def run_plan(plan: Plan, sources: Sequence[ShareSource], subset: bool = False) -> Answer:
    """Send ``plan`` to ``sources`` and combine their answers."""
    if not sources:
        raise NetworkQueryError("no node holds this table", hint="check 'get data nodes'")
    if plan.merge_sql() is None:
        return _streamed(plan, sources, subset)
    return _merged(plan, sources, subset)


def _latest(prep: timefn.Prepared, period: timefn.Period, table: str, sources: Sequence[ShareSource],
            subset: bool) -> str:
    col = period.column
    where = f"{col} <= {timefn.literal(period.until)}" + (f" AND ({period.filter})" if period.filter else "")
    answer = run_plan(build(f"SELECT MAX({col}) FROM {table} WHERE {where}"), sources, subset)
    rows = [row for chunk in answer.chunks for row in chunk]
    value = rows[0][0] if rows else None
    if value is None:
        return "(1 = 0)"
    newest = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", ""))
    start = timefn.shift(newest, "-", period.count, period.unit)
    return f"({col} >= {timefn.literal(start)} AND {col} <= {timefn.literal(newest)})"


def run_query(query: str, sources: Sequence[ShareSource], subset: bool = False, now: datetime | None = None,
              extend: Sequence[str] = ()) -> Answer:
    """Run AnyLog SQL (time functions, ``period``, ``increments``) over ``sources``.

    ``extend`` titles the columns the sources add first to their rows (AnyLog's ``extend``).
    """
    prep = timefn.prepare(query, now)
    text = prep.text
    if prep.periods:
        table = build(text).table
        for period in prep.periods:
            text = text.replace(period.marker, _latest(prep, period, table, sources, subset), 1)
    plan = build(text)
    extend_plan(plan, list(extend))
    return run_plan(plan, sources, subset)
