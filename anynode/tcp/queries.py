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

import re
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
_KEY = re.compile(r"^[@+][a-z_][a-z0-9_]{0,63}$")
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
    added = _extension(node, header, dbms)
    columns, rows = node.catalog.query(dbms, sql, limits=limits)
    if added:
        columns = [f"__anynode_ext_{i}" for i in range(len(added))] + list(columns)
        rows = [added + tuple(r) for r in rows]
    return Stream(_parts(list(columns), rows, per))


def _extension(node: NodeView, header: dict[str, Any], dbms: str) -> tuple[Any, ...]:
    """The values AnyLog's ``extend`` asks this operator to add to each row (empty when none is asked).

    ``@ip``, ``@port``, ``@ip_port``: this node's advertised TCP address;
    ``@dbms_name``, ``@table_name``: what was queried; ``+name``: the node
    variable ``!name`` (NULL for a secret one or one not set).
    """
    keys = header.get("extend") or []
    if not isinstance(keys, list) or len(keys) > 32 or not all(isinstance(k, str) and _KEY.match(k) for k in keys):
        raise CommandSyntaxError("a query frame's extend is a list of @name or +name",
                                 hint="send extend = (+node_name, @ip, @table_name)")
    address = node.get_var("tcp_address") or ""
    ip, _, port = address.rpartition(":")
    known = {"@ip": ip, "@port": port, "@ip_port": address, "@dbms_name": dbms,
             "@table_name": str(header.get("table") or "")}
    out: list[Any] = []
    for key in keys:
        if key[0] == "@":
            if key not in known:
                raise CommandSyntaxError(f"extend entry '{key}' is not known",
                                         hint="@ takes ip, port, ip_port, dbms_name, table_name")
            out.append(known[key])
        else:
            name = key[1:]
            out.append(None if node.secrets.is_secret_var(name) else node.get_var(name))
    return tuple(out)
