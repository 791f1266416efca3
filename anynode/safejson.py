"""JSON from clients, decoded with a bound on nesting.

``json.loads`` recurses once per level of nesting: ``[[[[...]]]]`` 100,000
deep raises RecursionError, which is not a ValueError, so a caller that
catches bad JSON let it through as an internal error (a REST 500). Every
decode of JSON a client sent (REST bodies, the ``json`` command, JSON option
values) goes through :func:`loads`, which refuses nesting deeper than
:data:`MAX_DEPTH` with a ValueError that says so.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: The deepest nesting accepted; real policies and rows nest a few levels.
MAX_DEPTH = 256

_IN_QUOTES = re.compile(rb'"[^"]*"')
_ONE_KIND = bytes.maketrans(b"[{]}", b"(())")
_NOT_MARK = bytes(c for c in range(256) if c not in b'[]{}"')


class TooDeep(ValueError):
    """JSON nested deeper than the bound."""


class NotText(ValueError):
    """JSON whose strings cannot be text: an escaped UTF-16 surrogate without its pair."""


_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def deeper_than(text: str | bytes | bytearray, limit: int) -> bool:
    """True when arrays and objects in ``text`` nest more than ``limit`` deep (brackets in strings do not count).

    Linear, in C string operations rather than a Python loop per character:
    escapes go, then everything but brackets and quotes, then what is
    between quotes; innermost pairs are then peeled ``limit`` times (one
    level per pass), and a run of ``limit + 1`` openers answers at once.
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    if b"\\" in data:  # an escaped backslash, then an escaped quote, cannot end a string
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = data.translate(_ONE_KIND, _NOT_MARK).replace(b'""', b"")  # adjacent quotes: no bracket between
    if b'"' in marks:
        marks = _IN_QUOTES.sub(b"", marks).replace(b'"', b"")
    run = b"(" * (limit + 1)
    for _ in range(limit + 1):
        if run in marks:
            return True
        peeled = marks.replace(b"()", b"")
        if len(peeled) == len(marks):
            return False  # nothing nests any more (what is left does not close)
        marks = peeled
    return True


def loads(data: str | bytes | bytearray, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses nesting deeper than ``max_depth``.

    Raises:
        TooDeep: nested deeper than ``max_depth`` (a ValueError).
        NotText: a string with a lone surrogate escape such as ``"\\ud800"`` (a ValueError); it
            would fail later, wherever the string is encoded.
        ValueError: not JSON (json.JSONDecodeError), or bytes that are not text.
    """
    if isinstance(data, str):
        text: str = data
        scanned: str | bytes | bytearray = data
    else:
        encoding = json.detect_encoding(data)
        text = bytes(data).decode(encoding)  # strict: an encoded surrogate is not text either
        scanned = data if encoding == "utf-8" else text  # UTF-8 is scanned as it came, without a copy
    if deeper_than(scanned, max_depth):
        raise TooDeep(f"nested deeper than {max_depth} levels")
    try:
        value = json.loads(text)
    except RecursionError:  # a deep call stack left less room than max_depth needs
        raise TooDeep(f"nested too deep to decode (the bound is {max_depth} levels)") from None
    if "\\u" in text and _LONE_SURROGATE.search(text):
        try:  # an escaped pair is one character once decoded; a lone half cannot be encoded
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise NotText("a string holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), which is not text") \
                from None
    return value
