"""Read the rows of a JSON data file in batches, whatever its shape.

Accepted: a JSON array of objects, one object, JSON lines (one object per
line) or objects one after the other over several lines; plain or gzip.
Small files are parsed whole with orjson (fastest); bigger ones are streamed
in batches so memory stays bounded whatever the file size: JSON lines with
orjson line by line, arrays and multi-line objects with the stdlib decoder's
``raw_decode`` over a sliding text buffer. Every problem is an IngestError
with AnyLog status 67 ("Failed to analyze JSON file") saying where it is.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

import orjson

from anynode.errors import IngestError

BAD_JSON = 67
_WS = re.compile(r"[ \t\r\n]*")
_GZIP_MAGIC = b"\x1f\x8b"
_KINDS = {str: "a string", int: "a number", float: "a number", bool: "a boolean", list: "an array",
          type(None): "null"}


@dataclass(frozen=True)
class ReadLimits:
    """Bounds that keep a bad or huge file from exhausting the node.

    Args:
        batch_rows: rows handed on at a time. Small batches let the writer insert one
            while the next is prepared: 1,000 measured 0.74 of the raw loop, 5,000 0.66 and
            20,000 0.63 (scripts/bench_ingest_pipeline.py, 20 x 10,000 rows).
        max_record_bytes: longest single line / array element accepted.
        max_depth: deepest nesting of objects and arrays inside a row.
        whole_file_bytes: files up to this size are parsed in one piece.
        chunk_bytes: read size when streaming.
    """

    batch_rows: int = 1_000
    max_record_bytes: int = 16 * 2**20
    max_depth: int = 32
    whole_file_bytes: int = 4 * 2**20
    chunk_bytes: int = 2**20


DEFAULT_LIMITS = ReadLimits()


def bad(message: str, hint: str | None = None) -> IngestError:
    """An IngestError with status 67."""
    return IngestError(message, hint=hint or "a data file holds JSON objects: an array, one object or JSON lines",
                       code=BAD_JSON)


def _kind(v: Any) -> str:
    return _KINDS.get(type(v), type(v).__name__)


def open_data(path: str | Path) -> IO[bytes]:
    """Open a data file for reading bytes, decompressing gzip whatever the file is named."""
    try:
        f: IO[bytes] = open(path, "rb")
    except OSError as exc:
        raise bad(f"Cannot read {Path(path).name}: {exc.strerror}",
                  hint="check that the file exists and is readable") from exc
    magic = f.read(2)
    f.seek(0)
    if magic == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    if str(path).lower().endswith(".gz"):
        f.close()
        raise bad(f"{Path(path).name} is named .gz but is not gzip-compressed",
                  hint="compress it with gzip or drop .gz")
    return f


def _chunks(f: IO[bytes], size: int, first: bytes = b"") -> Iterator[bytes]:
    """The file's bytes in pieces; damaged gzip data becomes an IngestError."""
    if first:
        yield first
    while True:
        try:
            piece = f.read(size)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise bad(f"The compressed file is damaged or truncated ({exc})", hint="send the file again") from exc
        if not piece:
            return
        yield piece


def file_hash(path: str | Path, dbms: str, table: str, chunk_bytes: int = 2**20) -> str:
    """AnyLog's file hash: md5 of ``"<dbms>.<table>"`` followed by the (decompressed) content."""
    h = hashlib.md5(f"{dbms}.{table}".encode(), usedforsecurity=False)
    with open_data(path) as f:
        for piece in _chunks(f, chunk_bytes):
            h.update(piece)
    return h.hexdigest()


def body_hash(body: bytes, dbms: str, table: str) -> str:
    """The file hash of a JSON body that arrives without a file (REST), same rule as :func:`file_hash`."""
    return hashlib.md5(f"{dbms}.{table}".encode() + body, usedforsecurity=False).hexdigest()


def read_batches(source: str | Path | bytes, limits: ReadLimits = DEFAULT_LIMITS) -> Iterator[list[dict[str, Any]]]:
    """Yield the rows of a file (a path) or of a JSON body (bytes) as lists of dicts.

    Raises:
        IngestError: code 67 with the line/position of the problem.
    """
    f: IO[bytes] = io.BytesIO(source) if isinstance(source, bytes) else open_data(source)
    with f:
        head = next(_chunks(f, limits.whole_file_bytes + 1), b"")
        if len(head) <= limits.whole_file_bytes:
            yield from _whole(head, limits)
        else:
            yield from _stream(_chunks(f, limits.chunk_bytes, head), limits)


# --- whole files ----------------------------------------------------
def _check_start(data: bytes) -> bytes:
    """Refuse empty and binary data; return the first significant byte."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise bad(f"Not a JSON file: binary data (NUL byte at offset {nul})")
    stripped = data.lstrip(b" \t\r\n")
    if not stripped:
        raise bad("The file is empty", hint="send JSON objects: an array, one object or JSON lines")
    return stripped[:1]


def _json_error(exc: orjson.JSONDecodeError, data: bytes, line_base: int = 0) -> IngestError:
    if "UTF-8" in exc.msg:
        return _utf8_error(data, line_base)
    line = exc.lineno + line_base
    if exc.msg.startswith(("unexpected end of data", "Input is a zero-length")) or exc.pos >= len(data.rstrip()):
        return bad(f"The JSON ends early at line {line} column {exc.colno} (truncated file?)",
                   hint="send the complete file")
    if exc.msg.startswith("depth limit"):
        return bad(f"JSON nested too deeply at line {line} column {exc.colno}", hint="flatten the rows")
    return bad(f"Invalid JSON at line {line} column {exc.colno}: {exc.msg}")


def _utf8_error(data: bytes, line_base: int = 0) -> IngestError:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1 + line_base
        return bad(f"Invalid UTF-8 at line {line} (byte {exc.start})", hint="save the file as UTF-8")
    return bad("Invalid UTF-8 in the file", hint="save the file as UTF-8")


def _objects(values: list[Any], first_line: int = 1, what: str = "element") -> list[dict[str, Any]]:
    """Check that every value is an object."""
    if values and set(map(type, values)) != {dict}:
        for i, v in enumerate(values):
            if type(v) is not dict:
                where = f"on line {first_line + i}" if what == "line" else f"{first_line + i}"
                raise bad(f"Row {where} is {_kind(v)}, not a JSON object",
                          hint="every row must be an object like {\"column\": value}")
    return values


def _whole(data: bytes, limits: ReadLimits) -> Iterator[list[dict[str, Any]]]:
    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    first = _check_start(data)
    if first not in (b"[", b"{"):
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            shown = data.lstrip()[:20].decode("utf-8", "replace")
            raise bad(f"Not JSON: the file starts with {shown!r}") from None
        raise bad(f"The file holds {_kind(value)}, not JSON objects")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if first == b"{" and exc.msg.startswith("unexpected content after document"):
            yield from _stream(iter([data]), limits)  # JSON lines or objects one after the other
            return
        raise _json_error(exc, data) from None
    if isinstance(value, dict):
        yield [value]
        return
    rows = _objects(value)
    if not rows:
        raise bad("The JSON array is empty: no rows", hint="send at least one object")
    step = limits.batch_rows
    for i in range(0, len(rows), step):
        yield rows[i:i + step]


# --- streamed files -------------------------------------------------
def _stream(chunks: Iterator[bytes], limits: ReadLimits) -> Iterator[list[dict[str, Any]]]:
    """Decide between JSON lines and a parsed stream from the first line, then stream."""
    joined = b""
    for piece in chunks:
        joined += piece
        body = joined.lstrip(b" \t\r\n")
        if len(joined) >= 65536 and (b"\n" in body or len(joined) > limits.max_record_bytes):
            break
    if joined.startswith(codecs.BOM_UTF8):
        joined = joined[3:]
    first = _check_start(joined[:65536])
    rest = _prepend(joined, chunks)
    if first == b"{":
        line = joined.lstrip(b" \t\r\n").split(b"\n", 1)[0]
        try:
            is_lines = isinstance(orjson.loads(line), dict)
        except orjson.JSONDecodeError:
            is_lines = False
        if is_lines:
            yield from _json_lines(rest, limits)
            return
    elif first != b"[":
        head = joined.lstrip()
        kind = ("a string" if first == b'"' else "a number" if first in b"-0123456789"
                else "a boolean" if head.startswith((b"true", b"false")) else "null" if head.startswith(b"null")
                else None)
        if kind:
            raise bad(f"The file holds {kind}, not JSON objects")
        raise bad(f"Not JSON: the file starts with {head[:20].decode('utf-8', 'replace')!r}")
    yield from _values(rest, first == b"[", limits)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _json_lines(chunks: Iterable[bytes], limits: ReadLimits) -> Iterator[list[dict[str, Any]]]:
    """One object per line; blank lines are skipped; line numbers count from 1."""
    carry = b""
    line_no = 0  # lines completed before the current chunk
    batch: list[dict[str, Any]] = []
    for piece in chunks:
        lines = (carry + piece).split(b"\n")
        carry = lines.pop()
        if len(carry) > limits.max_record_bytes:
            raise bad(f"Line {line_no + len(lines) + 1} is longer than {limits.max_record_bytes} bytes",
                      hint="split the row or raise the record size limit")
        batch.extend(_parse_lines(lines, line_no, limits))
        line_no += len(lines)
        while len(batch) >= limits.batch_rows:
            yield batch[:limits.batch_rows]
            batch = batch[limits.batch_rows:]
    if carry.strip():
        batch.extend(_parse_lines([carry], line_no, limits))
    if batch:
        yield batch


def _parse_lines(lines: list[bytes], line_no: int, limits: ReadLimits) -> list[dict[str, Any]]:
    if lines and max(map(len, lines)) > limits.max_record_bytes:
        n = next(i for i, ln in enumerate(lines) if len(ln) > limits.max_record_bytes)
        raise bad(f"Line {line_no + n + 1} is longer than {limits.max_record_bytes} bytes",
                  hint="split the row or raise the record size limit")
    try:
        values = list(map(orjson.loads, lines))
    except orjson.JSONDecodeError:
        values = []
        for i, ln in enumerate(lines):
            if not ln.strip():
                continue
            try:
                values.append(orjson.loads(ln))
            except orjson.JSONDecodeError as exc:
                raise _json_error(exc, ln, line_no + i) from None
            if type(values[-1]) is not dict:
                _objects([values[-1]], line_no + i + 1, "line")
        return values
    if values and set(map(type, values)) != {dict}:
        _objects(values, line_no + 1, "line")
    return values


class _Text:
    """A sliding window of decoded text over the byte chunks, with line accounting."""

    def __init__(self, chunks: Iterable[bytes], limits: ReadLimits) -> None:
        self._chunks = iter(chunks)
        self._utf8 = codecs.getincrementaldecoder("utf-8")("strict")
        self._bytes_read = 0
        self.limits = limits
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.lines_before = 0  # newlines in text already dropped
        self._decoder = json.JSONDecoder(parse_constant=self._constant)

    @staticmethod
    def _constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    def more(self) -> bool:
        """Append the next chunk; False at the end of the data."""
        if self.eof:
            return False
        piece = next(self._chunks, None)
        try:
            text = self._utf8.decode(piece or b"", final=piece is None)
        except UnicodeDecodeError as exc:
            raise bad(f"Invalid UTF-8 at byte {self._bytes_read + exc.start}", hint="save the file as UTF-8") from None
        if piece is None:
            self.eof = True
        else:
            self._bytes_read += len(piece)
        if self.pos:
            self.lines_before += self.buf.count("\n", 0, self.pos)
            self.buf = self.buf[self.pos:]
            self.pos = 0
        if not self.lines_before and not self.buf and text.startswith("\ufeff"):
            text = text[1:]
        self.buf += text
        return not self.eof or bool(text)

    def peek(self) -> str:
        """Skip whitespace; the next character, or '' at the end."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def where(self, pos: int | None = None) -> str:
        pos = self.pos if pos is None else pos
        line = self.lines_before + self.buf.count("\n", 0, pos) + 1
        return f"line {line} column {pos - self.buf.rfind(chr(10), 0, pos)}"

    def value(self) -> Any:
        """Decode the next JSON value, reading more text until it is complete."""
        while True:
            try:
                value, end = self._decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if len(self.buf) - self.pos > self.limits.max_record_bytes:
                    raise bad(f"Row at {self.where()} is longer than {self.limits.max_record_bytes} bytes or "
                              f"invalid: {exc.msg}", hint="split the row or raise the record size limit") from None
                if self.more():
                    continue
                if exc.pos >= len(self.buf.rstrip()) or exc.msg.startswith("Unterminated"):
                    raise bad(f"The JSON ends early at {self.where(exc.pos)} (truncated file?)",
                              hint="send the complete file") from None
                raise bad(f"Invalid JSON at {self.where(exc.pos)}: {exc.msg}") from None
            except ValueError as exc:
                raise bad(f"Invalid JSON at {self.where()}: {exc}") from None
            except RecursionError:
                raise bad(f"JSON nested too deeply at {self.where()}", hint="flatten the rows") from None
            if end - self.pos > self.limits.max_record_bytes:
                raise bad(f"Row at {self.where()} is longer than {self.limits.max_record_bytes} bytes",
                          hint="split the row or raise the record size limit")
            self.pos = end
            return value


def _values(chunks: Iterable[bytes], array: bool, limits: ReadLimits) -> Iterator[list[dict[str, Any]]]:
    """Objects of an array, or objects one after the other, streamed."""
    t = _Text(chunks, limits)
    batch: list[dict[str, Any]] = []
    n = 0
    if array:
        t.peek()
        t.pos += 1  # the '['
    while True:
        c = t.peek()
        if array and n == 0 and c == "]":
            raise bad("The JSON array is empty: no rows", hint="send at least one object")
        if c == "":
            if array:
                raise bad(f"The JSON ends early at {t.where()}: the array is not closed (truncated file?)",
                          hint="send the complete file")
            break
        start = t.pos
        v = t.value()
        n += 1
        if type(v) is not dict:
            raise bad(f"Row {n} is {_kind(v)}, not a JSON object (at {t.where(start)})",
                      hint="every row must be an object like {\"column\": value}")
        batch.append(v)
        if len(batch) >= limits.batch_rows:
            yield batch
            batch = []
        if array:
            c = t.peek()
            if c == "]":
                t.pos += 1
                if t.peek() != "":
                    raise bad(f"Invalid JSON at {t.where()}: data after the end of the array")
                break
            if c != ",":
                if c == "":
                    raise bad(f"The JSON ends early at {t.where()}: the array is not closed (truncated file?)",
                              hint="send the complete file")
                raise bad(f"Invalid JSON at {t.where()}: expected ',' or ']' after a row")
            t.pos += 1
    if batch:
        yield batch
    if n == 0:
        raise bad("The file is empty", hint="send JSON objects: an array, one object or JSON lines")
