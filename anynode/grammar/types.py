"""Value types of command arguments and ``where`` options.

Each type converts the text a user wrote into a Python value, refuses bad
text with a message that says what it accepts, names its metavar for usage
lines and, where it can, lists the values the REPL may complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from anynode import safejson, values
from anynode.errors import ValidationError


class ValueType:
    """Base type: the text as it is."""

    metavar = "text"

    def convert(self, text: str) -> Any:
        """Turn ``text`` into the value a handler gets.

        Raises:
            ValidationError: the text is not of this type; the message says
                what was expected (the parser adds which option it was).
        """
        return text

    def accepts(self) -> str:
        """What this type accepts, for error messages and help."""
        return self.metavar

    def choices(self) -> tuple[str, ...]:
        """Values the REPL can complete (empty when they cannot be known)."""
        return ()


class Text(ValueType):
    """Any text."""


TEXT = Text()


@dataclass(frozen=True)
class Int(ValueType):
    """A whole number, optionally bounded."""

    min: int | None = None
    max: int | None = None
    metavar = "number"

    def convert(self, text: str) -> int:
        return values.parse_int(text, self.min, self.max)

    def accepts(self) -> str:
        return values.int_range(self.min, self.max)


class Port(Int):
    """A TCP port number (0 lets the system choose)."""

    metavar = "port"

    def __init__(self) -> None:
        super().__init__(*values.PORT_RANGE)


class Bool(ValueType):
    """true/false (also on/off, yes/no)."""

    metavar = "true|false"

    def convert(self, text: str) -> bool:
        return values.parse_bool(text)

    def choices(self) -> tuple[str, ...]:
        return ("true", "false")


BOOL = Bool()


class Choice(ValueType):
    """One of a fixed set of words (any case)."""

    def __init__(self, *values: str) -> None:
        self.values = values
        self.metavar = "|".join(values)

    def convert(self, text: str) -> str:
        low = text.strip().lower()
        if low in self.values:
            return low
        raise ValidationError(f"'{text}' is not accepted", hint=f"expected one of: {', '.join(self.values)}")

    def accepts(self) -> str:
        return "one of: " + ", ".join(self.values)

    def choices(self) -> tuple[str, ...]:
        return self.values


class Seconds(ValueType):
    """A duration: ``30 seconds``, ``5 minutes``, ``2h``, ``2 weeks`` or a bare number of seconds."""

    metavar = "N seconds|minutes|hours|days"

    def convert(self, text: str) -> float:
        return values.parse_duration(text)


SECONDS = Seconds()


class Storage(ValueType):
    """A size: ``10000``, ``512k``, ``64KB``, ``2 MB``, ``1TB`` (1024-based)."""

    metavar = "N[KB|MB|GB]"

    def convert(self, text: str) -> int:
        return values.parse_size(text)


class HostPort(ValueType):
    """``ip:port``."""

    metavar = "ip:port"

    def convert(self, text: str) -> str:
        m = re.fullmatch(r"\s*([^\s:]+):(\d{1,5})\s*", text)
        if not m or int(m.group(2)) > values.PORT_RANGE[1]:
            raise ValidationError(f"'{text}' is not ip:port", hint="expected e.g. 127.0.0.1:32048")
        host = "127.0.0.1" if m.group(1) == "localhost" else m.group(1)
        return f"{host}:{int(m.group(2))}"


@dataclass(frozen=True)
class DestinationList:
    """Peers named in ``(ip:port, ip:port, timeout = 30, subset = true)``.

    ``query`` holds the text when the destinations are a metadata query
    (``blockchain get operator ...``) rather than addresses.
    """

    dests: tuple[str, ...] = ()
    timeout: float | None = None
    subset: bool = False
    query: str = ""


def parse_destinations(text: str) -> DestinationList:
    """Parse a ``run client`` destination: ``(a:p, b:p)``, ``a:p``, ``()``, with options inside.

    Raises:
        ValidationError: an item that is neither ip:port nor a known option.
    """
    body = text.strip()
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1].strip()
    if re.match(r"^(blockchain\s|operator\b|publisher\b|query\b|master\b|dbms\s*=)", body):
        return DestinationList(query=body)
    dests: list[str] = []
    timeout: float | None = None
    subset = False
    for part in (p.strip() for p in body.split(",")):
        if not part:
            continue
        if "=" in part:
            key, _, value = (x.strip() for x in part.partition("="))
            if key == "timeout":
                timeout = SECONDS.convert(value)
            elif key == "subset":
                subset = BOOL.convert(value)
            else:
                raise ValidationError(f"'{key}' is not a destination option", hint="use timeout = N or subset = true")
            continue
        items: list[str] = []
        for word in part.split():
            # AnyLog also takes "ip port" ("run client (!ip 2048) ...").
            if items and word.isdigit() and ":" not in items[-1] and not items[-1].isdigit():
                items[-1] += ":" + word
            else:
                items.append(word)
        for item in items:
            dest = HostPort().convert(item)
            if dest not in dests:
                dests.append(dest)
    return DestinationList(tuple(dests), timeout, subset)


class Destinations(ValueType):
    """``(ip:port, ip:port)``: the peers a command goes to (``()`` is the whole network)."""

    metavar = "(ip:port, ...)"

    def convert(self, text: str) -> DestinationList:
        return parse_destinations(text)


class JsonValue(ValueType):
    """A JSON object or array."""

    metavar = "{json}"

    def convert(self, text: str) -> Any:
        try:
            return safejson.loads(text)
        except ValueError as exc:
            raise ValidationError(f"not valid JSON: {exc}",
                                  hint="expected a JSON value like {\"key\": \"value\"}") from None


class FilePath(ValueType):
    """A file or directory path (``~`` is expanded)."""

    metavar = "path"

    def convert(self, text: str) -> str:
        return values.parse_path(text)


class Words(ValueType):
    """The rest of the line, as text (for ``echo``, nested commands ...)."""

    metavar = "..."


FORMAT = Choice("table", "json")
