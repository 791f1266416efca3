"""The shapes of :mod:`anynode.query.plan`: rows, aggregate and pull, each a remote query and a combining one."""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from anynode.query.model import BUCKET, READ_DIALECT, Plan, PlanError

_SPLITTABLE = (exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg)


class _Pull(Exception):
    """This query needs every row on the query node; the message says why."""


def _int(node: exp.Expr | None, what: str) -> int | None:
    if node is None:
        return None
    value = node.args.get("expression") or node.this
    if not isinstance(value, exp.Literal) or value.is_string or not value.this.isdigit():
        raise _Pull(f"{what} is not a number")
    return int(value.this)


def _pull_reason(tree: exp.Select) -> str:
    if tree.find(exp.Window):
        return "a window function needs every row"
    if any(node is not tree for node in tree.find_all(exp.Select)):
        return "a subquery needs every row"
    for agg in tree.find_all(exp.AggFunc):
        if not isinstance(agg, _SPLITTABLE):
            return f"{agg.sql(dialect=READ_DIALECT).split('(')[0]}() needs every row"
        if isinstance(agg.this, exp.Distinct):
            return "COUNT(DISTINCT ...) needs every value"
    return ""


def split(tree: exp.Select, table: str, names: list[str]) -> Plan:
    """The cheapest correct plan for ``tree``."""
    for node in tree.find_all(exp.Table):
        if node.name != table:
            raise PlanError(f"a network query reads one table, this one also reads '{node.name}'",
                            hint="query one table")
        node.set("db", None)
        node.set("catalog", None)
    try:
        limit = _int(tree.args.get("limit"), "LIMIT")
        offset = _int(tree.args.get("offset"), "OFFSET") or 0
        reason = _pull_reason(tree)
        if reason:
            raise _Pull(reason)
        if tree.args.get("group") or tree.find(exp.AggFunc):
            return _aggregate(tree, table, names)
        return _rows(tree, table, names, limit, offset)
    except _Pull as why:
        return _pulled(tree, table, names, str(why))


def _strip(item: exp.Expr) -> exp.Expr:
    return item.this if isinstance(item, exp.Alias) else item


def _select(table: str, items: Sequence[exp.Expr], distinct: bool = False) -> exp.Select:
    out = exp.select(*items).from_(exp.to_table(exp.to_identifier(table, quoted=True).sql()))
    if distinct:
        out.set("distinct", exp.Distinct())
    return out


def _alias(expr: exp.Expr, name: str) -> exp.Expr:
    return exp.alias_(expr.copy(), exp.to_identifier(name, quoted=True))


def _key(order: exp.Expr, tree: exp.Select, names: list[str]) -> int | None:
    """The position in the select list an ORDER BY / GROUP BY term means, if it names one."""
    items = tree.expressions
    if isinstance(order, exp.Literal) and not order.is_string and order.this.isdigit():
        k = int(order.this) - 1
        if not 0 <= k < len(items):
            raise PlanError(f"position {k + 1} is not in the select list", hint=f"use 1 to {len(items)}")
        return k
    if isinstance(order, exp.Column) and not order.table:
        for k, item in enumerate(items):
            if isinstance(item, exp.Alias) and item.alias == order.name:
                return k
    for k, item in enumerate(items):
        if _strip(item) == order:
            return k
    return None


def _rows(tree: exp.Select, table: str, names: list[str], limit: int | None, offset: int) -> Plan:
    distinct = bool(tree.args.get("distinct"))
    where = tree.args.get("where")
    orders = list(tree.args["order"].expressions) if tree.args.get("order") else []
    star = len(tree.expressions) == 1 and isinstance(tree.expressions[0], exp.Star)
    if not star and tree.find(exp.Star):
        raise _Pull("'*' beside other columns")
    remote_items: list[exp.Expr] = []
    merge_items: list[exp.Expr] = []
    merge_orders: list[exp.Ordered] = []
    remote_orders: list[exp.Ordered] = []
    if star:
        remote_items, merge_items = [exp.Star()], [exp.Star()]
        merge_orders = [o.copy() for o in orders]
        remote_orders = [o.copy() for o in orders]
    else:
        for k, item in enumerate(tree.expressions):
            remote_items.append(_alias(_strip(item), f"__c{k}"))
            merge_items.append(_alias(exp.column(f"__c{k}", quoted=True), names[k]))
        for j, order in enumerate(orders):
            pos = _key(order.this, tree, names)
            expr = _strip(tree.expressions[pos]) if pos is not None else order.this
            pushed = order.copy()
            pushed.set("this", expr.copy())
            remote_orders.append(pushed)
            if pos is None:
                if distinct:
                    raise _Pull("ORDER BY a column that DISTINCT does not select")
                remote_items.append(_alias(order.this, f"__o{j}"))
                key: exp.Expr = exp.column(f"__o{j}", quoted=True)
            else:
                key = exp.column(f"__c{pos}", quoted=True)
            merge_orders.append(exp.Ordered(this=key, desc=order.args.get("desc"),
                                            nulls_first=order.args.get("nulls_first")))
    remote = _select(table, remote_items, distinct)
    if where is not None:
        remote.set("where", where.copy())
    if limit is not None:
        if remote_orders:
            remote.set("order", exp.Order(expressions=[_fixed(o) for o in remote_orders]))
        remote.set("limit", exp.Limit(expression=exp.Literal.number(limit + offset)))
    merge = None
    if merge_orders or distinct:
        merge = _select(table, merge_items, distinct)
        if merge_orders:
            merge.set("order", exp.Order(expressions=merge_orders))
        _cut(merge, limit, offset)
    return Plan("rows", table, remote, merge, names, limit=limit, offset=offset)


def _fixed(order: exp.Ordered) -> exp.Ordered:
    return order if isinstance(order, exp.Ordered) else exp.Ordered(this=order)


def _cut(merge: exp.Select, limit: int | None, offset: int) -> None:
    if limit is not None:
        merge.set("limit", exp.Limit(expression=exp.Literal.number(limit)))
    if offset:
        merge.set("offset", exp.Offset(expression=exp.Literal.number(offset)))


class _Aggregates:
    """The operators' share of each aggregate and its combination over their answers."""

    def __init__(self) -> None:
        self.remote: list[exp.Expr] = []
        self.merged: dict[exp.Expr, exp.Expr] = {}

    def _part(self, expr: exp.Expr) -> exp.Column:
        name = f"__a{len(self.remote)}"
        self.remote.append(_alias(expr, name))
        return exp.column(name, quoted=True)

    def merge_of(self, agg: exp.AggFunc) -> exp.Expr:
        if agg in self.merged:
            return self.merged[agg].copy()
        if isinstance(agg, exp.Avg):
            total = self._part(exp.Sum(this=agg.this.copy()))
            count = self._part(exp.Count(this=agg.this.copy()))
            out: exp.Expr = exp.Div(this=exp.Cast(this=exp.Sum(this=total), to=exp.DataType.build("REAL")),
                                          expression=exp.Sum(this=count))
        elif isinstance(agg, exp.Count):
            out = exp.Coalesce(this=exp.Sum(this=self._part(agg)), expressions=[exp.Literal.number(0)])
        else:
            out = type(agg)(this=self._part(agg))
        self.merged[agg] = out
        return out.copy()


def _aggregate(tree: exp.Select, table: str, names: list[str]) -> Plan:
    groups: list[exp.Expr] = []
    for term in (tree.args["group"].expressions if tree.args.get("group") else []):
        k = _key(term, tree, names) if not (isinstance(term, exp.Column) and term.name == BUCKET) else None
        groups.append(_strip(tree.expressions[k]).copy() if k is not None else term.copy())
    aggs = _Aggregates()

    def combine(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.AggFunc):
            return aggs.merge_of(node)
        for i, group in enumerate(groups):
            if node == group:
                return exp.column(f"__g{i}", quoted=True)
        return node

    def merged(expr: exp.Expr) -> exp.Expr:
        out = expr.copy().transform(combine)
        for col in out.find_all(exp.Column):
            if not col.name.startswith(("__g", "__a")):
                raise _Pull(f"column '{col.name}' is neither grouped nor aggregated")
        return out

    merge_items = [_alias(merged(_strip(item)), names[k]) for k, item in enumerate(tree.expressions)]
    merge = _select(table, merge_items, bool(tree.args.get("distinct")))
    if groups:
        merge.set("group", exp.Group(expressions=[exp.column(f"__g{i}", quoted=True) for i in range(len(groups))]))
    if tree.args.get("having"):
        merge.set("having", exp.Having(this=merged(tree.args["having"].this)))
    if tree.args.get("order"):
        orders = []
        for order in tree.args["order"].expressions:
            k = _key(order.this, tree, names)
            key = exp.column(names[k], quoted=True) if k is not None else merged(order.this)
            orders.append(exp.Ordered(this=key, desc=order.args.get("desc"),
                                      nulls_first=order.args.get("nulls_first")))
        merge.set("order", exp.Order(expressions=orders))
    for part in ("limit", "offset"):
        if tree.args.get(part):
            merge.set(part, tree.args[part].copy())
    remote_items = [_alias(g, f"__g{i}") for i, g in enumerate(groups)] + aggs.remote
    remote = _select(table, remote_items or [exp.Literal.number(1)])
    if tree.args.get("where") is not None:
        remote.set("where", tree.args["where"].copy())
    if groups:
        remote.set("group", exp.Group(expressions=[g.copy() for g in groups]))
    return Plan("aggregate", table, remote, merge, names)


def _pulled(tree: exp.Select, table: str, names: list[str], reason: str) -> Plan:
    aliases = {item.alias for item in tree.expressions if isinstance(item, exp.Alias)}
    late = set()
    for part in ("order", "having"):
        if tree.args.get(part):
            late |= {c.name for c in tree.args[part].find_all(exp.Column) if not c.table}
    early = set()
    for part in ("expressions", "where", "group"):
        value = tree.args.get(part)
        for node in (value if isinstance(value, list) else [value] if value is not None else []):
            early |= {c.name for c in node.find_all(exp.Column)}
    columns = sorted((early | (late - aliases)) - {BUCKET})
    star = any(isinstance(s.parent, exp.Select) or isinstance(s.parent, exp.Column) for s in tree.find_all(exp.Star))
    items: list[exp.Expr] = [exp.Star()] if star or not columns else [exp.column(c, quoted=True)
                                                                              for c in columns]
    remote = _select(table, items)
    where = tree.args.get("where")
    if where is not None and not where.find(exp.Select):
        remote.set("where", where.copy())
    return Plan("pull", table, remote, tree, names, reason=reason, extra={"text": True})
