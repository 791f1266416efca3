"""The shape of JSON rows, shared by the whole-file and the streaming reader: read limits, the checks
that a value is a row, and the 67 errors that say where a file went wrong."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from anynode.errors import IngestError

BAD_JSON = 67
WS = re.compile(r"[ \t\r\n]*")
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


def kind_of(v: Any) -> str:
    """A JSON value's kind in words: "a string", "an array", "null"..."""
    return _KINDS.get(type(v), type(v).__name__)


def check_start(data: bytes) -> bytes:
    """Refuse empty and binary data; return the first significant byte."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise bad(f"Not a JSON file: binary data (NUL byte at offset {nul})")
    stripped = data.lstrip(b" \t\r\n")
    if not stripped:
        raise bad("The file is empty", hint="send JSON objects: an array, one object or JSON lines")
    return stripped[:1]


def json_error(exc: orjson.JSONDecodeError, data: bytes, line_base: int = 0) -> IngestError:
    """The 67 error for orjson's refusal of ``data``, with the line in the whole file."""
    if "UTF-8" in exc.msg:
        return utf8_error(data, line_base)
    line = exc.lineno + line_base
    if exc.msg.startswith(("unexpected end of data", "Input is a zero-length")) or exc.pos >= len(data.rstrip()):
        return bad(f"The JSON ends early at line {line} column {exc.colno} (truncated file?)",
                   hint="send the complete file")
    if exc.msg.startswith("depth limit"):
        return bad(f"JSON nested too deeply at line {line} column {exc.colno}", hint="flatten the rows")
    return bad(f"Invalid JSON at line {line} column {exc.colno}: {exc.msg}")


def utf8_error(data: bytes, line_base: int = 0) -> IngestError:
    """The 67 error for bytes that are not UTF-8, with the line of the first bad byte."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1 + line_base
        return bad(f"Invalid UTF-8 at line {line} (byte {exc.start})", hint="save the file as UTF-8")
    return bad("Invalid UTF-8 in the file", hint="save the file as UTF-8")


def objects(values: list[Any], first_line: int = 1, what: str = "element") -> list[dict[str, Any]]:
    """Check that every value is an object."""
    if values and set(map(type, values)) != {dict}:
        for i, v in enumerate(values):
            if type(v) is not dict:
                where = f"on line {first_line + i}" if what == "line" else f"{first_line + i}"
                raise bad(f"Row {where} is {kind_of(v)}, not a JSON object",
                          hint="every row must be an object like {\"column\": value}")
    return values
