"""What each policy type must hold, and what must be unique, checked against the ledger (AnyLog's rules).

:func:`validate` runs before a policy is written. It completes the policy as
AnyLog does (``status = active`` for clusters and their tables, a random
``member`` 1-255 for an operator) and refuses, with AnyLog's codes:

* 87 a wrong structure: a missing required attribute, a wrong value type
  (an operator's ``port`` must be a number), an operator without ``cluster``;
* 149 an operator whose ip and port another operator uses;
* 180 values that must be unique: an operator's name (and company + name,
  cluster + member), a root cluster's name, a table's dbms + name ...;
* 118 a child cluster whose parent is missing or of another company;
* 222 an operator whose cluster policy is not in the ledger.

Types without rules (master, query, publisher, config, and any other) are
free-form. A policy already marked ``"ledger": "global"`` came from a master
that checked it: only the uniqueness rules run for it (as in EdgeLake).
Values compare as ``blockchain get ... where`` does: text without regard to
case, numbers as text, a ``*`` in a policy matching anything.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from anynode.codes import Code
from anynode.metadata.policy import WRONG_STRUCTURE, PolicyError, policy_type

Check = Callable[[str, dict[str, Any], Sequence[dict[str, Any]]], None]


@dataclass(frozen=True)
class Attr:
    """One attribute of a policy type: its JSON types, whether required, its default, what must be unique."""

    name: str
    types: tuple[type, ...] = (str,)
    required: bool = False
    default: Any = None
    unique: tuple[str, ...] = ()  # the attributes whose values together must be unique ((name,) alone: itself)
    check: Check | None = None


def _same(value: Any, wanted: Any) -> bool:
    if isinstance(value, list):
        return any(_same(v, wanted) for v in value)
    if value == "*":
        return True
    return str(value).lower() == str(wanted).lower()


def matching(policies: Iterable[dict[str, Any]], kind: str, **where: Any) -> list[dict[str, Any]]:
    """The policies of type ``kind`` whose attributes equal ``where`` (as ``blockchain get`` compares)."""
    out = []
    for p in policies:
        attrs = p.get(kind)
        if isinstance(attrs, dict) and all(k in attrs and _same(attrs[k], v) for k, v in where.items()):
            out.append(p)
    return out


def _cluster_exists(kind: str, attrs: dict[str, Any], existing: Sequence[dict[str, Any]]) -> None:
    if len(matching(existing, "cluster", id=attrs["cluster"])) != 1:
        raise PolicyError(Code.MISSING_CLUSTER_POLICY,
                          f"the operator's cluster '{attrs['cluster']}' is not in the ledger",
                          hint="insert the cluster policy first, or sync with the master")


def _uns_parent(kind: str, attrs: dict[str, Any], existing: Sequence[dict[str, Any]]) -> None:
    parent = attrs.get("parent")
    if parent is None:
        return
    found = matching(existing, "uns", id=parent)
    if not found:
        raise PolicyError(Code.MISSING_CLUSTER_POLICY, f"the uns parent policy '{parent}' is not in the ledger",
                          hint="insert the parent first")
    if len(found) > 1:
        raise PolicyError(WRONG_STRUCTURE, f"the uns parent policy '{parent}' is in the ledger more than once")


def _tag_node_id(kind: str, attrs: dict[str, Any], existing: Sequence[dict[str, Any]]) -> None:
    if "node_iid" not in attrs and "node_sid" not in attrs:
        raise PolicyError(Code.MISSING_POLICY_ATTRIBUTE,
                          f"the tag policy for '{attrs['dbms']}.{attrs['table']}' has no 'node_iid' or 'node_sid'")


STR, INT, BOOL, LIST, DICT = (str,), (int,), (bool,), (list,), (dict,)

CLUSTER_TABLE = (Attr("dbms", required=True), Attr("name", required=True), Attr("status", required=True,
                                                                                 default="active"))
OPERATOR = (Attr("company", required=True), Attr("name", required=True), Attr("ip", required=True),
            Attr("port", INT, required=True), Attr("member", INT), Attr("cluster", check=_cluster_exists),
            Attr("main", BOOL))
CLUSTER = (Attr("status", required=True, default="active"), Attr("name", required=True),
           Attr("company", required=True), Attr("table", LIST))
TABLE = (Attr("name", required=True), Attr("dbms", required=True), Attr("create", required=True))
MAPPING = (Attr("dbms", required=True), Attr("table", required=True), Attr("readings"), Attr("condition"),
           Attr("schema", DICT, required=True), Attr("import", DICT))
MAPPING_COLUMN = (Attr("script", LIST), Attr("bring", (str, list)), Attr("type", required=True),
                  Attr("root", BOOL), Attr("blob", BOOL), Attr("extension"), Attr("hash"))

#: The types checked attribute by attribute (operator, cluster and mapping have more rules below).
ATTRS: dict[str, tuple[Attr, ...]] = {
    "operator": OPERATOR,
    "cluster": CLUSTER,
    "table": TABLE,
    "mapping": MAPPING,
    "transform": (Attr("dbms", required=True), Attr("table", required=True), Attr("column", required=True)),
    "member": (Attr("type", required=True), Attr("public_key", required=True, unique=("public_key",))),
    "permissions": (Attr("name", required=True, unique=("name",)), Attr("enable", LIST, required=True),
                    Attr("disable", LIST), Attr("databases", LIST), Attr("tables", LIST),
                    Attr("public_key", required=True), Attr("signature", required=True)),
    "bucket": (Attr("name", required=True, unique=("name",)), Attr("operator", required=True)),
    "assignment": (Attr("permissions", required=True), Attr("members", LIST, required=True),
                   Attr("public_key", required=True), Attr("signature", required=True)),
    "license": tuple(Attr(n, required=True, unique=(n,)) for n in ("activation_key", "company", "expiration", "type")),
    "tag": (Attr("dbms", required=True), Attr("table", required=True, unique=("dbms", "table")),
            Attr("ns", INT, required=True, check=_tag_node_id),
            Attr("node_iid", unique=("dbms", "table", "node_iid")),
            Attr("node_sid", unique=("dbms", "table", "node_sid"))),
    "uns": (Attr("name", required=True), Attr("namespace", required=True, unique=("namespace",)),
            Attr("parent", check=_uns_parent), Attr("dbms"), Attr("table", unique=("dbms", "table", "name"))),
}

#: Attribute groups whose values together must be unique among policies of the type (None: skip when absent).
UNIQUE: dict[str, tuple[tuple[str, ...], ...]] = {
    "operator": (("company", "name"), ("cluster", "member"), ("ip", "port"), ("name",)),
    "table": (("dbms", "name"),),
}


def _type_name(types: tuple[type, ...]) -> str:
    return " or ".join({str: "text", int: "a number", bool: "true/false", list: "a list", dict: "an object"}[t]
                       for t in types)


def _unique(kind: str, attrs: dict[str, Any], names: tuple[str, ...], existing: Sequence[dict[str, Any]]) -> None:
    present = {n: attrs[n] for n in names if n in attrs and str(attrs[n])}
    if not present:
        return
    clash = matching(existing, kind, **present)
    if clash:
        said = " and ".join(f"{k} = {v}" for k, v in present.items())
        other = clash[0][kind].get("id", "?")
        raise PolicyError(Code.NON_UNIQUE_POLICY_VALUES, f"a {kind} policy with {said} exists already (id {other})",
                          hint="change these values, or use the policy that exists")


def check_attrs(kind: str, attrs: dict[str, Any], table: Iterable[Attr], existing: Sequence[dict[str, Any]],
                where: str = "") -> None:
    """Check (and complete with defaults) ``attrs`` against ``table``; ``where`` names a nested entry."""
    label = f"{kind}{where}"
    for attr in table:
        if attr.name not in attrs:
            if attr.default is not None:
                attrs[attr.name] = attr.default
            elif attr.required:
                raise PolicyError(WRONG_STRUCTURE, f"the {label} policy has no '{attr.name}'",
                                  hint=f"add it: set policy p [{kind}][{attr.name}] = ...")
            else:
                continue
        value = attrs[attr.name]
        if attr.unique and not where:
            _unique(kind, attrs, attr.unique, existing)
        if attr.check is not None:
            attr.check(kind, attrs, existing)
        if not isinstance(value, attr.types) or (isinstance(value, bool) and bool not in attr.types):
            raise PolicyError(WRONG_STRUCTURE, f"'{attr.name}' of the {label} policy must be "
                              f"{_type_name(attr.types)}, not {json_text(value)}",
                              hint="a value set from !x.int is a number; '!x' in quotes stays text")


def json_text(value: Any) -> str:
    """A value as it reads in JSON (for messages)."""
    import json

    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _operator(attrs: dict[str, Any], existing: Sequence[dict[str, Any]]) -> None:
    if "cluster" not in attrs:
        raise PolicyError(WRONG_STRUCTURE, "the operator policy is not associated with a cluster",
                          hint="add the id of its cluster policy: set policy p [operator][cluster] = !cluster_id")
    for name in ("ip", "port"):
        if name not in attrs:
            raise PolicyError(WRONG_STRUCTURE, f"the operator policy has no '{name}'",
                              hint=f"add it: set policy p [operator][{name}] = ...")
    if matching(existing, "operator", ip=attrs["ip"], port=attrs["port"]):
        raise PolicyError(Code.NON_UNIQUE_IP_PORT, f"another operator uses {attrs['ip']}:{attrs['port']}",
                          hint="give this operator its own ip and port")
    if "member" not in attrs:
        taken = {p["operator"].get("member") for p in matching(existing, "operator", cluster=attrs["cluster"])}
        free = [n for n in range(1, 256) if n not in taken]
        if not free:
            raise PolicyError(Code.NON_UNIQUE_POLICY_VALUES, f"cluster {attrs['cluster']} has 255 members already")
        attrs["member"] = free[secrets.randbelow(len(free))]


def _cluster(attrs: dict[str, Any], existing: Sequence[dict[str, Any]]) -> None:
    tables = attrs.get("table", [])
    seen: set[str] = set()
    for n, entry in enumerate(tables):
        if not isinstance(entry, dict):
            raise PolicyError(WRONG_STRUCTURE, f"entry {n} of the cluster's 'table' list is not an object",
                              hint='write [{"dbms": "demo", "name": "sensor"}]')
        check_attrs("cluster", entry, CLUSTER_TABLE, existing, where=f"[table][{n}]")
        key = f"{entry['dbms']}.{entry['name']}"
        if key in seen:
            raise PolicyError(WRONG_STRUCTURE, f"the cluster policy lists table {key} twice")
        seen.add(key)
    same_name = matching(existing, "cluster", name=attrs["name"])
    if "parent" not in attrs:
        if same_name:
            raise PolicyError(Code.NON_UNIQUE_POLICY_VALUES, f"a cluster named '{attrs['name']}' exists already "
                              f"(id {same_name[0]['cluster'].get('id', '?')})",
                              hint="choose another name, or add tables to it with a child policy (\"parent\": its id)")
        return
    if not same_name:
        raise PolicyError(WRONG_STRUCTURE, f"no cluster named '{attrs['name']}' exists for this child policy",
                          hint="a child cluster policy has its parent's name and company")
    parent = next((p["cluster"] for p in same_name if p["cluster"].get("id") == attrs["parent"]), None)
    if parent is None:
        raise PolicyError(Code.MISSING_PARENT_POLICY, f"no cluster '{attrs['name']}' has the id {attrs['parent']}",
                          hint="'parent' is the id of the root cluster policy with the same name")
    if parent.get("company") != attrs["company"]:
        raise PolicyError(Code.MISSING_PARENT_POLICY, f"the parent cluster '{attrs['name']}' belongs to company "
                          f"'{parent.get('company')}', not '{attrs['company']}'")


def _mapping(attrs: dict[str, Any], existing: Sequence[dict[str, Any]]) -> None:
    for column, info in attrs["schema"].items():
        if column.startswith("__") and column.endswith("__"):
            continue
        entries = info if isinstance(info, list) else [info]
        for entry in entries:
            if not isinstance(entry, dict):
                raise PolicyError(WRONG_STRUCTURE, f"the schema entry '{column}' must be an object or a list of them")
            check_attrs("mapping", entry, MAPPING_COLUMN, existing, where=f"[schema][{column}]")
            default, kind = entry.get("default"), entry["type"]
            wrong = {"string": str, "int": int, "bool": bool}.get(kind)
            if default is not None and wrong is not None and not isinstance(default, wrong):
                raise PolicyError(WRONG_STRUCTURE, f"the default {json_text(default)} of column '{column}' "
                                  f"is not of type {kind}")
    for name, ref in attrs.get("import", {}).items():
        if not isinstance(ref, str) or not ref:
            raise PolicyError(WRONG_STRUCTURE, f"import '{name}' must name a mapping policy id")
        if not matching(existing, "mapping", id=ref):
            raise PolicyError(Code.POLICY_NOT_AVAILABLE, f"the mapping policy '{ref}' to import is not in the ledger")


def _member(attrs: dict[str, Any], existing: Sequence[dict[str, Any]]) -> None:
    if attrs["type"] == "root" and matching(existing, "member", type="root"):
        raise PolicyError(Code.NON_UNIQUE_POLICY_VALUES, "a root member policy exists already")


Rule = Callable[[dict[str, Any], Sequence[dict[str, Any]]], None]
_BEFORE: dict[str, Rule] = {"operator": _operator}  # before the attribute checks (AnyLog's order)
_AFTER: dict[str, Rule] = {"cluster": _cluster, "mapping": _mapping, "member": _member}


def validate(policy: dict[str, Any], existing: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Check ``policy`` against its type's rules and the ``existing`` policies, completing it in place.

    Raises:
        PolicyError: with AnyLog's code (87, 118, 149, 180, 222, 263, 113).
    """
    kind = policy_type(policy)
    attrs = policy[kind]
    if kind in ATTRS and attrs.get("ledger", "local") == "local":
        if kind in _BEFORE:
            _BEFORE[kind](attrs, existing)
        check_attrs(kind, attrs, ATTRS[kind], existing)
        if kind in _AFTER:
            _AFTER[kind](attrs, existing)
    for names in UNIQUE.get(kind, ()):
        _unique(kind, attrs, names, existing)
    return policy
