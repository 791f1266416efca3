"""Finding policies by attribute value without reading every policy: the index of one ledger generation.

``blockchain get operator where cluster = X`` used to test every operator
policy. The index of a generation maps, per policy type(s) and attribute,
each value a key/value condition can match to the positions of the
policies that hold it; a query reads only those positions and then runs
the full condition on them, so an answer is the plain scan's answer, in
ledger order. The index lives on the :class:`~anynode.metadata.ledger.Snapshot`
it was built from: a new generation (an insert, a delete, a sync swap) has
a new snapshot and so a new index, built on first use, per attribute.

Only what a condition requires can narrow the search: the top-level ``and``
of ``name = value`` (or ``name with [...]``) on one attribute. A value
that a key/value comparison treats loosely (``*``, a dict, anything that
is not text, a number or a boolean) makes its policy a candidate for
every value.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from anynode.metadata.paths import body_or_none, number
from anynode.metadata.select import Condition, select

_MISSING = object()


class _Buckets:
    """The positions of the policies of one type selection, by the value of one attribute."""

    def __init__(self, policies: Sequence[Any], attr: str) -> None:
        self.text: dict[str, list[int]] = {}
        self.numbers: dict[float, list[int]] = {}
        self.always: list[int] = []
        for pos, policy in enumerate(policies):
            value = _value(policy, attr)
            if value is _MISSING:
                continue
            for item in (value if isinstance(value, list) else (value,)):
                self._add(pos, item)

    def _add(self, pos: int, item: Any) -> None:
        if isinstance(item, str):
            if item == "*":
                self.always.append(pos)
            else:
                self.text.setdefault(item.lower(), []).append(pos)
        elif isinstance(item, bool):
            self.text.setdefault("true" if item else "false", []).append(pos)
        elif isinstance(item, (int, float)) and item == item and abs(item) != float("inf"):
            self.numbers.setdefault(item, []).append(pos)
        else:
            self.always.append(pos)

    def find(self, wanted: Sequence[str]) -> set[int]:
        """The positions whose value may equal one of ``wanted`` (a superset of the matches)."""
        found = set(self.always)
        for text in wanted:
            found.update(self.text.get(text.lower(), ()))
            num = number(text)
            if num is not None:
                found.update(self.numbers.get(num, ()))
        return found


def _value(policy: Any, attr: str) -> Any:
    """The value a one-attribute key/value condition compares (its body's, else the policy's own key)."""
    inner = body_or_none(policy)
    if inner is not None and attr in inner:
        return inner[attr]
    if isinstance(policy, dict) and attr in policy:
        return policy[attr]
    return _MISSING


class PolicyIndex:
    """The index of one generation: buckets per (types, attribute), built when first asked for."""

    def __init__(self, of_types: Any) -> None:
        self._of_types = of_types
        self._lists: dict[tuple[str, ...] | None, list[Any]] = {}
        self._buckets: dict[tuple[tuple[str, ...] | None, str], _Buckets] = {}
        self._lock = threading.Lock()

    def _policies(self, types: tuple[str, ...] | None) -> list[Any]:
        found = self._lists.get(types)
        if found is None:
            found = self._lists[types] = self._of_types(types)
        return found

    def _bucket(self, types: tuple[str, ...] | None, attr: str) -> _Buckets:
        key = (types, attr)
        found = self._buckets.get(key)
        if found is None:
            with self._lock:
                found = self._buckets.get(key)
                if found is None:
                    found = self._buckets[key] = _Buckets(self._policies(types), attr)
        return found

    def select(self, types: Sequence[str] | None, condition: Condition | None) -> list[Any]:
        """The policies of ``types`` (None: all) that satisfy ``condition``, in ledger order, as a scan finds them."""
        key = tuple(types) if types is not None else None
        if condition is None:
            return list(self._policies(key))
        if not condition.lookups:
            return select(self._policies(key), "*", condition)
        positions: set[int] | None = None
        for attr, wanted in condition.lookups:
            found = self._bucket(key, attr).find(wanted)
            positions = found if positions is None else positions & found
            if not positions:
                return []
        policies = self._policies(key)
        return select([policies[i] for i in sorted(positions or ())], "*", condition)
