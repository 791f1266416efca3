"""REST data ingestion: JSON rows from a PUT become a file in the watch directory.

:func:`deliver_rows` is the one function the REST server calls for data.
Until the operator's ingest pipeline exists it writes the rows, one JSON
object per line, as ``<dbms>.<table>.<source>.<md5>.<instructions>.json``
into ``!watch_dir`` (AnyLog's file-name convention, so an operator picks the
file up as it would from AnyLog). The data team swaps the body of
:func:`deliver_rows` for the pipeline; the REST layer does not change.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

from anynode.services.rest_dialect import BadRequest, BadRows, MissingConfiguration

_NAME = re.compile(r"[a-z0-9_]+")
_PART = re.compile(r"[A-Za-z0-9_-]+")
MODES = ("file", "streaming")
ROWS_HINT = "send JSON rows: one object, an array of objects, or one object per line"


def check_target(dbms: str | None, table: str | None, mode: str | None) -> tuple[str, str, str]:
    """Validate the dbms, table and mode headers; returns them lower-cased.

    Raises:
        BadRequest: a header is missing or cannot be part of a file name
            (EdgeLake never answers a PUT without ``dbms``; its bug #7).
    """
    missing = [h for h, v in (("dbms", dbms), ("table", table)) if not (v or "").strip()]
    if missing:
        raise BadRequest(f"a PUT of rows needs the header{'s' if len(missing) > 1 else ''} "
                         f"{' and '.join(repr(m) for m in missing)}",
                         hint="send e.g. 'dbms: test' and 'table: readings' with the rows")
    dbms, table = str(dbms).strip().lower(), str(table).strip().lower()
    for what, value in (("dbms", dbms), ("table", table)):
        if not _NAME.fullmatch(value):
            raise BadRequest(f"{what} name '{value}' is not accepted",
                             hint="use letters, digits and underscores only")
    mode = (mode or "file").strip().lower()
    if mode not in MODES:
        raise BadRequest(f"mode '{mode}' is not accepted", hint="use 'mode: file' or 'mode: streaming'")
    return dbms, table, mode


def parse_rows(data: bytes) -> list[dict[str, Any]]:
    """The JSON objects in a request body: one object, an array, or JSON lines.

    Raises:
        BadRows: the body is empty, not UTF-8, not JSON (with the line and
            column of the fault), or holds something other than objects.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRows(f"the rows are not UTF-8 text (byte {exc.start})", hint=ROWS_HINT) from None
    decoder = json.JSONDecoder()
    rows: list[dict[str, Any]] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos >= end:
            break
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise BadRows(f"malformed JSON at line {exc.lineno} column {exc.colno} (char {exc.pos}): {exc.msg}",
                          hint=ROWS_HINT) from None
        for row in value if isinstance(value, list) else [value]:
            if not isinstance(row, dict):
                raise BadRows(f"row {len(rows) + 1} is {type(row).__name__}, not a JSON object", hint=ROWS_HINT)
            rows.append(row)
    if not rows:
        raise BadRows("the body holds no rows", hint=ROWS_HINT)
    return rows


def _write_atomic(staging: Path, target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` so a reader never sees a partial file.

    The bytes go to a hidden temp file in ``staging`` (AnyLog's prep_dir),
    are fsynced, then renamed into place; across file systems the temp file
    is made beside the target instead.
    """
    for folder in (staging, target.parent):
        tmp = folder / f".{target.name}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
            return
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno != errno.EXDEV or folder == target.parent:
                raise MissingConfiguration(f"cannot write {target.name} into {target.parent}: {exc.strerror}",
                                           hint="check that the watch and prep directories are writable") from None


def _work_dir(node: Any, key: str) -> Path | None:
    value = node.get_var(key)
    return Path(value) if value and Path(value).is_dir() else None


def deliver_rows(node: Any, dbms: str, table: str, mode: str, rows_bytes: bytes, *,
                 source: str = "0", instructions: str = "0") -> dict[str, str]:
    """Hand the rows of one PUT to the node; returns AnyLog's reply object.

    ``mode: file`` writes an AnyLog-named file into the watch directory (the
    operator takes it); ``mode: streaming`` buffers the rows in the node's
    Streamer, which flushes them into the pipeline by time and volume.

    Raises:
        BadRows: the body is not JSON rows.
        BadRequest: ``source`` or ``instructions`` cannot be part of a file name.
        MissingConfiguration: ``!watch_dir`` is missing or not writable.
    """
    for what, value in (("source", source), ("instructions", instructions)):
        if not _PART.fullmatch(value):
            raise BadRequest(f"{what} '{value}' is not accepted", hint="use letters, digits, '_' and '-' only")
    rows = parse_rows(rows_bytes)
    if mode == "streaming":
        from anynode.services.streaming import streamer

        streamer(node).put(dbms.lower(), table.lower(), rows, len(rows_bytes))
        return {"AnyLog.status": "Success", "AnyLog.hash": "0"}
    data = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows).encode()
    digest = hashlib.md5(f"{dbms}.{table}".encode() + data, usedforsecurity=False).hexdigest()
    watch = _work_dir(node, "watch_dir")
    if watch is None:
        raise MissingConfiguration(f"the watch directory '{node.get_var('watch_dir')}' does not exist",
                                   hint="run 'create work directories' on the node, or set !watch_dir")
    target = watch / f"{dbms}.{table}.{source}.{digest}.{instructions}.json"
    _write_atomic(watch, target, data)  # renamed inside the watch dir: the operator sees a move at once
    return {"AnyLog.status": "Success", "AnyLog.hash": digest if mode == "file" else "0"}
