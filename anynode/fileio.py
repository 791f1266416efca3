"""Crash-safe rewrites of the files the node keeps (local ledger copy, state).

:func:`atomic_write` never leaves a partial file at ``path``: the new content
goes to a temp file in the same directory, is flushed and fsynced, the current
file is hard-linked as ``<path>.backup`` (the previous generation), then the
temp file replaces ``path`` with ``os.replace`` and the directory is fsynced so
the rename itself survives a power cut. A process killed at any instant leaves
either the old or the new ``path`` (plus, perhaps, a stray temp file).

:func:`load_with_fallback` reads ``path`` and, when it is empty or does not
parse, warns and uses ``<path>.backup`` instead; it also removes temp files a
killed writer left behind.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from anynode.errors import StoreError

T = TypeVar("T")
_MISSING: object = object()
BACKUP_SUFFIX = ".backup"
_TMP_SUFFIX = ".tmp"


def backup_path(path: str | Path) -> Path:
    """Where the previous generation of ``path`` is kept."""
    path = Path(path)
    return path.with_name(path.name + BACKUP_SUFFIX)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def atomic_write(path: str | Path, data: bytes, *, keep_backup: bool = True) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file, never a mix.

    With ``keep_backup`` the replaced generation is kept as ``<path>.backup``.
    """
    path = Path(path)
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=_TMP_SUFFIX, dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if keep_backup and path.exists():
            _link_backup(path)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(directory)


def _link_backup(path: Path) -> None:
    """Make ``<path>.backup`` the current ``path`` without a moment with no backup."""
    backup = backup_path(path)
    link = path.with_name(f"{_temp_prefix(path)}backup{_TMP_SUFFIX}")
    link.unlink(missing_ok=True)
    try:
        os.link(path, link)
    except OSError:  # a filesystem without hard links: copy instead
        with open(path, "rb") as src, open(link, "wb") as dst:
            dst.write(src.read())
            dst.flush()
            os.fsync(dst.fileno())
    os.replace(link, backup)


def load_with_fallback(
    path: str | Path,
    parse: Callable[[bytes], T],
    logger: logging.Logger | None = None,
    default: T | object = _MISSING,
) -> T:
    """Parse ``path``; if it is missing, empty or unparseable, warn and parse ``<path>.backup``.

    Returns ``default`` when neither file exists (FileNotFoundError without a
    default). Raises StoreError when files exist but none parses: losing data
    silently is worse than stopping.
    """
    path = Path(path)
    log = logger or logging.getLogger("anynode.fileio")
    _remove_stray_temps(path, log)
    problems: list[str] = []
    exists = False
    for candidate in (path, backup_path(path)):
        try:
            data = candidate.read_bytes()
        except FileNotFoundError:
            if candidate == path:
                problems.append(f"{candidate} is missing")
            continue
        exists = True
        if not data:
            problems.append(f"{candidate} is empty")
            continue
        try:
            value = parse(data)
        except Exception as exc:  # noqa: BLE001 - any parse failure means "not a complete generation": try the next one
            problems.append(f"{candidate} does not parse ({type(exc).__name__}: {exc})")
            continue
        if problems:
            log.warning("%s; loaded the previous generation from %s", "; ".join(problems), candidate)
        return value
    if not exists:
        if default is not _MISSING:
            return default  # type: ignore[return-value]
        raise FileNotFoundError(f"{path} and {backup_path(path)} do not exist")
    raise StoreError(f"cannot load {path}: " + "; ".join(problems),
                     hint="restore the file from another node or a copy, or remove it to start empty")


def _remove_stray_temps(path: Path, log: logging.Logger) -> None:
    """Delete temp files of ``path`` left by a writer that was killed mid-write."""
    if not path.parent.is_dir():
        return
    prefix = _temp_prefix(path)
    for stray in path.parent.iterdir():
        if stray.name.startswith(prefix) and stray.name.endswith(_TMP_SUFFIX):
            log.warning("removing %s: the node was probably stopped while writing %s", stray.name, path.name)
            stray.unlink(missing_ok=True)
