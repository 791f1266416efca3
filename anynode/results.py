"""What a command returns.

Handlers never print: they return one of these. The edges render them (rich
tables in the REPL, plain text for pipes, JSON on request); the network
carries them with :meth:`Result.to_wire` and rebuilds them with
:func:`from_wire`. :meth:`Result.to_json` is the object a user sees with
``--format json`` or ``where format = json``, and the body a REST client gets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Result:
    """Base of every command result."""

    kind: ClassVar[str] = "empty"

    def to_json(self) -> Any:
        """The JSON value a user sees for this result."""
        return None

    def to_text(self) -> str:
        """The plain-text form: what a pipe, a log line or an assignment gets."""
        return ""

    def to_wire(self) -> dict[str, Any]:
        """The result as one JSON object with its kind, for the network."""
        return {"type": self.kind}


@dataclass(frozen=True)
class Empty(Result):
    """Nothing to show (a successful assignment, a jump)."""


@dataclass(frozen=True)
class Message(Result):
    """One line or paragraph of text."""

    text: str
    kind: ClassVar[str] = "message"

    def to_json(self) -> Any:
        return self.text

    def to_text(self) -> str:
        return self.text

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.kind, "text": self.text}


@dataclass(frozen=True)
class Table(Result):
    """Rows under named columns, with an optional title."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    title: str = ""
    kind: ClassVar[str] = "table"

    @classmethod
    def of(cls, columns: list[str] | tuple[str, ...], rows: Any, title: str = "") -> Table:
        """Build a table from any iterable of row sequences."""
        return cls(tuple(columns), tuple(tuple(r) for r in rows), title)

    def to_json(self) -> Any:
        return [dict(zip(self.columns, row, strict=False)) for row in self.rows]

    def to_text(self) -> str:
        cells = [list(self.columns)] + [["" if v is None else str(v) for v in r] for r in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = [self.title] if self.title else []
        for n, row in enumerate(cells):
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.kind, "columns": list(self.columns),
                "rows": [list(r) for r in self.rows], "title": self.title}


@dataclass(frozen=True)
class Record(Result):
    """Named values about one thing, shown as a key/value table."""

    values: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    kind: ClassVar[str] = "record"

    def to_json(self) -> Any:
        return dict(self.values)

    def to_text(self) -> str:
        width = max((len(k) for k in self.values), default=0)
        lines = [self.title] if self.title else []
        lines += [f"{k.ljust(width)} : {v}" for k, v in self.values.items()]
        return "\n".join(lines)

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.kind, "values": dict(self.values), "title": self.title}


@dataclass(frozen=True)
class Json(Result):
    """A JSON value returned as it is (AnyLog's ``format = json`` replies)."""

    value: Any
    kind: ClassVar[str] = "json"

    def to_json(self) -> Any:
        return self.value

    def to_text(self) -> str:
        import json

        if isinstance(self.value, str):
            return self.value
        return json.dumps(self.value, indent=2, default=str)

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.kind, "value": self.value}


@dataclass(frozen=True)
class Batch(Result):
    """Results of a line that held several commands (``a & b``)."""

    results: tuple[Result, ...] = ()
    kind: ClassVar[str] = "batch"

    def to_json(self) -> Any:
        return [r.to_json() for r in self.results]

    def to_text(self) -> str:
        return "\n".join(t for t in (r.to_text() for r in self.results) if t)

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.kind, "results": [r.to_wire() for r in self.results]}


def from_wire(obj: dict[str, Any]) -> Result:
    """Rebuild a Result from :meth:`Result.to_wire` output.

    Raises:
        ValueError: the object is not a result this version knows.
    """
    kind = obj.get("type")
    if kind == "message":
        return Message(str(obj.get("text", "")))
    if kind == "table":
        return Table.of(obj.get("columns", []), obj.get("rows", []), str(obj.get("title", "")))
    if kind == "record":
        return Record(dict(obj.get("values", {})), str(obj.get("title", "")))
    if kind == "json":
        return Json(obj.get("value"))
    if kind == "empty":
        return Empty()
    if kind == "replies":
        return Replies(tuple(Reply(r["dest"], from_wire(r["result"]) if r.get("result") else None, r.get("error"),
                                   float(r.get("elapsed", 0.0))) for r in obj.get("replies", [])))
    if kind == "batch":
        return Batch(tuple(from_wire(r) for r in obj.get("results", [])))
    raise ValueError(f"unknown result type {kind!r}")


@dataclass(frozen=True)
class Reply:
    """What one peer answered: its result, or the error that stood in for it."""

    dest: str
    result: Result | None = None
    error: dict[str, Any] | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the peer answered with a result."""
        return self.error is None

    def text(self) -> str:
        """The reply as plain text, or ``error: ...``."""
        if self.result is not None:
            return self.result.to_text()
        err = self.error or {}
        hint = f" ({err['hint']})" if err.get("hint") else ""
        return f"error: {err.get('error', 'no reply')}{hint}"


@dataclass(frozen=True)
class Replies(Result):
    """The answers of several peers to one command (``run client``)."""

    replies: tuple[Reply, ...] = ()
    kind: ClassVar[str] = "replies"

    def to_json(self) -> Any:
        return {r.dest: (r.result.to_json() if r.result is not None else r.error) for r in self.replies}

    def to_text(self) -> str:
        blocks = []
        for r in self.replies:
            body = r.text()
            sep = "\n" if "\n" in body or r.ok else " "
            blocks.append(f"[From Node {r.dest}]{sep}{body}")
        return "\n".join(blocks)

    def pairs(self) -> list[list[str]]:
        """``[[dest, text], ...]`` as AnyLog's ``name[] = run client ...`` stores them."""
        return [[r.dest, r.text()] for r in self.replies]

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.kind, "replies": [
            {"dest": r.dest, "result": r.result.to_wire() if r.result is not None else None,
             "error": r.error, "elapsed": r.elapsed} for r in self.replies]}
