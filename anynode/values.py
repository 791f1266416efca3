"""The value words of the language, parsed one way wherever they are written.

Durations (``30 seconds``, ``5 minutes``, ``2 weeks``), sizes (``512k``,
``64KB``, ``1TB``), booleans (true/false, on/off, yes/no, 1/0), port numbers
and paths mean the same in a command's ``where`` option and in a setting
(``anynode.cfg``, ``ANYNODE_*``): :mod:`anynode.grammar.types` and
:mod:`anynode.settings` both call the parsers here. Each refuses bad text
with a :class:`~anynode.errors.ValidationError` that says what it accepts.
"""

from __future__ import annotations

import os
import re

from anynode.errors import ValidationError

DURATION_UNITS: dict[str, int] = {
    "": 1, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "week": 604800, "weeks": 604800,
    "month": 2592000, "months": 2592000,  # 30 days
    "year": 31536000, "years": 31536000,  # 365 days
}
"""Duration units (any case) and their seconds; no unit means seconds."""

SIZE_UNITS: dict[str, int] = {
    "": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2,
    "g": 1024**3, "gb": 1024**3, "tb": 1024**4,
}
"""Size units (any case, 1024-based) and their bytes; no unit means bytes."""

TRUE_WORDS = ("true", "on", "yes", "1")
FALSE_WORDS = ("false", "off", "no", "0")

_NUMBER_UNIT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")


class Duration(float):
    """A duration in seconds, as settings hold it (``get settings`` shows it as a number)."""


class ByteSize(int):
    """A size in bytes, as settings hold it."""


def parse_duration(text: str) -> float:
    """Seconds in ``30``, ``30s``, ``30 seconds``, ``5 minutes``, ``2h``, ``1.5 days``, ``2 weeks``.

    Raises:
        ValidationError: not a number with a known unit.
    """
    m = _NUMBER_UNIT.fullmatch(text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in DURATION_UNITS:
        raise ValidationError(f"'{text}' is not a duration", hint="expected e.g. 30 seconds, 5 minutes, 2 hours")
    return float(m.group(1)) * DURATION_UNITS[unit]


def parse_size(text: str) -> int:
    """Bytes in ``10000``, ``512k``, ``64KB``, ``2 MB``, ``1.5GB``, ``1TB`` (1024-based).

    Raises:
        ValidationError: not a number with a known unit.
    """
    m = _NUMBER_UNIT.fullmatch(text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in SIZE_UNITS:
        raise ValidationError(f"'{text}' is not a size", hint="expected e.g. 10000, 64KB, 2MB")
    number = m.group(1)
    if "." in number:
        return int(float(number) * SIZE_UNITS[unit])
    return int(number) * SIZE_UNITS[unit]  # exact, however large


def parse_bool(text: str) -> bool:
    """true/false, also on/off, yes/no, 1/0 (any case).

    Raises:
        ValidationError: none of those words.
    """
    low = text.strip().lower()
    if low in TRUE_WORDS:
        return True
    if low in FALSE_WORDS:
        return False
    raise ValidationError(f"'{text}' is not true or false", hint="expected true or false")


def int_range(low: int | None, high: int | None) -> str:
    """What a whole number between ``low`` and ``high`` (either may be open) is, in words."""
    if low is not None and high is not None:
        return f"a whole number from {low} to {high}"
    if low is not None:
        return f"a whole number of at least {low}"
    return "a whole number"


def parse_int(text: str, low: int | None = None, high: int | None = None) -> int:
    """A whole number, within ``low`` .. ``high`` when given.

    Raises:
        ValidationError: not a whole number, or out of the range.
    """
    try:
        value = int(text.strip())
    except ValueError:
        raise ValidationError(f"'{text}' is not a whole number", hint=f"expected {int_range(low, high)}") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValidationError(f"{value} is out of range", hint=f"expected {int_range(low, high)}")
    return value


PORT_RANGE = (0, 65535)
"""A TCP port; 0 lets the system choose."""


def parse_port(text: str) -> int:
    """A TCP port number, 0 to 65535.

    Raises:
        ValidationError: not a whole number in that range.
    """
    return parse_int(text, *PORT_RANGE)


def parse_path(text: str) -> str:
    """A file or directory path, ``~`` expanded.

    Raises:
        ValidationError: the text is empty.
    """
    if not text.strip():
        raise ValidationError("the path is empty", hint="expected a file or directory path")
    return os.path.expanduser(text.strip())
