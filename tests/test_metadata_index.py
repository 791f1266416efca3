"""The ledger's index (anynode/metadata/index.py): `blockchain get ... where` reads only the policies that can
match, and answers exactly what a scan of every policy answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from anynode.metadata.ledger import Snapshot, parse_ledger
from anynode.metadata.select import parse_where, select

SCALARS = st.sampled_from(["acme", "ACME", "Acme", "*", "5", "5.0", "true", "x", "San Jose", "", 5, 5.0, 2.5, 0,
                           -1, True, False, None, float("nan"), float("inf")])
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.sampled_from(["a", "b"]), SCALARS,
                                                                          max_size=2))
ATTRS = ["company", "cluster", "port", "main", "name"]
BODIES = st.dictionaries(st.sampled_from(ATTRS), VALUES, max_size=4)
POLICIES = st.lists(st.tuples(st.sampled_from(["operator", "cluster", "Operator", "table"]), BODIES,
                              st.sampled_from([None, "acme", "*"])), max_size=25)
LITERALS = st.sampled_from(["acme", "ACME", "5", "5.0", "true", "false", "*", "x", "2.5", "-1", "0", '"San Jose"',
                            '""', "nan", "inf"])
KEY_VALUE = st.builds(lambda a, v: f"{a} = {v}", st.sampled_from([*ATTRS, "operator", "missing"]), LITERALS)
WITH = st.builds(lambda a, vs: f"{a} with {json.dumps(vs)}", st.sampled_from(ATTRS),
                 st.lists(st.sampled_from(["acme", "x", "5", "true"]), min_size=1, max_size=3))
EXPRESSION = st.sampled_from(["[port] > 3", "[company] contains cm", "not company = acme", "[main]",
                              "table[dbms] = acme", "[*][name] == x"])
ATOM = st.one_of(KEY_VALUE, KEY_VALUE, WITH, EXPRESSION)
CONDITIONS = st.recursive(ATOM, lambda inner: st.one_of(
    st.builds(lambda a, b: f"{a} and {b}", inner, inner),
    st.builds(lambda a, b: f"{a} or {b}", inner, inner),
    st.builds(lambda a: f"({a})", inner)), max_leaves=4)
TYPES = st.sampled_from([("operator",), ("cluster",), ("operator", "table"), None, ("nothing",)])


def snapshot(rows: list[tuple[str, dict[str, Any], str | None]]) -> Snapshot:
    """A ledger generation of these policies (each given an id), as the ledger loads one."""
    lines = []
    for n, (kind, body, company) in enumerate(rows):
        inner = dict(body, id=f"{n:032x}")
        if company is not None:
            inner.setdefault("company", company)
        lines.append(json.dumps({kind: inner}))
    data = ("\n".join(lines) + "\n").encode() if lines else b"\n"
    return Snapshot(Path("ledger.json"), None, data, parse_ledger(data), exists=True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(POLICIES, TYPES, CONDITIONS)
def test_the_index_answers_exactly_what_a_scan_of_every_policy_answers(rows: list[Any], types: Any,
                                                                      where: str) -> None:
    snap = snapshot(rows)
    condition = parse_where(where)
    plain = select(snap.of_types(types), "*", condition)
    assert snap.index.select(types, condition) == plain
    assert snap.index.select(types, condition) == plain  # the second answer comes from the built buckets


def test_a_plain_and_of_key_value_conditions_is_what_the_index_looks_up() -> None:
    assert parse_where("cluster = c1 and company with [\"a\", \"b\"]").lookups == (
        ("cluster", ("c1",)), ("company", ("a", "b")))
    assert parse_where("cluster = c1 and [port] > 3").lookups == (("cluster", ("c1",)),)
    for scan_only in ("cluster = c1 or company = a", "not cluster = c1", "table[dbms] = d", "(cluster = c1)"):
        assert parse_where(scan_only).lookups == ()


def gauges(n: int) -> str:
    return "\n".join(json.dumps({"gauge": {"name": f"g{i}", "cluster": f"c{i % 10}", "ip": f"10.0.0.{i % 250}",
                                           "port": 32148 + i % 3, "id": f"{i:032x}"}}) for i in range(n)) + "\n"


def test_blockchain_get_through_the_index_follows_every_change_of_the_ledger(node: Any) -> None:
    path = Path(str(node.get_var("blockchain_file")))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(gauges(200))
    query = "blockchain get gauge where cluster = C3 bring.ip_port"
    first = node.execute(query).to_text()
    assert first.count(":") == 20 and "10.0.0.3:32148" in first
    node.execute('blockchain insert where policy = {"gauge": {"name": "late", "cluster": "c3", "ip": '
                 '"10.9.9.9", "port": 1, "company": "acme"}} and local = true')
    assert "10.9.9.9:1" in node.execute(query).to_text()  # an insert: a new generation, a new index
    late = node.execute("blockchain get gauge where name = late bring [*][id]").to_text().strip()
    node.execute(f"blockchain delete policy where id = {late}")
    assert node.execute(query).to_text() == first
    path.write_text(gauges(20))  # another writer: the file changed under the node
    assert node.execute(query).to_text().count(":") == 2
