"""Rows from a ``PUT``: the one entry that turns a JSON body into a file or into streaming rows.

:func:`put_rows` is what the REST server calls for ``PUT /`` (and ``POST /``
with ``dbms`` and ``table`` headers); benchmarks and tests call it without
HTTP. In ``mode: file`` the rows become an AnyLog-named file in the watch
directory and the operator takes it; in ``mode: streaming`` they join the
table's buffer in the :class:`~anynode.streaming.service.Streamer`.

Everything a client can get wrong is checked before anything is written or
buffered, and the error carries the HTTP status the REST edge answers with:
400 for a missing or bad header, a reserved name (a system database,
``tsd_info``, ``sqlite_*``) or a body that is not JSON rows, 422 when the
node cannot take the rows as asked (streaming into a database that is not
connected, or a file for a database that this node's running operator has not
connected), 500 when the node itself is not set up (no watch directory). A
body already ingested (same hash in the database's ``tsd_info``) or already
waiting in the watch directory is not written again: the reply says
``Duplicate``.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import orjson

from anynode.codes import Code
from anynode.errors import ConfigError, IngestError, NoSuchDatabase
from anynode.ingest.naming import TABLE_NAME, FileName
from anynode.protocols import NodeView
from anynode.services.status import ServiceState

MODES = ("file", "streaming")
ROWS_HINT = "send JSON rows: one object, an array of objects, or one object per line"
BAD_NAME = Code.FILE_NAME_STRUCTURE  # every bad header of a PUT
_PART = re.compile(r"[A-Za-z0-9_-]{1,64}")


class BadPut(IngestError):
    """A PUT the node cannot read: a missing or bad header (AnyLog 119) or a body that is not rows (67)."""

    http_status = 400


class MissingConfiguration(ConfigError):
    """The node is not set up to take rows: no writable watch directory (AnyLog 33)."""

    http_status = 500
    anylog_code = Code.MISSING_CONFIG


def _target(dbms: str | None, table: str | None, mode: str | None, source: str | None,
            instructions: str | None) -> tuple[str, str, str, str, str]:
    """The checked, normalised (dbms, table, mode, source, instructions) of a PUT."""
    missing = [h for h, v in (("dbms", dbms), ("table", table)) if not (v or "").strip()]
    if missing:
        raise BadPut(f"a PUT of rows needs the header{'s' if len(missing) > 1 else ''} "
                     f"{' and '.join(repr(m) for m in missing)}",
                     hint="send e.g. 'dbms: test' and 'table: readings' with the rows", code=BAD_NAME)
    dbms, table = str(dbms).strip().lower(), str(table).strip().lower()
    for what, value in (("dbms", dbms), ("table", table)):
        if not TABLE_NAME.fullmatch(value):
            raise BadPut(f"{what} name '{value}' is not accepted",
                         hint="use letters, digits and _, not starting with a digit (at most 63)", code=BAD_NAME)
    from anynode.ingest.target import check_target

    try:
        check_target(dbms, table)
    except IngestError as exc:  # a system database or a reserved table: the ingest would refuse it later
        raise BadPut(exc.message, hint=exc.hint, code=exc.anylog_code) from None
    mode = (mode or "").strip().lower() or "file"
    if mode not in MODES:
        raise BadPut(f"mode '{mode}' is not accepted", hint="use 'mode: file' or 'mode: streaming'", code=BAD_NAME)
    source = (source or "").strip() or "0"
    instructions = (instructions or "").strip() or "0"
    for what, value in (("source", source), ("instructions", instructions)):
        if not _PART.fullmatch(value):
            raise BadPut(f"{what} '{value}' is not accepted", hint="use letters, digits, '_' and '-' only",
                         code=BAD_NAME)
    return dbms, table, mode, source, instructions


def _rows_of(body: bytes) -> list[dict[str, Any]]:
    """The JSON objects of a body, read by the same reader (and rules) the operator applies to a file.

    Raises:
        BadPut: code 67, saying what is wrong and where (line and column).
    """
    from anynode.ingest.reader import read_batches

    if not body.strip():
        raise BadPut("the body holds no rows", hint=ROWS_HINT)
    try:
        return [row for batch in read_batches(body) for row in batch]
    except IngestError as exc:
        message = exc.message.replace("The file", "The body").replace("the file", "the body")
        if exc.message.startswith("Not JSON"):  # a UTF-16 or Latin-1 body says more than "starts with '��'"
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as bad:
                message = f"the body is not UTF-8 text (byte {bad.start})"
        raise BadPut(message, hint=ROWS_HINT, code=exc.anylog_code) from None


def _publish(node: NodeView, name: str, data: bytes) -> Path:
    """Write ``data`` as ``<watch_dir>/<name>`` so the operator never sees a partial file.

    The bytes go to a hidden temp file in ``!prep_dir`` (AnyLog's scratch
    directory) or, when that fails (missing, another file system), in the
    watch directory itself; they are fsynced, then renamed into place, so
    the operator sees one move event.
    """
    watch = Path(node.get_var("watch_dir") or "")
    if not str(watch) or not watch.is_dir():
        raise MissingConfiguration(f"Missing configuration: the watch directory '{watch}' does not exist",
                                   hint="run 'create work directories' on the node, or set !watch_dir")
    target = watch / name
    prep = Path(node.get_var("prep_dir") or watch)
    for folder in dict.fromkeys([prep if prep.is_dir() else watch, watch]):
        tmp = folder / f".{name}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
            return target
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if folder == watch:
                raise MissingConfiguration(f"Missing configuration: cannot write {name} into {watch}: "
                                           f"{exc.strerror}",
                                           hint="check that the watch and prep directories are writable") from None
    raise AssertionError("unreachable")


def put_rows(node: NodeView, dbms: str | None, table: str | None, mode: str | None, body: bytes, *,
             source: str | None = "0", instructions: str | None = "0") -> dict[str, str]:
    """Take the JSON rows of one ``PUT``; returns AnyLog's reply object.

    ``dbms``, ``table``, ``mode``, ``source`` and ``instructions`` are the
    request's header values as sent (None when absent; names are lower-cased,
    mode defaults to ``file``, source and instructions to ``0``).

    * ``mode = "file"``: the rows, one compact JSON object per line (UTF-8),
      become ``<dbms>.<table>.<source>.<md5>.<instructions>.json`` in the
      watch directory, written atomically; the operator ingests it. The
      reply's ``AnyLog.hash`` is that md5 (of ``"dbms.table"`` + the file's
      bytes). The database need not be connected here, as in AnyLog: a node
      may collect files for an operator, unless this node runs an operator
      on its watch directory (then 422, code 10). When the database here
      already holds a file with this hash, or the same file waits in the
      watch directory, nothing is written and the reply is
      ``{"AnyLog.status": "Duplicate", "AnyLog.hash": ..., "AnyLog.code": str(Code.DUPLICATE_JSON_FILE),
      "AnyLog.message": ...}``.
    * ``mode = "streaming"``: the rows join the table's in-memory buffer and
      reach the database when its time or volume threshold is met (``set
      buffer threshold``), at once with ``write_immediate``. ``AnyLog.hash``
      is ``"0"``. The Streamer service starts on the first call.

    Raises:
        BadPut: (HTTP 400) a missing or bad header (119), a system database
            (10) or reserved table name (119), or a body that is not JSON rows
            (67, with line and column).
        IngestError: (422) streaming into a database that is not connected
            (10), a file for a database this node's running operator has not
            connected (10), or, with ``write_immediate``, what the ingest refused.
        MissingConfiguration: (500) file mode without a writable watch directory.
    """
    dbms, table, mode, source, instructions = _target(dbms, table, mode, source, instructions)
    rows = _rows_of(body)
    if mode == "streaming":
        from anynode.streaming.service import streamer

        streamer(node).put(dbms, table, rows, len(body))
        return {"AnyLog.status": "Success", "AnyLog.hash": "0"}
    from anynode.ingest.reader import body_hash

    data = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows)
    digest = body_hash(data, dbms, table)
    name = str(FileName(dbms, table, source, digest, instructions))
    _refuse_early(node, dbms)
    seen = _duplicate(node, dbms, digest, name)
    if seen:
        return {"AnyLog.status": "Duplicate", "AnyLog.hash": digest, "AnyLog.code": str(Code.DUPLICATE_JSON_FILE),
                "AnyLog.message": seen}
    _publish(node, name, data)
    return {"AnyLog.status": "Success", "AnyLog.hash": digest}


def _refuse_early(node: NodeView, dbms: str) -> None:
    """Refuse now what this node's operator would refuse once the file lands: a database it has not
    connected (10). Without a running operator on the watch directory, a file may wait for one."""
    service = node.services.get("Operator")
    if service is None or node.services.status("Operator").state != ServiceState.RUNNING:
        return
    watching = getattr(getattr(service, "config", None), "watch_dir", None)
    if watching is None or Path(watching).resolve() != Path(node.get_var("watch_dir") or "").resolve():
        return
    if not node.catalog.is_connected(dbms):
        raise IngestError(f"Logical DBMS '{dbms}' not connected, and this node's operator ingests the "
                          "watch directory", hint=f"connect dbms {dbms} where type = sqlite",
                          code=Code.DBMS_NOT_OPEN)


def _duplicate(node: NodeView, dbms: str, digest: str, name: str) -> str:
    """Why the file would be a duplicate (86) — rows with this hash already in ``dbms``, or the same
    file already waiting in the watch directory — or "" when it is new."""
    if node.catalog.is_connected(dbms):
        from anynode.store import tsd

        try:
            db = node.catalog.get(dbms)
            with db.backend.reader() as conn:
                found = tsd.lookup(db.backend, conn, digest)
        except NoSuchDatabase:  # disconnected meanwhile
            found = None
        if found is not None:
            return (f"Duplicate JSON File: hash {digest} is already ingested in {dbms} ({found[1]} rows); "
                    "nothing was written")
    if (Path(node.get_var("watch_dir") or "") / name).is_file():
        return f"Duplicate JSON File: {name} is already waiting in the watch directory; nothing was written"
    return ""
