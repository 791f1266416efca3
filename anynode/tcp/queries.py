"""``query`` frames: an operator's share of a network query, read-only by construction, sent back in parts.

The query node sends ``{"kind": "query", "dbms": ..., "sql": {"sqlite": ...,
"psql": ...}}``: the query written for each engine, so the operator runs the
one its database speaks. It runs as a stranger's query (``untrusted``: a
read-only transaction, a SELECT-only reader, the result size cap, the peer's
timeout); no command runs. The rows go back in frames of at most
``rows_per_frame`` rows (and about 1 MiB), so a large answer neither meets the
frame limit nor waits to be whole on the query node.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import orjson

from anynode.cancel import Cancel
from anynode.errors import CommandSyntaxError
from anynode.net.handling import Stream
from anynode.net.protocol import json_default
from anynode.store.backend import QueryLimits

if TYPE_CHECKING:
    from anynode.protocols import NodeView

ROWS_PER_FRAME = 5000
_FRAME_BYTES = 1 << 20


def _value(value: Any) -> Any:
    if isinstance(value, datetime):  # times travel as stored (space, no zone), so every engine compares them alike
        return str(value.replace(tzinfo=None))
    if isinstance(value, date):
        return str(value)
    return json_default(value)


def encode_rows(rows: Sequence[Sequence[Any]]) -> bytes:
    """Rows as a JSON array of arrays, times spelt as stored."""
    return orjson.dumps(rows, default=_value, option=orjson.OPT_PASSTHROUGH_DATETIME)


def _parts(columns: list[str], rows: Sequence[Sequence[Any]], per: int) -> Iterator[tuple[dict[str, Any], bytes]]:
    head: dict[str, Any] = {"columns": columns, "rows": len(rows)}
    i = 0
    while True:
        end = min(i + per, len(rows))
        body = encode_rows(rows[i:end])
        while len(body) > _FRAME_BYTES and end - i > 1:  # wide rows: fewer per frame
            end = i + max((end - i) // 2, 1)
            body = encode_rows(rows[i:end])
        yield head, body
        head = {}
        i = end
        if i >= len(rows):
            return


def answer_query(node: NodeView, header: dict[str, Any], timeout: float) -> Stream:
    """The parts of the reply to one ``query`` frame."""
    dbms, texts = header.get("dbms"), header.get("sql")
    if not isinstance(dbms, str) or not isinstance(texts, dict):
        raise CommandSyntaxError("a query frame names a dbms and its sql per engine")
    engine = node.catalog.get(dbms).backend.kind
    sql = texts.get(engine)
    if not isinstance(sql, str):
        raise CommandSyntaxError(f"the query has no text for a {engine} database",
                                 hint="send the query from an anynode of the same protocol version")
    per = header.get("rows_per_frame")
    per = min(max(per, 1), 50_000) if isinstance(per, int) and not isinstance(per, bool) else ROWS_PER_FRAME
    limits = QueryLimits(untrusted=True, cancel=Cancel(timeout),
                         max_bytes=int(node.settings["max_result_size"]) or None)
    columns, rows = node.catalog.query(dbms, sql, limits=limits)
    return Stream(_parts(list(columns), rows, per))
