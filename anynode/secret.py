"""Secrets: which names and values are secret, and how they are masked.

A secret is a value, not a name. A node remembers every value that became
secret, in one :class:`Secrets` book per node:

* settings declared secret (``network_key``) and ``set network key``;
* values given to command parameters with a secret name (``connect dbms ...
  password = x``, ``run rest server ... token = x``);
* values assigned to a variable with a secret name (:func:`is_secret_name`:
  ``*key``, ``*password*``, ``*passwd*``, ``*secret*``, ``*token*``,
  ``*credential*``, any case), or assigned from a secret (``x = !db_password``
  makes ``x`` secret too), values under such names in a JSON object assigned
  to a variable, and environment variables with such names.

A variable's value is held while the variable is secret and holds it (a
token rotated every second does not grow the book); the others are kept
for the node's life.

The book masks those values wherever text leaves the node: log records (file
and rings), REPL history, and every reply to a peer or a REST client.
Values shorter than :data:`MIN_VALUE` characters are masked by name only
(masking every ``x`` in a log would make it unreadable). Command lines are
masked by name as well (``Registry.redact``), so a secret never reaches a
log even before its value is known.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from anynode.results import Empty, Json, Message, Result, Table, from_wire

MASK = "****"
MIN_VALUE = 4
# Flag words are never secret values: an env file's `NEBULA_NEW_KEYS=false` would otherwise mask every
# "false" in every reply to a peer (a ledger copy among them, which then fails its md5).
PLAIN_WORDS = frozenset({"true", "false", "none", "null"})
_FRAGMENTS = ("password", "passwd", "secret", "token", "credential")
# A line that holds none of these (any case) names no secret: the fast path of line redaction.
HINTS = ("key", "pass", "secret", "token", "credential")
_PARTS = re.compile(r"[^a-z0-9_]+")  # `cfg[api_key]`, `keys[]`, `$API_KEY`: each name part is judged


def is_secret_name(name: str) -> bool:
    """True for a variable, option or setting name that holds a secret (any case; ``$``, ``[]`` ignored)."""
    low = name.lower()
    return any(f in low for f in _FRAGMENTS) or any(p.endswith(("key", "keys")) for p in _PARTS.split(low))


def mentions_secret(text: str) -> bool:
    """True when ``text`` holds a word a secret name is made of (cheap pre-check for redaction)."""
    low = text.lower()
    return any(h in low for h in HINTS)


def json_secrets(text: str) -> list[str]:
    """The text values under secret names in a JSON object (``{"db": {"password": "x"}}`` gives ``["x"]``)."""
    if not text.startswith(("{", "[")) or not mentions_secret(text):
        return []
    found: list[str] = []

    def walk(item: Any, secret: bool) -> None:
        if isinstance(item, dict):
            for key, value in item.items():
                walk(value, secret or (isinstance(key, str) and is_secret_name(key)))
        elif isinstance(item, list):
            for value in item:
                walk(value, secret)
        elif secret and item is not None and not isinstance(item, bool):
            found.append(str(item))

    try:
        walk(json.loads(text), False)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to judge: no secret found in it
        return []
    return found


class Secrets:
    """The secret values and variables of one node, and the masking of text and results.

    Thread-safe: writers take a lock and swap immutable state; readers do
    not lock (masking runs on every reply to a peer).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fixed: frozenset[str] = frozenset()  # settings, command parameters, the environment
        self._held: dict[str, tuple[str, ...]] = {}  # secret variable -> the secret values it holds now
        self._names: frozenset[str] = frozenset()  # variables secret by where their value came from
        self._masker: _Masker | None = None

    def __bool__(self) -> bool:
        return self._masker is not None

    def values(self) -> tuple[str, ...]:
        """Every secret value known now."""
        masker = self._masker
        return masker.values if masker is not None else ()

    # -- what is secret -------------------------------------------------------
    def add(self, value: str | None) -> None:
        """Remember ``value`` as secret for the node's life (values shorter than MIN_VALUE: by name only)."""
        if not value or len(value) < MIN_VALUE or value.lower() in PLAIN_WORDS or value in self._fixed:
            return
        with self._lock:
            self._fixed = self._fixed | {value}
            self._rebuild()

    def add_environment(self, environ: Mapping[str, str]) -> None:
        """Remember the values of environment variables whose names are secret."""
        for name, value in environ.items():
            if is_secret_name(name):
                self.add(value)

    def hold(self, name: str, value: str | None) -> None:
        """Variable ``name`` now holds ``value``: a secret one while the variable is secret.

        Only the current value of a variable is kept (a variable updated every
        second must not grow the book); a value copied into another secret
        variable stays held by that one.
        """
        held: tuple[str, ...] = ()
        if value is not None and self.is_secret_var(name):
            held = tuple(v for v in (value, *json_secrets(value))
                         if len(v) >= MIN_VALUE and v.lower() not in PLAIN_WORDS)
        if self._held.get(name, ()) == held:
            return
        with self._lock:
            self._held = {**self._held, name: held} if held else {k: v for k, v in self._held.items() if k != name}
            self._rebuild()

    def _rebuild(self) -> None:
        values = set(self._fixed)
        for items in self._held.values():
            values.update(items)
        self._masker = _Masker(values) if values else None

    def is_secret_var(self, name: str) -> bool:
        """True when the node variable ``name`` holds a secret (by its name or by where its value came from)."""
        return name in self._names or is_secret_name(name)

    def assigned(self, name: str, value: str, tainted: bool = False) -> bool:
        """Decide whether variable ``name``, assigned ``value``, is secret; True when it is.

        It is secret when its name is, when the value came from a secret
        (``tainted``: the line read a secret variable), holds a known secret
        value, or is a JSON object with a secret key. A variable that gets a
        plain value stops being secret. The node then holds the value.
        """
        secret = tainted or is_secret_name(name) or self.contains(value) or bool(json_secrets(value))
        if secret != (name in self._names):
            with self._lock:
                self._names = self._names | {name} if secret else self._names - {name}
        return secret

    def mark(self, name: str) -> None:
        """Variable ``name`` holds a secret from now on (a JSON object that got a secret key)."""
        if name not in self._names:
            with self._lock:
                self._names = self._names | {name}

    def forget(self, name: str) -> None:
        """Variable ``name`` was deleted: it holds nothing any more."""
        self.hold(name, None)
        if name in self._names:
            with self._lock:
                self._names = self._names - {name}

    # -- masking ----------------------------------------------------------------
    def contains(self, text: str) -> bool:
        """True when ``text`` holds a known secret value."""
        masker = self._masker
        return masker is not None and masker.hit(text)

    def _masker_for(self, keep: str) -> _Masker | None:
        """The masker of the secret values, less those found in ``keep`` (text the requester sent itself)."""
        masker = self._masker
        if masker is None or not keep or not masker.hit(keep):
            return masker
        rest = [v for v in masker.values if v not in keep]
        return _Masker(rest) if rest else None

    def mask(self, text: str, keep: str = "") -> str:
        """``text`` with every known secret value replaced by MASK (values in ``keep`` stay)."""
        masker = self._masker_for(keep)
        return text if masker is None or not text else masker.sub(text)

    def mask_result(self, result: Result, keep: str = "") -> Result:
        """``result`` with every known secret value masked; the same object when none was in it.

        ``keep`` is the requester's own command line: a value it holds is no
        secret to the requester, and masking it would confirm a guess.
        """
        masker = self._masker_for(keep)
        if masker is None or isinstance(result, Empty):
            return result
        if isinstance(result, Message):
            return Message(masker.sub(result.text)) if masker.hit(result.text) else result
        if isinstance(result, Table):  # the big ones (query replies) are searched without a copy first
            body: Any = (result.title, result.columns, result.rows)
        elif isinstance(result, Json):
            body = result.value
        else:
            body = result.to_wire()
        if not masker.found_in(body):
            return result
        return from_wire(_walk(result.to_wire(), masker))

    def mask_error(self, exc: Any, keep: str = "") -> None:
        """Mask known secret values in an AnyNodeError's message and hint, in place."""
        masker = self._masker_for(keep)
        if masker is None:
            return
        for attr in ("message", "hint", "cause_text"):
            text = getattr(exc, attr, None)
            if isinstance(text, str) and masker.hit(text):
                setattr(exc, attr, masker.sub(text))
        if exc.args and isinstance(exc.args[0], str):
            exc.args = (masker.sub(exc.args[0]), *exc.args[1:])


class _Masker:
    """Immutable: a set of secret values, found by substring search and replaced by one regex."""

    def __init__(self, values: Iterable[str]) -> None:
        self.values = tuple(sorted(values, key=len, reverse=True))  # the longest first: a value inside another
        self._pattern = re.compile("|".join(map(re.escape, self.values)))
        # Each value as orjson writes it inside a string: JSON escapes character by character, so a
        # string that holds a value holds its escaped form once encoded.
        self._encoded = tuple(orjson.dumps(v)[1:-1] for v in self.values)

    def found_in(self, obj: Any) -> bool:
        """True when a string anywhere in ``obj`` (JSON-like, rows) may hold a value (no false negative)."""
        try:
            blob = orjson.dumps(obj, default=str)  # ~1 ms for 10,000 rows, in C
        except (TypeError, orjson.JSONEncodeError):  # keys that are not text, integers beyond 64 bits
            return self.hit(_joined(obj))
        return any(v in blob for v in self._encoded)

    def hit(self, text: str) -> bool:
        """True when ``text`` holds one of the values (``in`` is much faster than a regex alternation)."""
        return any(v in text for v in self.values)

    def sub(self, text: str) -> str:
        """``text`` with every value replaced by MASK."""
        return self._pattern.sub(MASK, text) if self.hit(text) else text


def _joined(obj: Any) -> str:
    """Every string in ``obj`` (JSON-like, rows), joined by NUL: one search instead of one per cell."""
    strings: list[str] = []
    add, extend = strings.append, strings.extend
    stack = [obj]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            add(item)
        elif kind is dict:
            extend([k for k in item if type(k) is str])
            values = item.values()
            extend([v for v in values if type(v) is str])
            stack.extend([v for v in values if type(v) in _NESTED])
        elif kind in _NESTED:
            extend([v for v in item if type(v) is str])
            stack.extend([v for v in item if type(v) in _NESTED])
        elif isinstance(item, str):
            add(str(item))
    return "\0".join(strings)


_NESTED = (dict, list, tuple)


def _walk(obj: Any, masker: _Masker) -> Any:
    """``obj`` (JSON-like) with secret values masked in every string and key."""
    if isinstance(obj, str):
        return masker.sub(obj)
    if isinstance(obj, dict):
        return {(masker.sub(k) if isinstance(k, str) else k): _walk(v, masker) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_walk(v, masker) for v in obj]
    return obj
