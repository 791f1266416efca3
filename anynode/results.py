"""What a command returns.

Handlers never print: they return one of these. The edges render them (rich
tables in the REPL, plain text for pipes, JSON on request); the network
carries them with :meth:`Result.to_wire` and rebuilds them with
:func:`from_wire`. :meth:`Result.to_json` is the object a user sees with
``--format json`` or ``where format = json``, and the body a REST client gets.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from anynode.errors import AnyNodeError


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


Chunk = list[tuple[Any, ...]]


class RowsAlreadyRead(AnyNodeError):
    """A streamed result's rows were read once through chunks(); they are not kept, so they cannot be read again."""


class _Stream:
    """The rows of a streamed result: read once through :meth:`chunks`, or gathered (and kept) on first use."""

    def __init__(self, chunks: Iterator[Chunk], close: Callable[[], None] | None) -> None:
        self.source: Iterator[Chunk] | None = chunks
        self.gathered: tuple[tuple[Any, ...], ...] | None = None
        self.close = close
        self.ended = False

    def take(self) -> Iterator[Chunk]:
        if self.source is None:
            raise RowsAlreadyRead("the rows of this result were read already",
                                  "read them once: chunks(), or rows, not both")
        source, self.source = self.source, None
        return self._through(source)

    def _through(self, source: Iterator[Chunk]) -> Iterator[Chunk]:
        yield from source
        self.ended = True

    def finish(self) -> None:
        """Make sure every row has arrived (gathering them unless chunks() read them to the end)."""
        if not self.ended:
            self.rows()

    def rows(self) -> tuple[tuple[Any, ...], ...]:
        if self.gathered is None:
            self.gathered = tuple(r for chunk in self.take() for r in chunk)
        return self.gathered


def _streamed(result: Any, chunks: Iterator[Chunk], close: Callable[[], None] | None) -> _Stream:
    stream = _Stream(chunks, close)
    object.__setattr__(result, "_stream", stream)
    if close is not None:  # a result dropped unread still stops what feeds it (threads, sockets)
        weakref.finalize(result, close)
    return stream


class StreamedTable(Table):
    """A Table whose rows arrive in chunks (a network query's answer).

    :meth:`chunks` yields them as they arrive, once, without keeping them: a
    large answer never lives whole. Any other use (``rows``, ``title``,
    rendering, the wire) gathers them first, so a caller that knows only
    Table sees one. The title is made when the last chunk has arrived.
    """

    _stream: _Stream
    _title: Callable[[], str]

    def __init__(self, columns: list[str] | tuple[str, ...], chunks: Iterator[Chunk], title: Callable[[], str],
                 close: Callable[[], None] | None = None) -> None:
        object.__setattr__(self, "columns", tuple(columns))
        object.__setattr__(self, "_title", title)
        _streamed(self, chunks, close)

    def chunks(self) -> Iterator[Chunk]:
        """The rows in chunks as they arrive (once; the rows are not kept)."""
        return self._stream.take()

    def settle(self) -> None:
        """Wait here for every row (gathered and kept), so the caller's thread does the waiting."""
        self._stream.finish()

    @property
    def rows(self) -> tuple[tuple[Any, ...], ...]:
        """Every row (gathered on first use, then kept)."""
        return self._stream.rows()

    @property
    def title(self) -> str:
        """The title, once every row has arrived."""
        self._stream.finish()
        return self._title()


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


class StreamedJson(Json):
    """A JSON answer made of rows that arrive in chunks (a network query's ``format = json``).

    :meth:`chunks` yields the rows (tuples, in ``columns`` order) as they
    arrive, once; ``value`` gathers them and builds the JSON from them.
    """

    columns: list[str]
    _stream: _Stream
    _value: Callable[[tuple[tuple[Any, ...], ...]], Any]
    _made: list[Any]

    def __init__(self, columns: list[str], chunks: Iterator[Chunk],
                 value: Callable[[tuple[tuple[Any, ...], ...]], Any], close: Callable[[], None] | None = None) -> None:
        object.__setattr__(self, "columns", list(columns))
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "_made", [])
        _streamed(self, chunks, close)

    def chunks(self) -> Iterator[Chunk]:
        """The rows in chunks as they arrive (once; the rows are not kept)."""
        return self._stream.take()

    def settle(self) -> None:
        """Wait here for every row and build the value, so the caller's thread does the waiting."""
        _ = self.value

    def stop(self) -> None:
        """Stop what feeds the rows (the operators' replies), from any thread: an unfinished read ends soon."""
        if self._stream.close is not None:
            self._stream.close()

    def shell(self) -> Any:
        """The JSON value built with no rows: its shape, and (once chunks() was read to the end) its statistics."""
        return self._value(())

    @property
    def value(self) -> Any:
        """The JSON value, built from every row (gathered on first use, then kept)."""
        if not self._made:
            self._made.append(self._value(self._stream.rows()))
        return self._made[0]


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
