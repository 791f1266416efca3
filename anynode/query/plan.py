"""Splitting one SELECT into the query every operator runs and the query that combines their answers.

The query node never merges rows by hand: every operator answers a rewritten
query, the answers go into one SQLite table named after the user's table,
and a second query over it gives the result (:mod:`anynode.query.merge`).
Each SELECT falls into one of four shapes:

- ``rows``: no aggregate, no GROUP BY. Operators return the projected values
  (and the ORDER BY keys, with LIMIT + OFFSET when there is a LIMIT); the
  combining query orders and cuts the union. Without ORDER BY the answers are
  only concatenated, chunk by chunk, never held.
- ``aggregate``: COUNT, SUM, MIN and MAX of each group are taken on the
  operators and combined with SUM, SUM, MIN, MAX; AVG travels as SUM and COUNT
  and is divided at the end (never an average of averages). HAVING, ORDER BY
  and LIMIT apply to the combined groups.
- ``pull``: anything else that reads one table (COUNT DISTINCT, median,
  window functions, subqueries, a bare column beside an aggregate): operators
  send the rows the query needs and the whole query runs on the union. Always
  right, and costlier, so it is chosen only when no cheaper split is.
- refused: more than one table, UNION and other set operations, or not a SELECT.

``increments(unit, n, column)`` (AnyLog) is not a column of the result: it
groups by a time bucket (first group key, the result's order when there is
no ORDER BY). The bucket is written for each engine an operator runs.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from anynode.query.model import BUCKET, READ_DIALECT, Plan, PlanError
from anynode.query.split import split
from anynode.query.timefn import unit_of


def parse(query: str) -> exp.Select:
    """The one SELECT in ``query``; a PlanError for anything else."""
    try:
        trees = [t for t in sqlglot.parse(query, read=READ_DIALECT) if t is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" near '{first.get('highlight')}'" if first.get("highlight") else ""
        raise PlanError(f"the query is not valid SQL{where}", hint="check the SELECT statement") from None
    if len(trees) != 1:
        raise PlanError("send one SELECT at a time", hint="remove the ';' and the statement after it")
    tree = trees[0]
    if not isinstance(tree, exp.Select):
        raise PlanError(f"only a SELECT can be sent to the network, not {tree.key.upper()}",
                        hint="run other statements on the node that holds the table")
    return tree


def _table(tree: exp.Select) -> str:
    source = tree.args.get("from_")
    if tree.args.get("joins") or source is None or not isinstance(source.this, exp.Table):
        raise PlanError("a network query reads one table (no join, no FROM subquery)",
                        hint="query one table; join the results on the node if you need to")
    if tree.args.get("into"):
        raise PlanError("SELECT INTO writes a table; a network query only reads", hint="remove INTO")
    if tree.args.get("with_"):
        raise PlanError("WITH is not supported in a network query", hint="write the query without WITH")
    return source.this.name


def _name(item: exp.Expr, text: str) -> str:
    if isinstance(item, exp.Alias):
        return item.alias
    if isinstance(item, exp.Column):
        return item.name
    return text


def projection_texts(query: str, count: int) -> list[str]:
    """The select list of ``query`` as written (SQLite names unnamed result columns by their text)."""
    masked = re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", lambda m: "\x00" * len(m.group(0)), query)
    m = re.match(r"\s*select\s+(?:distinct\s+|all\s+)?", masked, re.I)
    start = m.end() if m else 0
    depth, parts, begin = 0, [], start
    for i in range(start, len(masked)):
        ch = masked[i]
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and (ch == "," or re.match(r"\s+from\b", masked[i:i + 6], re.I)):
            parts.append(query[begin:i].strip())
            if ch != ",":
                break
            begin = i + 1
    return parts if len(parts) == count else [""] * count


def _increments(tree: exp.Select) -> tuple[str, float, str] | None:
    found = None
    for item in list(tree.expressions):
        target = item.this if isinstance(item, exp.Alias) else item
        if isinstance(target, exp.Anonymous) and target.name.lower() == "increments":
            args = [a.sql(dialect=READ_DIALECT) for a in target.expressions]
            if len(args) != 3 or found is not None:
                raise PlanError("increments() takes a unit, a count and a column, once",
                                hint="e.g. increments(minute, 5, timestamp)")
            try:
                n = float(args[1])
            except ValueError:
                raise PlanError(f"increments() count '{args[1]}' is not a number",
                                hint="e.g. increments(minute, 5, timestamp)") from None
            found = (unit_of(args[0]), n, target.expressions[2].name)
            item.pop()
    for node in tree.find_all(exp.Anonymous):
        if node.name.lower() in ("increments", "period"):
            raise PlanError(f"{node.name}() is allowed only as AnyLog places it",
                            hint="increments(...) first in the select list; period(...) in the WHERE")
    return found


def build(query: str) -> Plan:
    """The plan of one SELECT (AnyLog time expressions already made literals by :func:`timefn.prepare`)."""
    tree = parse(query)
    table = _table(tree)
    if any(isinstance(n, exp.Select) for n in tree.find_all(exp.Union, exp.Intersect, exp.Except)):
        raise PlanError("UNION, INTERSECT and EXCEPT are not supported in a network query",
                        hint="send each SELECT on its own")
    texts = projection_texts(query, len(tree.expressions))
    bucket = _increments(tree)
    if bucket is not None:
        texts = [t for t in texts if not re.match(r"increments\s*\(", t, re.I)] or [""] * len(tree.expressions)
        tree.set("group", exp.Group(expressions=[exp.column(BUCKET)] + list(tree.args["group"].expressions
                                                                            if tree.args.get("group") else [])))
        if not tree.args.get("order"):
            tree.set("order", exp.Order(expressions=[exp.Ordered(this=exp.column(BUCKET), nulls_first=True)]))
    names = [_name(item, text or item.sql(dialect=READ_DIALECT)) for item, text in zip(tree.expressions, texts,
                                                                                        strict=False)]
    plan = split(tree, table, names)
    plan.bucket = bucket
    if plan.extra.pop("text", False) and bucket is None:
        plan.text = query  # pulled: the union runs the query as written, functions and names untouched
    return plan
