"""Queries over many nodes: AnyLog's time functions, splitting a SELECT into what each operator runs and how the
query node combines the answers, and the combining itself (an SQLite database of the union).

Only :func:`has_anylog_time` loads with the package; the planner (and sqlglot) load when a query needs them.
"""

from __future__ import annotations

import re

_ANYLOG_TIME = re.compile(r"\b(?:now|date|timestamp|period|increments)\s*\(|(?:[<>=]|\bbetween|\band)\s*[+-]\s*\d",
                          re.I)
_QUOTED = re.compile(r"'(?:[^']|'')*'")


def has_anylog_time(query: str) -> bool:
    """Whether ``query`` may use AnyLog's time functions (``now()``, ``period``, ``-4t``...): a cheap first look."""
    return bool(_ANYLOG_TIME.search(_QUOTED.sub("''", query)))
