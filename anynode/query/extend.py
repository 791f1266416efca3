"""``extend``: the columns each operator adds to its rows, kept first through the combining query.

The operator answers with the added values first, in columns named
``__anynode_ext_<i>`` (so they never clash with the table's own). The
combining query selects them first under their titles and, when it
aggregates, groups by them first: each operator's (or each node name's)
share stays its own row, as AnyLog answers.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from anynode.query.model import READ_DIALECT, Plan

PREFIX = "__anynode_ext_"


def ext_name(i: int) -> str:
    """The union's column of the ``i``-th extend entry."""
    return f"{PREFIX}{i}"


def _shift(terms: list[exp.Expr], n: int) -> None:
    """Positions (GROUP BY 1, ORDER BY 2) move by the ``n`` columns put first."""
    for term in terms:
        target = term.this if isinstance(term, exp.Ordered) else term
        if isinstance(target, exp.Literal) and not target.is_string and target.this.isdigit():
            target.replace(exp.Literal.number(int(target.this) + n))


def _prepend(tree: exp.Select, titles: list[str]) -> None:
    n = len(titles)
    if any(isinstance(e, exp.Star) for e in tree.expressions):
        return  # SELECT * over the union already starts with the added columns
    group = tree.args.get("group")
    aggregated = group is not None or tree.find(exp.AggFunc) is not None
    for part in ("group", "order"):
        if tree.args.get(part):
            _shift(list(tree.args[part].expressions), n)
    added = [exp.column(ext_name(i), quoted=True) for i in range(n)]
    tree.set("expressions", [exp.alias_(c.copy(), exp.to_identifier(t, quoted=True)) for c, t in zip(added, titles,
                                                                                                    strict=True)]
             + list(tree.expressions))
    if aggregated:
        tree.set("group", exp.Group(expressions=added + (list(group.expressions) if group is not None else [])))


def extend_plan(plan: Plan, titles: list[str]) -> None:
    """Make ``plan``'s combining query keep the extend columns first (nothing to do when rows pass through)."""
    if not titles:
        return
    plan.extra["ext_titles"] = {ext_name(i): t for i, t in enumerate(titles)}
    names = plan.names
    if names != ["*"]:
        plan.names = list(titles) + names
    if plan.text is not None:
        tree = sqlglot.parse_one(plan.text, read=READ_DIALECT)
        assert isinstance(tree, exp.Select)
        if names != ["*"] and len(names) == len(tree.expressions):  # keep the names SQLite gives the text as written
            tree.set("expressions", [e if isinstance(e, exp.Alias) else exp.alias_(e, exp.to_identifier(n, quoted=True))
                                     for e, n in zip(tree.expressions, names, strict=True)])
        _prepend(tree, titles)
        plan.text = tree.sql(dialect=READ_DIALECT)
    elif plan.merge is not None:
        plan.merge = plan.merge.copy()
        _prepend(plan.merge, titles)


def titled(plan: Plan | None, columns: list[str]) -> list[str]:
    """``columns`` with the union's extend names replaced by their titles."""
    names = plan.extra.get("ext_titles", {}) if plan is not None else {}
    return [names.get(c, c) for c in columns]
