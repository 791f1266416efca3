"""The REST side of Grafana's JSON data source: which database a data source names, its tables, its panels.

The translation of panels into AnyLog queries is in anynode/query/grafana.py;
here each panel's SQL runs over the network when the metadata knows the table
(``run client () sql``), else on this node's own database of that name, and an
``info`` target runs its command as a REST client's (only what REST may run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from anynode.errors import AnyNodeError
from anynode.grammar.session import Source
from anynode.results import Table

if TYPE_CHECKING:
    from anynode.protocols import NodeView

PATHS = ("/search", "/metrics", "/metric-payload-options", "/query", "/annotations", "/tag-keys", "/tag-values")
_PREFIX = b"al.dbms."


def dbms_of(headers: dict[bytes, bytes]) -> str | None:
    """The database the data source names in its custom header ``al.dbms.<name>``, or None."""
    for key in headers:
        if key.startswith(_PREFIX) and len(key) > len(_PREFIX):
            return key[len(_PREFIX):].decode("latin-1")
    return None


def is_grafana(headers: dict[bytes, bytes]) -> bool:
    """A request from a Grafana data source (its User-Agent, or AnyLog's database header)."""
    return headers.get(b"user-agent", b"").lower().startswith(b"grafana") or dbms_of(headers) is not None


def tables(node: NodeView, dbms: str | None) -> list[str]:
    """The tables a data source may chart: those the metadata lists for ``dbms``, and this node's own."""
    names: set[str] = set()
    try:
        from anynode.metadata.view import metadata_view

        names |= {r.table for r in metadata_view(node).routes(dbms=dbms or "*")}
    except AnyNodeError:
        pass  # no ledger: this node's own tables only
    if dbms and node.catalog.is_connected(dbms):
        names |= set(node.catalog.tables(dbms))
    return sorted(names)


def _rows(result: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
    if isinstance(result, Table):
        return list(result.columns), [tuple(r) for r in result.rows]
    value = result.to_json()
    if isinstance(value, dict) and "Query" in value:
        value = value["Query"]
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        columns = list(dict.fromkeys(k for v in value for k in v))
        return columns, [tuple(v.get(c) for c in columns) for v in value]
    return ["value"], [(value,)]


def answer(node: NodeView, path: str, body: dict[str, Any], headers: dict[bytes, bytes], timeout: float) -> Any:
    """The JSON reply to one Grafana request."""
    from anynode.query import grafana

    dbms = dbms_of(headers)
    if path == "/search":
        return tables(node, dbms)
    if path == "/metrics":
        return grafana.metrics(tables(node, dbms))
    if path != "/query":
        return []  # payload options, annotations, tag keys and values: none

    def run_sql(name: str, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        from anynode.grammar.tokens import tokenize
        from anynode.query.netsql import metadata_routes, network_sql
        from anynode.query.run import NetworkQueryError

        words = tokenize(f'sql {name} format = json and stat = false "{sql}"') if '"' not in sql else None
        if words is None:
            raise grafana.GrafanaError("a panel's SQL may not hold double quotes", hint="use single quotes")
        try:
            return _rows(network_sql(node, "json", words, [], False, timeout, metadata_routes(node)))
        except NetworkQueryError:
            if not node.catalog.is_connected(name):
                raise
        return _rows(node.execute(f'sql {name} format = json and stat = false "{sql}"', Source.REST))

    def run_command(line: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        return _rows(node.execute(line, Source.REST))

    return grafana.answer(body, dbms, run_sql, run_command)
