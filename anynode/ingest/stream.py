"""Streamed reading of big JSON data files, in batches, with memory bounded whatever the size.

JSON lines are parsed with orjson line by line; arrays and objects written
over several lines with the stdlib decoder's ``raw_decode`` over a sliding
text buffer. :func:`anynode.ingest.reader.read_batches` comes here for files
bigger than ``whole_file_bytes`` and for whole bodies that turn out to be
JSON lines. Every problem is an IngestError with AnyLog status 67.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from anynode.ingest.rows import WS, ReadLimits, bad, check_start, json_error, kind_of, objects


def stream_batches(chunks: Iterator[bytes], limits: ReadLimits,
                   line_base: int = 0) -> Iterator[list[dict[str, Any]]]:
    """Decide between JSON lines and a parsed stream from the first line, then stream.

    ``line_base`` is the number of lines before the first chunk (blank lines
    the reader skipped), so error messages name the file's own line numbers.
    """
    joined = b""
    for piece in chunks:
        joined += piece
        body = joined.lstrip(b" \t\r\n")
        if len(joined) >= 65536 and (b"\n" in body or len(joined) > limits.max_record_bytes):
            break
    if joined.startswith(codecs.BOM_UTF8):
        joined = joined[3:]
    first = check_start(joined[:65536])
    rest = _prepend(joined, chunks)
    if first == b"{":
        line = joined.lstrip(b" \t\r\n").split(b"\n", 1)[0]
        try:
            is_lines = isinstance(orjson.loads(line), dict)
        except orjson.JSONDecodeError:
            is_lines = False
        if is_lines:
            yield from _json_lines(rest, limits, line_base)
            return
    elif first != b"[":
        head = joined.lstrip()
        kind = ("a string" if first == b'"' else "a number" if first in b"-0123456789"
                else "a boolean" if head.startswith((b"true", b"false")) else "null" if head.startswith(b"null")
                else None)
        if kind:
            raise bad(f"The file holds {kind}, not JSON objects")
        raise bad(f"Not JSON: the file starts with {head[:20].decode('utf-8', 'replace')!r}")
    yield from _values(rest, first == b"[", limits, line_base)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _json_lines(chunks: Iterable[bytes], limits: ReadLimits, line_base: int = 0) -> Iterator[list[dict[str, Any]]]:
    """One object per line; blank lines are skipped; line numbers count from ``line_base`` + 1."""
    carry = b""
    line_no = line_base  # lines completed before the current chunk
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
                raise json_error(exc, ln, line_no + i) from None
            if type(values[-1]) is not dict:
                objects([values[-1]], line_no + i + 1, "line")
        return values
    if values and set(map(type, values)) != {dict}:
        objects(values, line_no + 1, "line")
    return values


class _Text:
    """A sliding window of decoded text over the byte chunks, with line accounting."""

    def __init__(self, chunks: Iterable[bytes], limits: ReadLimits, line_base: int = 0) -> None:
        self._chunks = iter(chunks)
        self._utf8 = codecs.getincrementaldecoder("utf-8")("strict")
        self._bytes_read = 0
        self.limits = limits
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.lines_before = line_base  # newlines in text already dropped (or skipped by the reader)
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
        if self.pos and text:  # at the end nothing is added: positions a caller holds stay valid
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
            self.pos = WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
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


def _values(chunks: Iterable[bytes], array: bool, limits: ReadLimits,
            line_base: int = 0) -> Iterator[list[dict[str, Any]]]:
    """Objects of an array, or objects one after the other, streamed."""
    t = _Text(chunks, limits, line_base)
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
            raise bad(f"Row {n} is {kind_of(v)}, not a JSON object (at {t.where(start)})",
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
