"""What the operator does with a file around its ingest: which names it takes, where files go after.

Kept apart from :mod:`anynode.operator.service` (events, the loop, the pool)
so each stays readable. Everything here works on one file and needs no lock
except the error-name counter, which :class:`ErrorDir` holds.

* a file named with member ``@`` (its rows were inserted already, by a
  streaming write-immediate; AnyLog's rule) is not ingested again: it is put
  away under its name with this node's member id in place of ``@``;
* ingested files go to ``archive/YY/MM/DD/`` under their 8-section name (gzip
  with ``compress_json``), or to ``bkup_dir`` (``archive_json = false``), or
  are deleted (``delete_json``);
* refused files go to the error directory as AnyLog names them,
  ``<name>.err_<code>.<unique>.json[.gz]``, with ``<that name>.err.txt``
  beside it: the file, the code, what was wrong, the hint and the time.
  A name too long for that is shortened (the reason file keeps it whole).

Only regular files are taken: an entry is looked at with ``lstat`` (a
symbolic link is never followed), and :func:`refusal` says why anything
else (link, pipe, socket, device, directory) is refused, without opening it.
"""

from __future__ import annotations

import errno
import gzip
import os
import shutil
import stat
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from anynode.codes import Code
from anynode.errors import IngestError
from anynode.ingest.naming import FileName
from anynode.ingest.reader import not_regular, open_regular
from anynode.store.catalog import DatabaseCatalog

OWN_MEMBER = "0"  # this node's cluster member id: 0 until metadata (cluster policies) exists
WORK = ".work"  # files being ingested; what is left here after a crash is put through again
_SKIP_SUFFIXES = (".tmp", ".transfer", ".part", ".swp", ".err.txt")
REASON = ".err.txt"  # the reason file's suffix, beside the refused file
_LONGEST_ID = 10**18  # a file id as long as tsd_info's BIGINT gets
# gzip level of archived files: 1 compresses JSON 25-40% faster than 3 for 5-7% more bytes (measured)
ARCHIVE_LEVEL = 1
_ONE_PIECE = 16 * 2**20  # files up to this size are compressed in one call


@dataclass(frozen=True)
class OperatorConfig:
    """What ``run operator`` was told (see the command's help for each option).

    No field has a default: the declaration of ``run operator`` holds them.
    """

    watch_dir: Path
    archive_dir: Path
    bkup_dir: Path
    error_dir: Path
    archive_json: bool
    compress_json: bool
    delete_json: bool
    dbms_name: str | None
    table_name: str | None
    limit_tables: tuple[str, ...]
    create_table: bool
    threads: int
    rescan: float

    @property
    def work_dir(self) -> Path:
        """Where files are claimed to while they are ingested."""
        return self.watch_dir / WORK


def is_data_file(name: str) -> bool:
    """True for names the operator takes (``*.json``, ``*.json.gz``, not hidden, not partial)."""
    low = name.lower()
    return not name.startswith(".") and low.endswith((".json", ".json.gz")) and not low.endswith(_SKIP_SUFFIXES)


def refusal(path: Path) -> IngestError | None:
    """Why the entry at ``path`` is not taken (it is not a regular file), or None; never follows a link.

    Raises:
        FileNotFoundError: it is gone (taken already).
    """
    mode = os.lstat(path).st_mode
    return None if stat.S_ISREG(mode) else not_regular(path.name, mode)


def name_max(directory: Path) -> int:
    """The longest file name (bytes) the file system of ``directory`` takes."""
    try:
        return int(os.pathconf(directory, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def check_archive_name(config: OperatorConfig, name: FileName | str) -> None:
    """Refuse (119) a file whose archived name would be too long to create, before any row is written.

    ``name`` is the parsed name (its archived form is computed with the longest
    hash and file id) or the archived name itself.
    """
    if config.delete_json:
        return
    if isinstance(name, FileName):
        longest = name.with_hash(name.hash if name.hash != "0" else "0" * 32).with_tsd(OWN_MEMBER, _LONGEST_ID)
        archived = str(longest)
    else:
        archived = name
    if config.compress_json and not archived.endswith(".gz"):
        archived += ".gz"
    directory = config.archive_dir if config.archive_json else config.bkup_dir
    limit = name_max(directory if directory.exists() else directory.parent)
    size = len(os.fsencode(archived))
    if size > limit:
        raise IngestError(f"File name is too long: archived, it would be {size} bytes, more than the {limit} "
                          f"the file system allows", hint="shorten the source or instructions section of the name",
                          code=Code.FILE_NAME_STRUCTURE)


def check_table(config: OperatorConfig, catalog: DatabaseCatalog, seen: set[str], name: FileName) -> None:
    """Refuse a file whose table ``limit_tables`` excludes (130), or that needs a table while create_table is off (27).

    ``seen`` holds the tables this operator ingested into already.
    """
    key = name.table_key
    if config.limit_tables and key not in config.limit_tables and f"{name.dbms}.*" not in config.limit_tables:
        raise IngestError(f"Table excluded: {key} is not in limit_tables",
                          hint=f"limit_tables allows: {', '.join(config.limit_tables)}", code=Code.TABLE_EXCLUDED)
    if not config.create_table and key not in seen and catalog.is_connected(name.dbms) \
            and name.table not in catalog.tables(name.dbms):
        raise IngestError(f"Table {key} does not exist and create_table is false",
                          hint="create it first, or run the operator with create_table = true", code=Code.JSON_TO_SQL)


def parse_arrival(name: str | Path) -> FileName | IngestError:
    """The parsed name of a file that arrived, or why it is refused (raised when its turn comes)."""
    try:
        return FileName.parse(name)
    except IngestError as exc:
        return exc


def target(config: OperatorConfig, name: FileName) -> FileName:
    """``name`` with ``dbms_name`` / ``table_name`` applied: the name that says where the rows go.

    Raises:
        IngestError: 119 when the database or table named by the options is not a name.
    """
    return name.retarget(config.dbms_name, config.table_name)


def rename_for_options(config: OperatorConfig, path: Path, name: FileName) -> tuple[Path, FileName]:
    """Apply ``dbms_name`` / ``table_name``: the file's rows go to that database or table.

    The file is renamed (in the work directory) to its retargeted name, so the
    name it is archived or refused under says where its rows went.

    Raises:
        IngestError: 119 when the new name is not a name or too long for the file system.
    """
    new = target(config, name)
    if new is name:
        return path, name
    moved = path.with_name(str(new))
    try:
        os.replace(path, moved)
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        raise IngestError(f"File name is too long with dbms_name/table_name applied ({exc.strerror})",
                          hint="shorten the source or instructions section of the name",
                          code=Code.FILE_NAME_STRUCTURE) from None
    return moved, new


def table_key(config: OperatorConfig, name: FileName | IngestError) -> str | None:
    """``dbms.table`` a file of this (parsed) name will go to, or None when the name cannot say."""
    if isinstance(name, IngestError):
        return None
    try:
        return target(config, name).table_key
    except IngestError:
        return None


def already_inserted(name: FileName, member: str = OWN_MEMBER) -> str | None:
    """The name to archive a file under when its rows are in the database already, else None.

    An 8-section name whose member section is ``@`` was written after a
    streaming write-immediate inserted its rows (spec 6.3 step 3): ingesting
    it would insert them twice. Its archive name carries ``member`` in
    place of ``@``.
    """
    return str(name.with_member(member)) if name.member == "@" else None


def put_away(config: OperatorConfig, path: Path, archived_name: str | None) -> Path | None:
    """Archive, back up or delete an ingested file, as the options say; returns where it went."""
    if config.delete_json:
        path.unlink(missing_ok=True)
        return None
    name = archived_name or path.name
    if config.archive_json:
        target_dir = config.archive_dir / datetime.now(timezone.utc).strftime("%y/%m/%d")
    else:
        target_dir = config.bkup_dir
    target_dir.mkdir(parents=True, exist_ok=True)
    if config.compress_json and not name.endswith(".gz"):
        target = target_dir / (name + ".gz")
        tmp = target.with_name(f".put-{os.getpid()}-{threading.get_ident()}.tmp")  # short: the name may be long
        with open_regular(path) as src:
            data = src.read(_ONE_PIECE + 1)
            if len(data) <= _ONE_PIECE:  # one call, the GIL released throughout; few system calls
                with open(tmp, "wb") as dst:
                    dst.write(gzip.compress(data, compresslevel=ARCHIVE_LEVEL))
            else:
                with gzip.open(tmp, "wb", compresslevel=ARCHIVE_LEVEL) as dst:
                    dst.write(data)
                    shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(tmp, target)
        path.unlink()
        return target
    target = target_dir / name
    os.replace(path, target)
    return target


def archived_copy(config: OperatorConfig, path: Path, file_hash: str) -> Path | None:
    """The archive copy of ``path`` (in .work/), already ingested, when a stop came after :func:`put_away`
    wrote the copy and before it removed the file; None when there is none.

    Only gzip copies are written beside the file (the other ways are one rename). A copy is named with the
    file's hash as its fourth section and lies in the archive's folder of the day it was made: the day the
    file was taken into .work/ (its ctime) up to today, newest first, at most 8 days.
    """
    if config.delete_json or not (config.archive_json and config.compress_json) or not file_hash:
        return None
    try:
        first = datetime.fromtimestamp(path.stat().st_ctime, timezone.utc).date()
    except OSError:
        return None
    day = datetime.now(timezone.utc).date()
    for _ in range(8):
        try:
            with os.scandir(config.archive_dir / day.strftime("%y/%m/%d")) as entries:
                for entry in entries:
                    parts = entry.name.split(".")
                    if len(parts) > 4 and parts[3] == file_hash and entry.name.endswith(".gz"):
                        return Path(entry.path)
        except OSError:
            pass
        if day <= first:
            break
        day -= timedelta(days=1)
    return None


class ErrorDir:
    """Moves refused files into the error directory with their reason; names never collide."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._last = 0

    def _unique(self) -> int:
        """AnyLog's ``<unique>``: epoch seconds, made strictly increasing."""
        with self._lock:
            self._last = max(self._last + 1, int(time.time()))
            return self._last

    def target(self, path: Path, code: int) -> Path:
        """``<name>.err_<code>.<unique>.json[.gz]`` for ``path`` (a directory keeps ``.json``).

        The name is cut short (ending in ``~``) when it and its ``.err.txt``
        would not fit the file system's longest name.
        """
        name = path.name
        suffix = ".json.gz" if name.endswith(".json.gz") else ".json"
        stem = name[: -len(suffix)] if name.endswith(suffix) else name
        tail = f".err_{code}.{self._unique()}{suffix}"
        room = name_max(self.directory) - len(REASON) - len(tail)
        if len(os.fsencode(stem)) > room:
            stem = stem[:room]
            while len(os.fsencode(stem + "~")) > room:
                stem = stem[:-1]
            stem += "~"
        return self.directory / f"{stem}{tail}"

    def put(self, path: Path, exc: IngestError) -> Path:
        """Move ``path`` aside and write ``<target>.err.txt``: file, code, error, hint, time.

        The entry itself is moved, whatever it is: a symbolic link is moved as
        a link, never followed, and a pipe is never opened.

        Raises:
            OSError: the file could not be moved (the caller reports it).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.target(path, exc.anylog_code)
        when = datetime.now(timezone.utc).isoformat(timespec="seconds")
        text = (f"file: {path.name}\ncode: {exc.anylog_code}\nerror: {exc.message}\n"
                + (f"hint: {exc.hint}\n" if exc.hint else "") + f"time: {when}\n")
        reason = Path(str(target) + REASON)
        tmp = self.directory / f".reason-{os.getpid()}-{threading.get_ident()}.tmp"  # short: the name may be long
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, reason)  # whole, and there before the file: whoever sees the file can read why
        try:
            _move(path, target)
        except BaseException:
            reason.unlink(missing_ok=True)
            raise
        return target


def _move(path: Path, target: Path) -> None:
    """Rename ``path`` to ``target``; across file systems, copy a regular file or re-create a link.

    Raises:
        OSError: it could not be moved (a pipe, socket or device cannot cross file systems).
    """
    try:
        os.rename(path, target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        os.symlink(os.readlink(path), target)
    elif stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        shutil.move(str(path), target)
        return
    else:
        raise OSError(errno.EXDEV, "a special file cannot be moved to another file system", str(path))
    os.unlink(path)
