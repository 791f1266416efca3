"""Read the rows of a JSON data file in batches, whatever its shape.

Accepted: a JSON array of objects, one object, JSON lines (one object per
line) or objects one after the other over several lines; plain or gzip.
Leading whitespace is skipped as it is read, however much there is. Small
files are parsed whole with orjson (fastest); bigger ones are streamed in
batches by :mod:`anynode.ingest.stream`, so memory stays bounded whatever the
file size. Every problem is an IngestError with AnyLog status 67 ("Failed to
analyze JSON file") saying where it is.

Only regular files are read: the open never follows a symbolic link
(``O_NOFOLLOW``) and never waits for a pipe's writer (``O_NONBLOCK``), and
what it opened is checked with ``fstat``. A ``cancel`` callable, asked
between chunks, stops a read early with :class:`IngestCancelled`.
"""

from __future__ import annotations

import codecs
import errno
import gzip
import hashlib
import io
import os
import stat
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from anynode.codes import Code
from anynode.errors import IngestError
from anynode.ingest.rows import DEFAULT_LIMITS, ReadLimits, bad, check_start, json_error, kind_of, objects
from anynode.ingest.stream import stream_batches

_GZIP_MAGIC = b"\x1f\x8b"


class IngestCancelled(IngestError):
    """The read was stopped by its ``cancel`` callable (the node is stopping); nothing was inserted."""

    http_status = 503

    def __init__(self, message: str = "Ingest stopped: the node is stopping") -> None:
        super().__init__(message, hint="the file is read again at the next start", code=Code.PROCESS_FAILURE)


def file_kind(mode: int) -> str:
    """What an ``st_mode`` is, in words: "a regular file", "a symbolic link", "a named pipe (FIFO)" ..."""
    for test, words in ((stat.S_ISREG, "a regular file"), (stat.S_ISLNK, "a symbolic link"),
                        (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                        (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device")):
        if test(mode):
            return words
    return "not a regular file"


def not_regular(name: str, mode: int) -> IngestError:
    """The 67 refusal of an entry that is not a regular file; says what it is, never what it holds."""
    return bad(f"'{name}' is {file_kind(mode)}, not a regular file",
               hint="the operator reads regular files only; it never follows links nor reads pipes or devices")


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def open_regular(path: str | Path) -> IO[bytes]:
    """Open a regular file for reading bytes: never through a symbolic link, never waiting on a pipe.

    Raises:
        IngestError: 67 when it is missing, unreadable or not a regular file.
    """
    name = Path(path).name
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise not_regular(name, stat.S_IFLNK) from None
        raise bad(f"Cannot read {name}: {exc.strerror}", hint="check that the file exists and is readable") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise not_regular(name, mode)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def open_data(path: str | Path) -> IO[bytes]:
    """Open a data file (a regular file, see :func:`open_regular`) for reading bytes, decompressing gzip."""
    f = open_regular(path)
    magic = f.read(2)
    f.seek(0)
    if magic == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    if str(path).lower().endswith(".gz"):
        f.close()
        raise bad(f"{Path(path).name} is named .gz but is not gzip-compressed",
                  hint="compress it with gzip or drop .gz")
    return f


def _chunks(f: IO[bytes], size: int, first: bytes = b"",
            cancel: Callable[[], bool] | None = None) -> Iterator[bytes]:
    """The file's bytes in pieces; damaged gzip data becomes an IngestError, ``cancel()`` IngestCancelled."""
    if first:
        yield first
    while True:
        if cancel is not None and cancel():
            raise IngestCancelled()
        try:
            piece = f.read(size)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise bad(f"The compressed file is damaged or truncated ({exc})", hint="send the file again") from exc
        if not piece:
            return
        yield piece


def file_hash(path: str | Path, dbms: str, table: str, chunk_bytes: int = 2**20,
              cancel: Callable[[], bool] | None = None) -> str:
    """AnyLog's file hash: md5 of ``"<dbms>.<table>"`` followed by the (decompressed) content."""
    h = hashlib.md5(f"{dbms}.{table}".encode(), usedforsecurity=False)
    with open_data(path) as f:
        for piece in _chunks(f, chunk_bytes, cancel=cancel):
            h.update(piece)
    return h.hexdigest()


def small_file(path: str | Path, limit: int) -> bytes | None:
    """The whole (decompressed) content of a file of at most ``limit`` bytes, read once; None when bigger.

    A small file is then hashed and parsed from memory: one open and one read
    instead of two of each (every system call is a moment another thread may
    take the GIL for milliseconds).

    Raises:
        IngestError: 67 as :func:`open_data` and :func:`read_batches` would (unreadable, damaged gzip).
    """
    with open_data(path) as f:
        try:
            data = f.read(limit + 1)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise bad(f"The compressed file is damaged or truncated ({exc})", hint="send the file again") from exc
    return data if len(data) <= limit else None


def body_hash(body: bytes, dbms: str, table: str) -> str:
    """The file hash of a JSON body that arrives without a file (REST), same rule as :func:`file_hash`."""
    return hashlib.md5(f"{dbms}.{table}".encode() + body, usedforsecurity=False).hexdigest()


def read_batches(source: str | Path | bytes, limits: ReadLimits = DEFAULT_LIMITS,
                 cancel: Callable[[], bool] | None = None) -> Iterator[list[dict[str, Any]]]:
    """Yield the rows of a file (a path) or of a JSON body (bytes) as lists of dicts.

    Leading whitespace (and a UTF-8 BOM) is dropped chunk by chunk, so a file
    that starts with megabytes of blanks is read in bounded memory; line
    numbers in errors still count the lines skipped. ``cancel()`` is asked
    before each chunk is read.

    Raises:
        IngestError: code 67 with the line/position of the problem.
        IngestCancelled: ``cancel()`` said stop.
    """
    f: IO[bytes] = io.BytesIO(source) if isinstance(source, bytes) else open_data(source)
    with f:
        chunks = _chunks(f, limits.chunk_bytes, cancel=cancel)
        skipped_lines, first = _skip_blank(chunks)
        head = [first]
        size = len(first)
        while size <= limits.whole_file_bytes:
            piece = next(chunks, b"")
            if not piece:
                break
            head.append(piece)
            size += len(piece)
        if size <= limits.whole_file_bytes:
            yield from _whole(b"".join(head), limits, skipped_lines)
        else:

            yield from stream_batches(_then(head, chunks), limits, skipped_lines)


def _skip_blank(chunks: Iterator[bytes]) -> tuple[int, bytes]:
    """Drop a BOM and the whitespace before the first significant byte; (newlines dropped, the rest of that chunk).

    Only the current chunk is held, so memory stays at one chunk however long the blank prefix.
    """
    newlines = 0
    for i, piece in enumerate(chunks):
        if i == 0 and piece.startswith(codecs.BOM_UTF8):
            piece = piece[3:]
        rest = piece.lstrip(b" \t\r\n")
        if rest:
            blank = len(piece) - len(rest)
            line_start = piece.rfind(b"\n", 0, blank) + 1
            if blank - line_start <= 1024:  # keep the first line whole: its column numbers stay right
                rest = piece[line_start:]
            return newlines + piece.count(b"\n", 0, line_start), rest
        newlines += piece.count(b"\n")
    return newlines, b""


def _then(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from first
    yield from rest


# --- whole files ----------------------------------------------------
def _whole(data: bytes, limits: ReadLimits, line_base: int = 0) -> Iterator[list[dict[str, Any]]]:
    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    first = check_start(data)
    if first not in (b"[", b"{"):
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            shown = data.lstrip()[:20].decode("utf-8", "replace")
            raise bad(f"Not JSON: the file starts with {shown!r}") from None
        raise bad(f"The file holds {kind_of(value)}, not JSON objects")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if first == b"{" and exc.msg.startswith("unexpected content after document"):

            yield from stream_batches(iter([data]), limits, line_base)  # JSON lines or objects one after another
            return
        raise json_error(exc, data, line_base) from None
    if isinstance(value, dict):
        yield [value]
        return
    rows = objects(value)
    if not rows:
        raise bad("The JSON array is empty: no rows", hint="send at least one object")
    step = limits.batch_rows
    for i in range(0, len(rows), step):
        yield rows[i:i + step]
