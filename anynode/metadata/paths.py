"""Paths into a policy (``[operator][name]``, ``[*][ip]``, ``[table][][dbms]``) and the values they find.

Pure code shared by ``where`` (:mod:`anynode.metadata.select`) and ``bring``
(:mod:`anynode.metadata.bring`). A policy is a JSON object with one root
key, its type (``{"operator": {"name": "op1", ...}}``); the object under
the root is its body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from anynode.errors import CommandSyntaxError
from anynode.grammar.tokens import Token

MISSING: Any = object()
"""What a lookup gives when the policy has no value at the path."""

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_PATH = re.compile(r"(?:\[[^\[\]]*\])+")
_TRANSFORM = re.compile(r"^([^()]*)\((rfind|find|prefix|suffix)\((.*)\)\)$")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def located_error(message: str, tok: Token | None, base: int, hint: str | None = None) -> CommandSyntaxError:
    """A syntax error about ``tok``: its column in the message, its offset (plus ``base``) for the caret."""
    if tok is None:
        return CommandSyntaxError(message, hint=hint)
    return CommandSyntaxError(f"{message} (column {tok.start + base + 1})", hint=hint, offset=tok.start + base)


@dataclass(frozen=True)
class PolicyPath:
    """``[a][b]`` as keys: a str key, an int list index, None for each element (``[]``).

    A leading ``*`` stands for the policy's type; ``[*]`` or ``[]`` alone is
    the type itself. ``transform`` is a text operation on the value found
    (``[tag][path(rfind(/))]``): rfind, find, prefix or suffix, and its argument.
    """

    keys: tuple[str | int | None, ...]
    text: str
    transform: tuple[str, str] | None = None

    @property
    def is_type(self) -> bool:
        """True for ``[*]`` and ``[]``: the policy type, not a value in it."""
        return self.keys in (("*",), (None,))

    @property
    def name(self) -> str:
        """The key this path's value gets in JSON and table output (its last key; ``policy`` for the type)."""
        for key in reversed(self.keys):
            if isinstance(key, str) and key != "*":
                return key
        return "policy"


def parse_path(text: str, tok: Token | None = None, base: int = 0) -> PolicyPath:
    """Read ``[a][b]...`` (keys may be quoted: ``['table']['dbms']``).

    Raises:
        CommandSyntaxError: text outside the brackets, or a bad text operation.
    """
    if not _PATH.fullmatch(text):
        raise located_error(f"'{text}' is not a path of [key] brackets", tok, base,
                     hint="write [operator][name]; put a space between a path and text")
    segments = _SEGMENT.findall(text)
    keys: list[str | int | None] = []
    transform = None
    for n, raw in enumerate(segments):
        seg = raw.strip()
        if n == len(segments) - 1 and "(" in seg and seg[:1] not in "'\"":
            found = _TRANSFORM.match(seg)
            if not found or (found.group(2) in ("prefix", "suffix") and not found.group(3).isdigit()):
                raise located_error(f"'[{seg}]' is not a text operation", tok, base,
                             hint="use [key(rfind(/))], [key(find(/))], [key(prefix(4))] or [key(suffix(4))]")
            seg, transform = found.group(1).strip(), (found.group(2), found.group(3))
        if len(seg) >= 2 and seg[0] == seg[-1] and seg[0] in "'\"":
            keys.append(seg[1:-1])
        elif seg == "":
            keys.append(None)
        elif seg == "*":
            if n:
                raise located_error(f"'*' in '{text}' stands for the policy type and comes first", tok, base,
                             hint="write [*][name]")
            keys.append("*")
        elif seg.isdigit():
            keys.append(int(seg))
        else:
            keys.append(seg)
    return PolicyPath(tuple(keys), text, transform)


def kind_or_missing(policy: Any) -> Any:
    """The type of a policy (its first root key), or MISSING."""
    if isinstance(policy, dict) and policy:
        return next(iter(policy))
    return MISSING


def body_or_none(policy: Any) -> dict[str, Any] | None:
    """The object under a policy's one root key, or None when ``policy`` is not shaped so."""
    if isinstance(policy, dict) and len(policy) == 1:
        inner = next(iter(policy.values()))
        if isinstance(inner, dict):
            return inner
    return None


def pick(obj: Any, keys: Sequence[str | int | None]) -> Any:
    """The value at ``keys`` in ``obj``; ``None`` keys map the rest over a list; MISSING when absent."""
    for n, key in enumerate(keys):
        if key is None:
            if not isinstance(obj, list):
                return MISSING
            return [v for v in (pick(e, keys[n + 1:]) for e in obj) if v is not MISSING]
        if isinstance(key, int) and isinstance(obj, list):
            if -len(obj) <= key < len(obj):
                obj = obj[key]
                continue
            return MISSING
        if isinstance(obj, dict):
            name = key if isinstance(key, str) else str(key)
            if name in obj:
                obj = obj[name]
                continue
        return MISSING
    return obj


def _transform(value: Any, operation: tuple[str, str]) -> Any:
    if not isinstance(value, str):
        return MISSING
    op, arg = operation
    if op == "rfind":
        at = value.rfind(arg)
        return value[at + len(arg):] if at >= 0 else ""
    if op == "find":
        at = value.find(arg)
        return value[:at] if at >= 0 else ""
    count = int(arg)
    if op == "prefix":
        return value[:count]
    return value[-count:] if count else ""


def lookup(policy: Any, path: PolicyPath, body_first: bool = False) -> Any:
    """The value of ``path`` in ``policy``, or MISSING.

    ``[*][k]`` reads the body whatever the type. Any other path is read from
    the root and, when absent there, from the body (so ``[name]`` works on a
    policy as on a plain object); ``body_first`` tries the body first, as
    ``where`` expressions do.
    """
    keys = path.keys
    if path.is_type:
        value = kind_or_missing(policy)
    elif keys[0] == "*":
        kind = kind_or_missing(policy)
        value = MISSING if kind is MISSING else pick(policy, (kind, *keys[1:]))
    else:
        inner = body_or_none(policy)
        first, second = (inner, policy) if body_first else (policy, inner)
        value = pick(first, keys) if first is not None else MISSING
        if value is MISSING and second is not None:
            value = pick(second, keys)
    if path.transform is not None and value is not MISSING:
        value = _transform(value, path.transform)
    return value


@lru_cache(maxsize=1024)
def getter(path: PolicyPath, body_first: bool = False) -> Callable[[Any], Any]:
    """:func:`lookup` of one path as a function of the policy, quicker for the common ``[k]`` and ``[*][k]``."""
    keys = path.keys
    if path.transform is None and len(keys) == 2 and keys[0] == "*" and isinstance(keys[1], str):
        key = keys[1]

        def typed(policy: Any) -> Any:
            if isinstance(policy, dict) and policy:
                inner = next(iter(policy.values()))
                if isinstance(inner, dict):
                    return inner.get(key, MISSING)
            return MISSING
        return typed
    if path.transform is None and len(keys) == 1 and isinstance(keys[0], str) and keys[0] != "*":
        key = keys[0]

        def plain(policy: Any) -> Any:
            if not isinstance(policy, dict):
                return MISSING
            inner = next(iter(policy.values())) if len(policy) == 1 else None
            if not isinstance(inner, dict):
                return policy.get(key, MISSING)
            if body_first:
                value = inner.get(key, MISSING)
                return policy.get(key, MISSING) if value is MISSING else value
            value = policy.get(key, MISSING)
            return inner.get(key, MISSING) if value is MISSING else value
        return plain
    return lambda policy: lookup(policy, path, body_first)


def fan(obj: Any, keys: Sequence[str | int | None]) -> list[Any]:
    """Every value at ``keys``, looking into each dict of a list on the way (``table[dbms]``)."""
    found = [obj]
    for key in keys:
        step: list[Any] = []
        for value in found:
            if isinstance(value, dict):
                name = key if isinstance(key, str) else str(key)
                if name in value:
                    step.append(value[name])
            elif isinstance(value, list):
                if isinstance(key, int):
                    if -len(value) <= key < len(value):
                        step.append(value[key])
                elif key is None:
                    step.extend(value)
                else:
                    step.extend(e[key] for e in value if isinstance(e, dict) and key in e)
        found = step
        if not found:
            break
    return found


def number(text: str) -> float | None:
    """The value of a decimal number written as text; None for anything else."""
    text = text.strip()
    return float(text) if _NUMBER.fullmatch(text) else None


def as_text(value: Any) -> str:
    """A policy value as text: JSON spelling for booleans, lists and objects; empty when missing."""
    if value is MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)
