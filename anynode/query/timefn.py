"""AnyLog's time expressions in SQL, made plain before a query is parsed or sent.

``now()``, ``date()``, ``timestamp('now', 'start of month', '-1 day')``,
``now() - 1 hour``, a bare ``-4t`` after a comparison: each becomes one
quoted UTC literal, computed once on the node that received the query (so
every operator compares against the same instant). ``period(unit, n, date,
column [, filter])`` is cut out and replaced by a placeholder, since it needs
the newest reading before ``date`` from the whole network first
(:mod:`anynode.query.run`). Quoted text is never touched.

Literals are spelt as the ingest pipeline stores time (``str(datetime)``: the
fraction only when there is one), so comparing text with text is comparing
times.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from anynode.errors import CommandSyntaxError

_UNITS = {
    "second": "second", "seconds": "second", "sec": "second", "secs": "second", "s": "second",
    "minute": "minute", "minutes": "minute", "min": "minute", "mins": "minute", "t": "minute",
    "hour": "hour", "hours": "hour", "h": "hour",
    "day": "day", "days": "day", "d": "day",
    "week": "week", "weeks": "week", "w": "week",
    "month": "month", "months": "month", "m": "month",
    "year": "year", "years": "year", "y": "year",
}
UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
_UNIT = r"(?:seconds?|secs?|minutes?|mins?|hours?|days?|weeks?|months?|years?|[stdhwmy])"
_STEP = rf"[+-]\s*\d+(?:\.\d+)?\s*{_UNIT}(?![\w.])"
_STEP_PARTS = re.compile(rf"([+-])\s*(\d+(?:\.\d+)?)\s*({_UNIT})(?![\w.])", re.I)
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_MASK = re.compile(r"\x00(\d+)\x00")
_VALUE = re.compile(r"\x01(\d+)\x01")
_NOW = re.compile(r"\bnow\s*\(\s*\)", re.I)
_CALL = re.compile(r"\b(timestamp|date)\s*\(", re.I)
_CHAIN = re.compile(rf"(\x01\d+\x01)((?:\s*{_STEP})+)", re.I)
_BARE = re.compile(rf"((?:>=|<=|<>|!=|==|=|<|>|\bbetween\b|\band\b)\s*)({_STEP}(?:\s*{_STEP})*)", re.I)
_PERIOD = re.compile(r"\bperiod\s*\(", re.I)


def unit_of(word: str) -> str:
    """AnyLog's time unit for ``word`` (``minutes``, ``t``, ``d``...), or a syntax error naming the known ones."""
    unit = _UNITS.get(word.lower())
    if unit is None:
        raise CommandSyntaxError(f"'{word}' is not a time unit",
                                 hint="use second, minute, hour, day, week, month or year")
    return unit


def shift(when: datetime, sign: str, amount: float, unit: str) -> datetime:
    """``when`` moved by ``amount`` units (months and years keep the day, or the month's last day)."""
    n = amount if sign == "+" else -amount
    if unit in UNIT_SECONDS:
        return when + timedelta(seconds=n * UNIT_SECONDS[unit])
    months = round(n) * (12 if unit == "year" else 1)
    year, month = divmod(when.year * 12 + when.month - 1 + months, 12)
    following = datetime(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    day = min(when.day, (following - timedelta(days=1)).day)
    return when.replace(year=year, month=month + 1, day=day)


def literal(when: datetime) -> str:
    """The SQL text of a time: quoted, spelt as stored (``2026-01-01 00:00:00`` or with ``.ffffff``)."""
    return f"'{when}'"


@dataclass(frozen=True)
class Period:
    """One ``period(unit, n, date, column [, filter])``: its placeholder in the text and its parts."""

    marker: str
    unit: str
    count: float
    until: datetime
    column: str
    filter: str


@dataclass(frozen=True)
class Prepared:
    """A query with its time expressions made literals and its ``period`` calls cut out."""

    text: str
    periods: tuple[Period, ...]
    now: datetime


class _Text:
    """Query text with quoted parts masked, so patterns see only the SQL around them."""

    def __init__(self, text: str) -> None:
        self.quoted: list[str] = []
        self.values: list[datetime] = []

        def keep(m: re.Match[str]) -> str:
            self.quoted.append(m.group(0))
            return f"\x00{len(self.quoted) - 1}\x00"

        self.code = _QUOTED.sub(keep, text)

    def value(self, when: datetime) -> str:
        self.values.append(when)
        return f"\x01{len(self.values) - 1}\x01"

    def unmask(self, code: str) -> str:
        code = _VALUE.sub(lambda m: literal(self.values[int(m.group(1))]), code)
        return _MASK.sub(lambda m: self.quoted[int(m.group(1))], code)

    def string(self, code: str) -> str | None:
        """The text of a quoted literal (``'now'`` -> ``now``), None when ``code`` is not one."""
        m = _MASK.fullmatch(code.strip())
        if m is None or not self.quoted[int(m.group(1))].startswith("'"):
            return None
        return self.quoted[int(m.group(1))][1:-1].replace("''", "'")


def closing(code: str, start: int) -> int:
    """The index of the parenthesis closing the one before ``start``; a syntax error when there is none."""
    depth = 1
    for i in range(start, len(code)):
        if code[i] == "(":
            depth += 1
        elif code[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    raise CommandSyntaxError("a parenthesis is not closed in the query", hint="close every '(' with ')'")


def split_args(code: str) -> list[str]:
    """The arguments of a call's inner text, split at commas outside parentheses."""
    args, depth, start = [], 0, 0
    for i, ch in enumerate(code):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            args.append(code[start:i].strip())
            start = i + 1
    args.append(code[start:].strip())
    return args


def _parse_time(text: str, now: datetime) -> datetime:
    if text.lower() == "now":
        return now
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CommandSyntaxError(f"'{text}' is not a date and time",
                                 hint="use 'now' or YYYY-MM-DD HH:MM:SS") from None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _modify(when: datetime, modifier: str) -> datetime:
    mod = " ".join(modifier.lower().split())
    if mod == "start of year":
        return datetime(when.year, 1, 1)
    if mod == "start of month":
        return datetime(when.year, when.month, 1)
    if mod == "start of day":
        return datetime(when.year, when.month, when.day)
    m = _STEP_PARTS.fullmatch(mod)
    if m is None:
        raise CommandSyntaxError(f"'{modifier}' is not a time modifier",
                                 hint="use 'start of year|month|day' or '+N unit' / '-N unit'")
    return shift(when, m.group(1), float(m.group(2)), unit_of(m.group(3)))


def _call(text: _Text, name: str, inner: str, now: datetime) -> datetime:
    args = [a for a in split_args(inner) if a] if inner.strip() else []
    if not args:
        when = now
    else:
        words = [text.string(a) for a in args]
        if any(w is None for w in words):
            raise CommandSyntaxError(f"{name}() takes quoted arguments",
                                     hint=f"e.g. {name}('now', 'start of month', '-1 day')")
        when = _parse_time(words[0], now)  # type: ignore[arg-type]
        for w in words[1:]:
            when = _modify(when, w)  # type: ignore[arg-type]
    return datetime(when.year, when.month, when.day) if name == "date" else when


def _steps(when: datetime, steps: str) -> datetime:
    for m in _STEP_PARTS.finditer(steps):
        when = shift(when, m.group(1), float(m.group(2)), unit_of(m.group(3)))
    return when


def _functions(text: _Text, code: str, now: datetime) -> str:
    code = _NOW.sub(lambda _: text.value(now), code)
    out, pos = [], 0
    for m in _CALL.finditer(code):
        if m.start() < pos:
            continue
        end = closing(code, m.end())
        inner = code[m.end():end]
        if m.group(1).lower() == "timestamp" and inner.strip() and text.string(split_args(inner)[0]) is None:
            continue  # timestamp(column): not AnyLog's time function
        out.append(code[pos:m.start()])
        out.append(text.value(_call(text, m.group(1).lower(), inner, now)))
        pos = end + 1
    out.append(code[pos:])
    return "".join(out)


def _periods(text: _Text, code: str) -> tuple[str, list[Period]]:
    periods: list[Period] = []
    while (m := _PERIOD.search(code)) is not None:
        end = closing(code, m.end())
        args = split_args(code[m.end():end])
        if len(args) < 4:
            raise CommandSyntaxError("period() needs a unit, a count, a date and a column",
                                     hint="e.g. period(minute, 5, now(), timestamp)")
        unit = unit_of(args[0])
        try:
            count = float(args[1])
        except ValueError:
            raise CommandSyntaxError(f"period() count '{args[1]}' is not a number", hint="e.g. period(minute, 5, "
                                     "now(), timestamp)") from None
        until_code = args[2].strip()
        vm = _VALUE.fullmatch(until_code)
        if vm is not None:
            until = text.values[int(vm.group(1))]
        elif (word := text.string(until_code)) is not None:
            until = _parse_time(word, text.values[0])
        else:
            raise CommandSyntaxError(f"period() date '{text.unmask(until_code)}' is not a date",
                                     hint="use now() or a quoted date and time")
        filt = ", ".join(args[4:]).strip()
        filt = re.sub(r"^and\b", "", filt, flags=re.I).strip()
        marker = f"__anynode_period_{len(periods)}"
        periods.append(Period(marker, unit, count, until, text.unmask(args[3]), text.unmask(filt)))
        code = f"{code[:m.start()]}{marker}{code[end + 1:]}"
    return code, periods


def utc_now() -> datetime:
    """The current UTC time, naive (as times are stored)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def prepare(query: str, now: datetime | None = None, clock: Callable[[], datetime] = utc_now) -> Prepared:
    """``query`` with AnyLog's time expressions as literals (``now`` defaults to the UTC clock)."""
    now = now or clock()
    text = _Text(query)
    text.values.append(now)  # value 0: the instant every relative time is taken from
    code = _functions(text, text.code, now)
    code = _CHAIN.sub(lambda m: text.value(_steps(text.values[int(m.group(1)[1:-1])], m.group(2))), code)
    code = _BARE.sub(lambda m: m.group(1) + text.value(_steps(now, m.group(2))), code)
    code, periods = _periods(text, code)
    return Prepared(text.unmask(code), tuple(periods), now)
