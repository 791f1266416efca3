"""``bring``: what to take out of selected policies, and in which shape.

``bring[.modifier...] <template> [separator = <s>]``. A template is a run of
paths (``[operator][ip]``, ``[*][port]``, ``[name]``) and literal text
(``:``, ``" - "``, ``\\n``), concatenated per policy; the policies' results are
joined by the separator (none by default, as in AnyLog). ``[a]:[b]`` written
as one word takes ``[a]``, or ``[b]`` when the policy has no ``[a]``.

Modifiers: first, last/recent (one policy: the earliest / latest ``date``,
the ledger order when dates are missing), unique, count, json, null (json
keys without a value are kept, empty), list, table (with sort or
sort(i,j)), min, max, ip_port (the addresses to dial), children (the
policies whose parent is a selected one). docs/metadata-query.md shows
each with its output.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from anynode.errors import CommandSyntaxError
from anynode.grammar.tokens import BRACKET, QUOTED, WORD, Token, tokenize
from anynode.metadata.paths import MISSING, PolicyPath, as_text, body_or_none, getter, number, parse_path
from anynode.metadata.select import children_of
from anynode.results import Json, Message, Result, Table

MODIFIERS = ("first", "last", "recent", "unique", "count", "json", "null", "list", "table", "sort", "min", "max",
             "ip_port", "children")
_NO_TEMPLATE = frozenset({"count", "ip_port", "first", "recent", "json", "unique", "list", "table", "children"})
_SORT = re.compile(r"sort\(\s*(\d+(?:\s*,\s*\d+)*)\s*\)")
_CONTROL = {"\\n": "\n", "\\t": "\t", "\\r": "\r"}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True)
class Piece:
    """One item of a template: paths to try in turn (``[a]:[b]``), or literal text."""

    paths: tuple[PolicyPath, ...] = ()
    literal: str = ""


@dataclass(frozen=True)
class Bring:
    """A parsed ``bring`` clause."""

    modifiers: frozenset[str]
    template: tuple[Piece, ...] = ()
    separator: str | None = None
    sort_columns: tuple[int, ...] | None = None
    text: str = ""

    def has(self, modifier: str) -> bool:
        """True when ``bring.<modifier>`` was given (``last`` is ``recent``)."""
        return ("recent" if modifier == "last" else modifier) in self.modifiers

    @property
    def columns(self) -> list[str]:
        """The JSON keys (and, capitalised, the table columns) of the template's paths."""
        return [p.paths[0].name for p in self.template if p.paths]


@dataclass(frozen=True)
class NodeAddresses:
    """This node's own addresses: ``bring.ip_port`` dials a peer that shares its
    public address at the peer's local address, and itself at its local port."""

    external_ip: str = ""
    external_port: int | str | None = None
    local_ip: str = ""
    local_port: int | str | None = None


def _fail(message: str, tok: Token | None, base: int, hint: str | None = None) -> CommandSyntaxError:
    if tok is None:
        return CommandSyntaxError(f"bring: {message}", hint=hint)
    return CommandSyntaxError(f"bring: {message} (column {tok.start + base + 1})", hint=hint, offset=tok.start + base)


def _text(tok: Token) -> str:
    """A literal of a template or a separator: quotes removed, ``\\n``/``\\t``/``\\r`` as the characters."""
    text = tok.text[1:-1] if tok.kind == QUOTED and len(tok.text) >= 2 else tok.text
    return _CONTROL.get(text, text)


def _modifiers(tok: Token, base: int) -> tuple[frozenset[str], tuple[int, ...] | None]:
    parts = tok.text.lower().split(".")
    found: set[str] = set()
    columns = None
    for part in parts[1:]:
        sort = _SORT.fullmatch(part)
        if sort:
            found.add("sort")
            columns = tuple(int(c) for c in sort.group(1).split(","))
        elif part in MODIFIERS:
            found.add("recent" if part == "last" else part)
        else:
            raise _fail(f"unknown modifier '{part}' in '{tok.text}'", tok, base,
                        hint="use " + ", ".join(f".{m}" for m in MODIFIERS) + " or .sort(0,1)")
    return frozenset(found), columns


def parse_bring(source: str | Sequence[Token], base: int = 0) -> Bring:
    """Parse ``bring[.modifiers] template [separator = s]`` from text or tokens.

    Raises:
        CommandSyntaxError: an unknown modifier, a missing template, a bad
            path or separator; the message names the word and its column.
    """
    tokens = tokenize(source) if isinstance(source, str) else list(source)
    text = source.strip() if isinstance(source, str) else " ".join(t.render() for t in tokens)
    if not tokens or tokens[0].kind != WORD or tokens[0].text.lower().split(".")[0] != "bring":
        raise _fail("expected 'bring' or 'bring.<modifier>'", tokens[0] if tokens else None, base,
                    hint="write bring [operator][name] or bring.count")
    head = tokens[0]
    modifiers, columns = _modifiers(head, base)
    rest = tokens[1:]
    cut = next((i for i, t in enumerate(rest)
                if t.is_word("separator") and i + 1 < len(rest) and rest[i + 1].is_op("=")), len(rest))
    separator = None
    if cut < len(rest):
        if cut + 2 >= len(rest):
            raise _fail("'separator =' needs a value", rest[cut + 1], base,
                        hint='write separator = , or separator = "\\n"')
        separator = _text(rest[cut + 2])
        if cut + 3 < len(rest):
            extra = rest[cut + 3]
            hint = "python expressions are not run" if any(t.is_word("python") for t in rest[cut + 3:]) else None
            raise _fail(f"unexpected '{extra.text}' after the separator", extra, base,
                        hint=hint or "the separator ends the bring clause")
    template = tuple(_piece(tok, base) for tok in rest[:cut])
    spec = Bring(modifiers, template, separator, columns, text)
    _check(spec, head, base)
    return spec


def _piece(tok: Token, base: int) -> Piece:
    if tok.kind == BRACKET and tok.text.startswith("["):
        parts = re.split(r"(?<=\]):(?=\[)", tok.text)
        return Piece(tuple(parse_path(p, tok, base) for p in parts))
    return Piece(literal=_text(tok))


def _check(spec: Bring, head: Token, base: int) -> None:
    mods = spec.modifiers
    paths = len(spec.columns)
    if "first" in mods and "recent" in mods:
        raise _fail("'.first' and '.last' (or '.recent') exclude each other", head, base, hint="keep one")
    if "min" in mods and "max" in mods:
        raise _fail("'.min' and '.max' exclude each other", head, base, hint="keep one")
    if "sort" in mods and "table" not in mods:
        raise _fail("'.sort' sorts a table", head, base, hint="write bring.table.sort")
    if "ip_port" in mods and spec.template:
        raise _fail("'.ip_port' takes no template: it reads each policy's ip and port", head, base,
                    hint="write bring.ip_port, or bring [*][ip] : [*][port] separator = ,")
    if not spec.template and not (mods & _NO_TEMPLATE):
        what = "'" + head.text + "'"
        raise _fail(f"{what} needs a template", head, base, hint=f"write e.g. {head.text} [*][name]")
    if spec.template and not paths and mods & {"json", "table", "min", "max", "count"}:
        raise _fail(f"'{head.text}' needs at least one [path] in its template", head, base,
                    hint=f"write e.g. {head.text} [*][name]")
    if spec.sort_columns and paths:
        bad = [c for c in spec.sort_columns if c >= paths]
        if bad:
            raise _fail(f"sort column {bad[0]} is out of range: the table has {paths} column"
                        f"{'s' if paths > 1 else ''} (0 to {paths - 1})", head, base)


# -- producing the output ----------------------------------------------------------


def _value(policy: Any, piece: Piece) -> tuple[PolicyPath, Any]:
    """The first of a piece's paths that has a value in ``policy`` (MISSING when none does)."""
    for path in piece.paths:
        value = getter(path)(policy)
        if value is not MISSING and value is not None and value != "":
            return path, value
    return piece.paths[0], MISSING


def _line(policy: Any, spec: Bring) -> str | None:
    """One policy's template as text; None when none of its paths has a value."""
    out, found = [], not spec.columns
    for piece in spec.template:
        if not piece.paths:
            out.append(piece.literal)
            continue
        _, value = _value(policy, piece)
        if value is not MISSING:
            found = True
            out.append(as_text(value))
    return "".join(out) if found else None


def _entry(policy: Any, spec: Bring, null: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for piece in spec.template:
        if piece.paths:
            path, value = _value(policy, piece)
            if value is not MISSING:
                entry[path.name] = value
            elif null:
                entry[path.name] = ""
    return entry


def _cell(value: Any) -> Any:
    if value is MISSING or value is None:
        return ""
    if isinstance(value, (bool, list, dict)):
        return as_text(value)
    return value


def _sort_key(columns: Sequence[int]) -> Any:
    def key(row: Sequence[Any]) -> tuple[Any, ...]:
        out = []
        for c in columns:
            text = as_text(row[c])
            num = number(text)
            out.append((0, num, "") if num is not None else (1, 0.0, text.lower()))
        return tuple(out)
    return key


def _table(columns: list[str], rows: list[list[Any]], spec: Bring) -> Table:
    if spec.has("sort") and rows:
        order = spec.sort_columns if spec.sort_columns is not None else range(len(columns))
        if any(c >= len(columns) for c in order):
            raise CommandSyntaxError(f"bring: sort column {max(order)} is out of range: the table has "
                                     f"{len(columns)} columns (0 to {len(columns) - 1})")
        rows = sorted(rows, key=_sort_key(list(order)))
    return Table.of([c.capitalize() for c in columns], rows)


def _whole_table(policies: list[Any], spec: Bring) -> Table:
    """bring.table without a template: the type, then every key of the policies' bodies."""
    keys: dict[str, None] = {}
    for policy in policies:
        keys.update(dict.fromkeys(body_or_none(policy) or {}))
    rows = [[next(iter(p)) if isinstance(p, dict) and p else ""] +
            [_cell((body_or_none(p) or {}).get(k, MISSING)) for k in keys] for p in policies]
    return _table(["type", *keys], rows, spec)


def _by_date(policies: list[Any], latest: bool) -> list[Any]:
    """The policy with the earliest (latest) ``date``; the first (last) one when some have no date."""
    if not policies:
        return []
    dates = [(body_or_none(p) or {}).get("date") for p in policies]
    if all(isinstance(d, str) and d for d in dates):
        pick = (max if latest else min)(range(len(policies)), key=lambda i: (dates[i], i))
        return [policies[pick]]
    return [policies[-1] if latest else policies[0]]


def _private(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return addr.is_private or addr.is_loopback or addr in _CGNAT


def dial_address(policy: Any, here: NodeAddresses | None = None) -> str:
    """``ip:port`` to reach the node a policy describes; empty when it names no address.

    A private or loopback ``ip`` is used as it is. A public one equal to this
    node's own public address belongs to a node behind the same address: its
    ``local_ip`` (``internal_ip``) and ``local_port`` are used instead, and
    this node's own policy gives its local port.
    """
    inner = body_or_none(policy)
    if inner is None:
        return ""
    ip, port = inner.get("ip"), inner.get("port")
    local_ip = inner.get("local_ip") or inner.get("internal_ip")
    local_port = inner.get("local_port")
    if ip:
        if port in (None, ""):
            return ""
        if here is None or not here.external_ip or _private(str(ip)) or ip != here.external_ip:
            return f"{ip}:{port}"
        near = local_ip or here.local_ip
        if near == here.local_ip and str(port) == str(here.external_port) and here.local_port not in (None, ""):
            return f"{near}:{here.local_port}"
        return f"{near}:{local_port if local_port not in (None, '') else port}"
    if local_ip:
        port = local_port if local_port not in (None, "") else port
        return f"{local_ip}:{port}" if port not in (None, "") else ""
    return ""


def _unique(items: Iterable[Any]) -> list[Any]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = item if isinstance(item, str) else json.dumps(item, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _count(n: int, spec: Bring) -> str | list[dict[str, int]]:
    return [{"count": n}] if spec.has("json") else str(n)


def bring(policies: Iterable[Any], spec: Bring, separator: str | None = None,
          destination: NodeAddresses | None = None, everything: Iterable[Any] | None = None) -> str | list[Any] | Table:
    """Apply a bring clause to the selected policies.

    ``separator`` overrides the clause's own; ``destination`` is this node's
    addresses, for ``.ip_port``; ``everything`` is where ``.children`` looks
    (the whole ledger; the selected policies when not given).

    Returns text (plain, unique, min, max, count, ip_port), a list (json, list,
    first/last/unique/children without a template: the policies) or a Table.
    Nothing selected gives "" whatever the form, except ``.count``: "0".
    """
    chosen = list(policies)
    if spec.has("children"):
        chosen = children_of(list(everything) if everything is not None else chosen, chosen)
    if spec.has("first") or spec.has("recent"):
        chosen = _by_date(chosen, latest=spec.has("recent"))
    if not chosen:
        return _count(0, spec) if spec.has("count") else ""
    if spec.has("ip_port"):
        return ",".join(a for a in (dial_address(p, destination) for p in chosen) if a)
    if not spec.template:
        if spec.has("count"):
            return _count(len(_unique(chosen) if spec.has("unique") else chosen), spec)
        if spec.has("table"):
            return _whole_table(chosen, spec)
        return _unique(chosen) if spec.has("unique") else chosen
    if spec.has("table"):
        return _table(spec.columns, [[_cell(_value(p, piece)[1]) for piece in spec.template if piece.paths]
                                     for p in chosen], spec)
    if spec.has("json") or spec.has("count"):
        entries = [e for e in (_entry(p, spec, spec.has("null")) for p in chosen) if e]
        if spec.has("unique"):
            entries = _unique(entries)
        return _count(len(entries), spec) if spec.has("count") else entries
    if spec.has("min") or spec.has("max"):
        values = [as_text(v) for p in chosen for piece in spec.template if piece.paths
                  if (v := _value(p, piece)[1]) is not MISSING]
        if not values:
            return ""
        numeric = all(number(v) is not None for v in values)
        best = (max if spec.has("max") else min)(values, key=lambda v: number(v) if numeric else v)  # type: ignore[arg-type,return-value]
        return best
    lines = [t for t in (_line(p, spec) for p in chosen) if t is not None]
    if spec.has("unique"):
        lines = _unique(lines)
    if spec.has("list"):
        return lines
    sep = separator if separator is not None else (spec.separator or "")
    return sep.join(lines)


def as_result(value: str | list[Any] | Table) -> Result:
    """How a command answers with a bring value: a message, JSON, or the table."""
    if isinstance(value, Table):
        return value
    if isinstance(value, str):
        return Message(value)
    return Json(value)
