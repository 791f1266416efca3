"""Read-only JSON values: the policies a ledger snapshot hands out.

Every reader of a snapshot (each ``blockchain get``, the select engine, the
sync) shares the same objects; a reader that changed one would change what
every other reader sees. :class:`FrozenDict` and :class:`FrozenList` are
``dict`` and ``list`` (``isinstance`` holds, ``json.dumps`` and orjson take
them) that refuse every change with a TypeError saying how to get a copy:
``copy.copy``/``copy.deepcopy`` or :func:`thaw` give plain, mutable values.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

_READ_ONLY = "a policy from the ledger is read-only: change a copy (copy.deepcopy(policy) or thaw(policy))"


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(_READ_ONLY)


class FrozenDict(dict):
    """A dict that refuses changes."""

    __slots__ = ()
    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __copy__(self) -> dict[str, Any]:
        return thaw(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return thaw(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (thaw(self),))


class FrozenList(list):
    """A list that refuses changes."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = append = extend = insert = remove = _refuse
    pop = clear = sort = reverse = _refuse

    def __copy__(self) -> list[Any]:
        return thaw(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return thaw(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (thaw(self),))


def _freeze_list(items: list[Any]) -> FrozenList:
    return FrozenList(_freeze_list(v) if type(v) is list else v for v in items)


def frozen_object(pairs: dict[str, Any]) -> FrozenDict:
    """``json.loads`` object_hook: the object (its nested objects are frozen already) with its lists frozen."""
    for value in pairs.values():
        if type(value) is list:
            return FrozenDict({k: _freeze_list(v) if type(v) is list else v for k, v in pairs.items()})
    return FrozenDict(pairs)


def freeze(value: Any) -> Any:
    """A read-only deep copy of a JSON value (dicts and lists frozen, scalars as they are)."""
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return FrozenList(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy of a JSON value."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw(v) for v in value]
    return value


def loads_frozen(line: str | bytes) -> Any:
    """Decode one JSON document straight into frozen values (depth is the caller's check)."""
    return json.loads(line, object_hook=frozen_object)
