"""Variable expansion: ``!name`` node variables and ``$NAME`` environment.

Expansion works on tokens, after tokenizing, so a value with spaces stays
one word and never changes the shape of the command. Plain words and
``(...)`` groups are expanded; quoted strings and ``{...}`` JSON are literal.

* ``!name`` is the node variable (``""`` when undefined, and the token
  remembers the name so a ``where`` option can refuse it).
* ``$NAME`` is the environment variable; a value that itself starts with
  ``!`` is looked up again as a node variable.
* ``!!name`` stays ``!name`` (deferred to the peer that runs the command),
  with its cast and selectors: ``!!n.int`` stays ``!n.int``.
* Inside a word: ``!watch_dir/sub/f.json`` and ``!host.$DOMAIN`` compose.
* A cast at the end of the word: ``.int``, ``.float``, ``.bool``, ``.str``,
  ``.len``, ``.name``; ``!x[key]`` / ``!x[0]`` index JSON values and
  ``!x[1:3]`` slices text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

from anynode.grammar.tokens import GROUP, WORD, Token

Lookup = Callable[[str], "str | None"]

_REF = re.compile(r"(!!|!|\$)([A-Za-z_][A-Za-z0-9_]*)((?:\[[^\[\]]*\])*)")
CASTS = ("int", "float", "bool", "str", "len", "name")


def _cast(value: str, cast: str) -> str:
    if cast == "int":
        try:
            return str(int(float(value))) if value.strip() else ""
        except ValueError:
            return ""
    if cast == "float":
        try:
            return repr(float(value)) if value.strip() else ""
        except ValueError:
            return ""
    if cast == "bool":
        return "false" if value.strip().lower() in ("", "false", "0") else "true"
    if cast == "len":
        try:
            obj = json.loads(value)
        except ValueError:
            return str(len(value))
        return str(len(obj)) if isinstance(obj, (list, dict)) else str(len(value))
    if cast == "name":
        return value.strip().lower().replace(" ", "_")
    return value


def _index(value: str, selectors: str) -> str | None:
    """Apply ``[key]``/``[0]``/``[a:b]`` selectors to a value; None when one selects nothing."""
    for sel in re.findall(r"\[([^\[\]]*)\]", selectors):
        if ":" in sel and re.fullmatch(r"-?\d*:-?\d*", sel):
            a, b = sel.split(":")
            value = value[int(a) if a else None:int(b) if b else None]
            continue
        try:
            obj = json.loads(value)
        except ValueError:
            return None
        try:
            if isinstance(obj, list):
                obj = obj[int(sel)]
            elif isinstance(obj, dict):
                obj = obj[sel.strip("\"'")]
            else:
                return None
        except (ValueError, IndexError, KeyError):
            return None
        value = obj if isinstance(obj, str) else json.dumps(obj)
    return value


def expand_text(text: str, lookup: Lookup, environ: Mapping[str, str]) -> tuple[str, tuple[str, ...], str | None]:
    """Expand every reference in ``text``.

    Returns (expanded text, names that had no value, cast applied to the whole
    word or None).
    """
    missing: list[str] = []
    cast: str | None = None
    if "!" not in text and "$" not in text:
        return text, (), None
    body = text
    m = re.search(r"\.(" + "|".join(CASTS) + r")$", text)
    if m and _REF.match(text) and _REF.fullmatch(text[:m.start()]) and not text.startswith("!!"):
        body, cast = text[:m.start()], m.group(1)

    def sub(match: re.Match[str]) -> str:
        sigil, name, selectors = match.groups()
        if sigil == "!!":
            return "!" + name + selectors
        if sigil == "$":
            value = environ.get(name)
            if value is not None and value.startswith("!"):
                value = lookup(value[1:])
        else:
            value = lookup(name)
        if value is None:
            missing.append(("$" if sigil == "$" else "!") + name)
            return ""
        if not selectors:
            return value
        picked = _index(value, selectors)
        if picked is None:  # no such key or index: as undefined as a missing name
            missing.append(("$" if sigil == "$" else "!") + name + selectors)
            return ""
        return picked

    out = _REF.sub(sub, body)
    if cast:
        out = _cast(out, cast)
    return out, tuple(missing), cast


def expand_tokens(tokens: list[Token], lookup: Lookup, environ: Mapping[str, str]) -> list[Token]:
    """Expand variables in plain words and groups of a token list."""
    out: list[Token] = []
    for tok in tokens:
        if tok.kind in (WORD, GROUP) and ("!" in tok.text or "$" in tok.text):
            text, missing, cast = expand_text(tok.text, lookup, environ)
            out.append(tok.with_text(text, missing=missing, typed=cast))
        else:
            out.append(tok)
    return out
