"""Read the rows of a JSON data file in batches, whatever its shape.

Accepted: a JSON array of objects, one object, JSON lines (one object per
line) or objects one after the other over several lines; plain or gzip.
Small files are parsed whole with orjson (fastest); bigger ones are streamed
in batches by :mod:`anynode.ingest.stream`, so memory stays bounded whatever
the file size. Every problem is an IngestError
with AnyLog status 67 ("Failed to analyze JSON file") saying where it is.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

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
            from anynode.ingest.stream import stream_batches  # here: stream.py uses this module's helpers

            yield from stream_batches(_chunks(f, limits.chunk_bytes, head), limits)


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
            from anynode.ingest.stream import stream_batches

            yield from stream_batches(iter([data]), limits)  # JSON lines or objects one after the other
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
