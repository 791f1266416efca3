"""ISO 8601 date-time columns as UTC: one spelling per instant, with most of the work in C.

A column is a timestamp when every value is an ISO 8601 date-time that
``datetime.fromisoformat`` takes (so 30 February or 24:00 keep the column
text). Values with an offset are converted to UTC; values without one are
UTC already. As text (SQLite) the result is ``str(datetime)``:
``YYYY-MM-DD HH:MM:SS[.ffffff]``, which sorts in time order.

The fast path works on the whole column at once: the values are joined, every
digit becomes ``0`` (``bytes.translate``), and the few layouts that leaves
say what to rewrite (``T``, ``Z``, ``+00:00``, a fraction to pad, ``:00`` for
missing seconds) with ``str.replace`` over the joined text; ``fromisoformat``
then checks every date. Other offsets are converted through datetimes with
C-level maps. Anything else takes the general per-value path.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from itertools import repeat
from operator import attrgetter, methodcaller
from typing import Any

# The start of an ISO 8601 date-time; fromisoformat then checks the whole value.
TS_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}")
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
# A layout (digits as 0) the fast path rewrites: date, T or space, HH:MM[:SS[.f..]], then a zone or nothing.
_LAYOUT = re.compile(rb"0000-00-00[T ]00:00(?P<sec>:00(?:\.(?P<frac>0{1,6}))?)?(?P<zone>Z|[+-]00:?00)?")
_MAX_LAYOUTS = 4  # more distinct layouts than this in one column: the general path


def _fromiso_310(value: str) -> datetime:
    """Python 3.10's fromisoformat does not take a trailing ``Z``; 3.11 does."""
    return datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)


fromiso = datetime.fromisoformat if sys.version_info >= (3, 11) else _fromiso_310
_TZINFO = attrgetter("tzinfo")
_TO_UTC = methodcaller("astimezone", timezone.utc)
_NAIVE = methodcaller("replace", tzinfo=None)
_AS_TEXT = methodcaller("isoformat", " ")  # the same text as str(), without str()'s extra method lookup


def timestamps(vals: Sequence[Any], has_none: bool, as_text: bool) -> Sequence[Any] | None:
    """The values as UTC timestamps when every non-null one is an ISO 8601 date-time, else None.

    As text, a column already in the stored spelling comes back as ``vals`` itself
    (the caller can then keep its row tuples).
    """
    strs = [v for v in vals if v is not None] if has_none else vals
    out = utc_text(strs) if as_text else None
    if out is strs and has_none:
        return vals
    if out is None:
        out = parsed(strs, as_text)
        if out is None:
            return None
    if not has_none:
        return out
    it = iter(out)
    return [None if v is None else next(it) for v in vals]


def _layouts(strs: Sequence[str], joined: str) -> tuple[bytes, set[bytes]] | None:
    """The joined values with every digit as 0, and their distinct layouts; None when not ASCII or too many."""
    try:
        shaped = joined.encode("ascii").translate(_DIGITS_TO_ZERO)
    except UnicodeEncodeError:
        return None
    first = shaped[:len(strs[0])]
    if len(shaped) == len(strs) * (len(first) + 1) - 1 and shaped == b"\n".join(repeat(first, len(strs))):
        return shaped, {first}  # the usual case: every value spelled alike, checked without splitting
    layouts = set(shaped.split(b"\n"))
    return (shaped, layouts) if len(layouts) <= _MAX_LAYOUTS else None


def utc_text(strs: Sequence[str]) -> Sequence[str] | None:
    """The fast path for text (see the module doc); None when the column needs the general path.

    (Leaving the rewrite to SQLite's replace() as rows are inserted was measured: more
    work in all, ~11% more instructions for 200k rows, and slower by wall time too.)
    """
    if not strs or not TS_START.match(strs[0]):
        return None
    joined = "\n".join(strs)
    found = _layouts(strs, joined)
    if found is None:
        return None
    shaped, layouts = found
    matches = [m for m in map(_LAYOUT.fullmatch, layouts) if m is not None]
    if len(matches) != len(layouts):
        return None
    with_seconds = {m["sec"] is not None for m in matches}
    fractions = {len(m["frac"] or b"") for m in matches}
    if len(with_seconds) > 1 or (len(fractions) > 1 and fractions != {0, 6}):
        return None  # seconds in some values only, or fractions of several lengths: the general path
    out = joined
    for zone in {m["zone"] for m in matches if m["zone"] and m["zone"] != b"Z"}:
        text = zone.decode()  # the layout of a signed offset: "+00:00" stands for any "+hh:mm"
        if joined.count(text) != shaped.count(zone):
            return None  # an offset other than zero: converted on the general path
        out = out.replace(text, "")  # zero: UTC already ('+' and '-00:00' appear nowhere else)
    if "T" in out:
        out = out.replace("T", " ")
    if "Z" in out:
        out = out.replace("Z", "")
    pad = ":00" if with_seconds == {False} else "0" * (6 - max(fractions)) if 0 < max(fractions) < 6 else ""
    if pad:  # at the end of every value: seconds, or a fraction made six digits
        out = out.replace("\n", pad + "\n") + pad
    if ".000000" in out:  # str() leaves out a zero fraction
        out = out.replace(".000000\n", "\n")
        if out.endswith(".000000"):
            out = out[:-7]
    values: Sequence[str] = strs if out == joined else out.split("\n")
    if len(values) != len(strs):  # a value held a newline
        return None
    try:
        for _ in map(datetime.fromisoformat, values):  # every date checked: no 30 February, no 24:00
            pass
    except ValueError:
        return None
    return values


def parsed(strs: Sequence[str], as_text: bool) -> list[Any] | None:
    """Any ISO 8601 date-times (with seconds or without, any offset) as naive UTC: datetimes or their text."""
    if not all(map(TS_START.match, strs)):
        return None
    try:
        values = list(map(fromiso, strs))
    except ValueError:
        return None
    zones = set(map(_TZINFO, values))
    if zones != {None}:
        if None in zones:
            values = [d if d.tzinfo is None else _NAIVE(_TO_UTC(d)) for d in values]
        else:  # every value has an offset: converted by C-level maps
            values = list(map(_NAIVE, map(_TO_UTC, values)))
    return list(map(_AS_TEXT, values)) if as_text else values
