"""What the operator does with a file around its ingest: which names it takes, where files go after.

Kept apart from :mod:`anynode.services.operator` (events, the loop, the pool)
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
"""

from __future__ import annotations

import gzip
import os
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from anynode.errors import IngestError

OWN_MEMBER = "0"  # this node's cluster member id: 0 until metadata (cluster policies) exists
WORK = ".work"  # files being ingested; what is left here after a crash is put through again
_SKIP_SUFFIXES = (".tmp", ".transfer", ".part", ".swp", ".err.txt")


@dataclass(frozen=True)
class OperatorConfig:
    """What ``run operator`` was told (see the command's help for each option)."""

    watch_dir: Path
    archive_dir: Path
    bkup_dir: Path
    error_dir: Path
    archive_json: bool = True
    compress_json: bool = True
    delete_json: bool = False
    move_json: bool = False
    dbms_name: str | None = None
    table_name: str | None = None
    limit_tables: tuple[str, ...] = ()
    create_table: bool = True
    threads: int = 1
    rescan: float = 5.0

    @property
    def work_dir(self) -> Path:
        """Where files are claimed to while they are ingested."""
        return self.watch_dir / WORK


def is_data_file(name: str) -> bool:
    """True for names the operator takes (``*.json``, ``*.json.gz``, not hidden, not partial)."""
    low = name.lower()
    return not name.startswith(".") and low.endswith((".json", ".json.gz")) and not low.endswith(_SKIP_SUFFIXES)


def rename_for_options(config: OperatorConfig, path: Path) -> Path:
    """Apply ``dbms_name`` / ``table_name``: the file's rows go to that database or table.

    The file is renamed (in the work directory), so the name it is archived or
    refused under says where its rows went.
    """
    if not config.dbms_name and not config.table_name:
        return path
    parts = path.name.split(".")
    if len(parts) < 3:
        return path  # too few sections: the name check refuses it with 119
    parts[0] = config.dbms_name or parts[0]
    parts[1] = config.table_name or parts[1]
    target = path.with_name(".".join(parts))
    os.replace(path, target)
    return target


def table_key(config: OperatorConfig, name: str) -> str | None:
    """``dbms.table`` a file named ``name`` will go to, or None when the name cannot say."""
    parts = name.split(".")
    if len(parts) < 3 or not parts[0] or not parts[1]:
        return None
    return f"{config.dbms_name or parts[0].lower()}.{config.table_name or parts[1].lower()}"


def already_inserted(path: Path, member: str = OWN_MEMBER) -> str | None:
    """The name to archive ``path`` under when its rows are in the database already, else None.

    An 8-section name whose member section is ``@`` was written after a
    streaming write-immediate inserted its rows (spec 6.3 step 3): ingesting
    it would insert them twice. Its archive name carries ``member`` in
    place of ``@``. A name that is malformed otherwise gives None, so the
    usual name check refuses it with 119.
    """
    from dataclasses import replace

    from anynode.ingest.naming import parse_file_name

    parts = path.name.split(".")
    if len(parts) < 8 or parts[5] != "@":
        return None
    try:
        name = parse_file_name(path)
    except IngestError:
        return None
    return str(replace(name, member=member)) if name.member == "@" else None


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
        tmp = target.with_name(f".{target.name}.{threading.get_ident()}.tmp")
        with open(path, "rb") as src, gzip.open(tmp, "wb", compresslevel=3) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(tmp, target)
        path.unlink()
        return target
    target = target_dir / name
    os.replace(path, target)
    return target


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
        """``<name>.err_<code>.<unique>.json[.gz]`` for ``path`` (a directory keeps ``.json``)."""
        name = path.name
        suffix = ".json.gz" if name.endswith(".json.gz") else ".json"
        stem = name[: -len(suffix)] if name.endswith(suffix) else name
        return self.directory / f"{stem}.err_{code}.{self._unique()}{suffix}"

    def put(self, path: Path, exc: IngestError) -> Path:
        """Move ``path`` aside and write ``<target>.err.txt``: file, code, error, hint, time.

        Raises:
            OSError: the file could not be moved (the caller logs it).
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.target(path, exc.anylog_code)
        shutil.move(str(path), target)
        when = datetime.now(timezone.utc).isoformat(timespec="seconds")
        text = (f"file: {path.name}\ncode: {exc.anylog_code}\nerror: {exc.message}\n"
                + (f"hint: {exc.hint}\n" if exc.hint else "") + f"time: {when}\n")
        Path(str(target) + ".err.txt").write_text(text, encoding="utf-8")
        return target
