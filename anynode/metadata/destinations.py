"""Destinations from the metadata: the peers of ``run client (<metadata query>) <command>`` (notes §2.9).

Three forms, inside the parentheses:

* ``blockchain get operator where ... [bring.ip_port]``: the policies' addresses
  (``bring.ip_port`` is added when the query has no ``bring``);
* ``operator where [country] contains US`` (also publisher, query, master):
  ``blockchain get`` is put in front;
* ``dbms = demo and table = sensor [and company = acme]``: one responding
  operator of each cluster that holds the table (the main one first), from
  the metadata view.

``, subset = true`` and ``, timeout = N`` may follow, as with addresses.
The query runs as a command of the caller (its variables, its
permissions): ``run client`` and the REST ``destination`` header both take
these forms. A query that finds no node is an error that names it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from anynode.codes import Code
from anynode.errors import AnyNodeError, CommandSyntaxError
from anynode.grammar.types import BOOL, SECONDS, HostPort
from anynode.metadata.policy import PolicyError
from anynode.protocols import NodeView
from anynode.results import Result

_OPTION = re.compile(r",\s*(timeout|subset)\s*=\s*([^,]+?)\s*$", re.IGNORECASE)
_TYPES = re.compile(r"^(operator|publisher|query|master)\b", re.IGNORECASE)
_PAIR = re.compile(r"^\s*(\w+)\s*=\s*(\S+)\s*$")
_HINT = "write e.g. run client (blockchain get operator where company = acme bring.ip_port) get status"


@dataclass(frozen=True)
class Found:
    """The peers a metadata destination names, with the options written after it."""

    dests: tuple[str, ...]
    timeout: float | None = None
    subset: bool = False


def _options(text: str) -> tuple[str, float | None, bool]:
    """The query without its trailing ``, timeout = N`` / ``, subset = true``, and those values."""
    timeout: float | None = None
    subset = False
    while (m := _OPTION.search(text)) is not None:
        if m.group(1).lower() == "timeout":
            timeout = SECONDS.convert(m.group(2))
        else:
            subset = BOOL.convert(m.group(2))
        text = text[:m.start()].rstrip()
    return text, timeout, subset


def _table_pairs(text: str) -> dict[str, str]:
    """``dbms = d and table = t [and company = c]`` as a dict."""
    pairs: dict[str, str] = {}
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        m = _PAIR.match(part)
        if m is None or m.group(1).lower() not in ("dbms", "table", "company"):
            raise CommandSyntaxError(f"'{part.strip()}' is not dbms = <name>, table = <name> or company = <name>",
                                     hint="write: run client (dbms = demo and table = sensor) get status")
        pairs[m.group(1).lower()] = m.group(2).strip("'\"")
    if "dbms" not in pairs or "table" not in pairs:
        raise CommandSyntaxError("a destination by table needs both dbms and table",
                                 hint="write: run client (dbms = demo and table = sensor) get status")
    return pairs


def resolve(node: NodeView, run: Callable[[str], Result], query: str, subset: bool = False) -> Found:
    """The addresses a metadata destination names; ``run`` runs the ``blockchain get`` as the caller.

    Raises:
        CommandSyntaxError: the query is malformed.
        PolicyError: it names no node (113), or a cluster has no responding operator.
    """
    from anynode.metadata.liveness import liveness

    liveness(node)  # sends to these peers mark the ones that do not answer
    text, timeout, subset_given = _options(query.strip())
    subset = subset or subset_given
    if re.match(r"^dbms\s*=", text, re.IGNORECASE):
        pairs = _table_pairs(text)
        from anynode.metadata.view import metadata_view

        members = metadata_view(node).pick(pairs["dbms"], pairs["table"], pairs.get("company"), subset)
        return Found(tuple(dict.fromkeys(m.address for m in members)), timeout, subset)
    if _TYPES.match(text):
        text = "blockchain get " + text
    if not re.match(r"^blockchain\s+get\s", text, re.IGNORECASE):  # a destination only reads the ledger
        raise CommandSyntaxError(f"'{text.split()[0]} {text.split()[1] if len(text.split()) > 1 else ''}' "
                                 "is not a destination query: only blockchain get names peers", hint=_HINT)
    if not re.search(r"(^|\s)bring(\.|\s|$)", text):
        text += " bring.ip_port"
    try:
        answer = run(text).to_text()
    except AnyNodeError as exc:
        raise CommandSyntaxError(f"the destination query failed: {exc.one_line()}", hint=_HINT) from None
    dests: list[str] = []
    for word in re.split(r"[\s,]+", answer.strip()):
        if not word:
            continue
        try:
            dests.append(HostPort().convert(word))
        except AnyNodeError:
            raise CommandSyntaxError(f"the destination query gave '{word}', which is not ip:port",
                                     hint="end the query with bring.ip_port (or bring [*][ip] : [*][port])") from None
    if not dests:
        raise PolicyError(Code.POLICY_NOT_AVAILABLE, f"no destination: '{text}' found no node in the local ledger",
                          hint="'blockchain get operator' lists the operators this node knows")
    return Found(tuple(dict.fromkeys(dests)), timeout, subset)
