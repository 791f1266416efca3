"""Times of the schedulers: the clock, AnyLog's start values, and how times are shown.

A start is written as AnyLog writes it: ``now()``, a time forward from now
(``+2h``, ``+ 1d``; units y, m (month), w, d, h, t (minute), s, or the words
day(s), hour(s), minute(s) ...), ``start of year|month|day|hour|minute``, or
a date and time (``2026-05-01 06:00``; local time unless it carries a zone).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from anynode.errors import ValidationError
from anynode.grammar.types import ValueType


class Clock:
    """Monotonic time for timing and wall time for start times, both injectable.

    Tests give a clock that moves when told, so a day of scheduling runs in
    seconds; the node uses the system's.
    """

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (timing, due times)."""
        return time.monotonic()

    def time(self) -> float:
        """Seconds since the epoch (start times, TIME(CURRENT), file ages)."""
        return time.time()


_FORWARD_UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1, "t": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800, "m": 2592000, "month": 2592000, "months": 2592000,
    "y": 31536000, "year": 31536000, "years": 31536000,
}
_FORWARD = re.compile(r"\+\s*(\d+(?:\.\d+)?)\s*([a-z]+)")
_START_OF = ("year", "month", "day", "hour", "minute")
START_FORMS = "now(), +2h (units y m w d h t s), start of day|hour|minute|month|year, or a date like 2026-05-01 06:00"


@dataclass(frozen=True)
class Start:
    """A start time as written; :meth:`resolve` makes it a wall time against a given now."""

    text: str

    def resolve(self, now: float) -> float:
        """Epoch seconds of this start, for a clock that reads ``now``."""
        return resolve_start(self.text, now)


def resolve_start(text: str, now: float) -> float:
    """Epoch seconds that ``text`` (one of :data:`START_FORMS`) means at wall time ``now``.

    Raises:
        ValidationError: the text is none of the forms.
    """
    low = " ".join(text.strip().lower().split())
    if low in ("now()", "now"):
        return now
    forward = _FORWARD.fullmatch(low)
    if forward:
        unit = _FORWARD_UNITS.get(forward.group(2))
        if unit is None:
            raise ValidationError(f"'{text}': unknown unit '{forward.group(2)}'",
                                  hint="units: y, m (month), w, d, h, t (minute), s")
        return now + float(forward.group(1)) * unit
    if low.startswith("start of "):
        part = low[len("start of "):]
        if part not in _START_OF:
            raise ValidationError(f"'{text}' is not a start", hint="start of year|month|day|hour|minute")
        local = datetime.fromtimestamp(now).astimezone()
        keep = {"year": dict(month=1, day=1, hour=0, minute=0), "month": dict(day=1, hour=0, minute=0),
                "day": dict(hour=0, minute=0), "hour": dict(minute=0), "minute": {}}[part]
        return local.replace(second=0, microsecond=0, **keep).timestamp()  # type: ignore[arg-type]
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"'{text}' is not a start time", hint=f"write {START_FORMS}") from None
    if when.tzinfo is None:
        when = when.astimezone()  # a date without a zone is local time, as 'get scheduler' shows it
    return when.timestamp()


class StartTime(ValueType):
    """A ``start = ...`` value: checked when the command is parsed, resolved against the scheduler's clock."""

    metavar = "now()|+Nunit|start of day|date"

    def convert(self, text: str) -> Start:
        resolve_start(text, time.time())  # raises with what is accepted
        return Start(text.strip())

    def accepts(self) -> str:
        return START_FORMS


def local_text(wall: float | None) -> str:
    """A wall time as local ``YYYY-MM-DD HH:MM:SS`` (what 'get scheduler' shows), or ''."""
    if wall is None:
        return ""
    return datetime.fromtimestamp(wall).strftime("%Y-%m-%d %H:%M:%S")


def sql_time(wall: float) -> str:
    """A wall time as a quoted UTC SQL literal, the way TIME(PREVIOUS) and TIME(CURRENT) are replaced."""
    return "'" + datetime.fromtimestamp(wall, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f") + "'"


def repeat_text(seconds: float) -> str:
    """A period as ``H:MM:SS`` (hours may pass 24), with fractions of a second when it has them."""
    whole = int(seconds)
    frac = seconds - whole
    text = f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    return text + (f"{frac:.3f}".lstrip("0").rstrip("0") if frac > 1e-9 else "")


def next_on_grid(origin: float, every: float, after: float) -> float:
    """The first time ``origin + k * every`` (k >= 0) that is not before ``after``."""
    if after <= origin:
        return origin
    return origin + every * math.ceil((after - origin) / every)
