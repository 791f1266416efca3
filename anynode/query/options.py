"""AnyLog's options of a network query that change its answer: ``extend``, ``max_time``, ``timezone``, ``nodes``.

- ``extend = (+node_name, @ip, @table_name)``: columns each operator adds to
  its rows, first in the result. ``@ip``, ``@port``, ``@ip_port``,
  ``@dbms_name``, ``@table_name`` are the operator's TCP address and what was
  queried; ``+name`` is the operator's variable ``!name`` (``+node_name``,
  ``+ip``...). ``... as Title`` names the column (default: the word).
  With an aggregate they are grouping keys, so each operator's share is its
  own row.
- ``max_time = N``: the query ends with an error once it has run N seconds
  (the operators stop their database query then too).
- ``timezone = utc|local|pt|mt|ct|et|<IANA name>``: timestamps (stored in
  UTC) are shown in that zone.
- ``nodes = main|all``: which member of a cluster answers: the main one first,
  or the members in turn (round robin). Members of a cluster hold the same
  rows, so either way one member answers for each cluster.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any

from anynode.errors import CommandSyntaxError

AT_KEYS = ("ip", "port", "ip_port", "dbms_name", "table_name")
_ENTRY = re.compile(r"^([@+])([A-Za-z_][A-Za-z0-9_]*)(?:\s+as\s+(.+))?$", re.I)
_ZONES = {"pt": "America/Los_Angeles", "mt": "America/Denver", "ct": "America/Chicago", "et": "America/New_York"}
_STORED = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$")
_EXTEND_HINT = "e.g. extend = (+node_name, @ip, @table_name); @ takes " + ", ".join(AT_KEYS) + \
    "; + takes a variable of the operator"


@dataclass(frozen=True)
class Extension:
    """One ``extend`` entry: what the operator adds (``@ip``, ``+node_name``) and the column's title."""

    key: str
    title: str


def parse_extend(text: str) -> tuple[Extension, ...]:
    """The entries of ``(+a, @b as B)``; a CommandSyntaxError naming a bad one."""
    inner = text.strip()
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1]
    out = []
    for part in (p.strip() for p in inner.split(",")):
        m = _ENTRY.match(part)
        if not m:
            raise CommandSyntaxError(f"extend entry '{part}' is not @name or +name", hint=_EXTEND_HINT)
        sign, name, title = m.group(1), m.group(2).lower(), m.group(3)
        if sign == "@" and name not in AT_KEYS:
            raise CommandSyntaxError(f"extend entry '@{name}' is not known", hint=_EXTEND_HINT)
        out.append(Extension(sign + name, (title or name).strip()))
    titles = [e.title.lower() for e in out]
    if len(set(titles)) != len(titles):
        raise CommandSyntaxError("extend names a column twice", hint="give each entry its own title (… as name)")
    return tuple(out)


def parse_max_time(text: str) -> float:
    """Seconds, more than zero."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 1e7:
        raise CommandSyntaxError(f"max_time '{text}' is not a number of seconds",
                                 hint="e.g. max_time = 30 (seconds)")
    return seconds


def parse_zone(text: str) -> tzinfo:
    """The zone ``timezone = ...`` names."""
    name = text.strip().strip("'\"")
    low = name.lower()
    if low == "utc":
        return timezone.utc
    if low == "local":
        local = datetime.now().astimezone().tzinfo
        assert local is not None
        return local
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(_ZONES.get(low, name))
    except (ZoneInfoNotFoundError, ValueError):
        raise CommandSyntaxError(f"timezone '{name}' is not known",
                                 hint="use utc, local, pt, mt, ct, et or a zone name such as Europe/Dublin") from None


def parse_nodes(text: str) -> bool:
    """True for ``nodes = all`` (members in turn), False for ``main``."""
    low = text.strip().lower()
    if low not in ("main", "all"):
        raise CommandSyntaxError(f"nodes '{text}' is not main or all",
                                 hint="nodes = main asks each cluster's main member first; nodes = all takes turns")
    return low == "all"


def _shown(value: Any, zone: tzinfo) -> Any:
    if isinstance(value, datetime):  # PostgreSQL's timestamp columns: naive, in UTC as stored
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return aware.astimezone(zone).replace(tzinfo=None)
    if not isinstance(value, str) or not _STORED.match(value):
        return value
    when = datetime.fromisoformat(value).replace(tzinfo=timezone.utc).astimezone(zone)
    return when.strftime("%Y-%m-%d %H:%M:%S.%f" if "." in value else "%Y-%m-%d %H:%M:%S")


def in_zone(rows: Sequence[tuple[Any, ...]], zone: tzinfo) -> list[tuple[Any, ...]]:
    """``rows`` with every timestamp (text as stored: ``YYYY-MM-DD HH:MM:SS[.f]``, UTC) shown in ``zone``."""
    return [tuple(_shown(v, zone) for v in row) for row in rows]
