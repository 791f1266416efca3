"""File transfer between nodes: verified chunks, atomic arrival.

The sender splits a file into ``file`` frames (1 MiB by default), each with
the transfer id, its offset and its SHA-256; the last one also carries the
whole file's SHA-256 and size. The receiver writes the chunks to a staging
file, checks every chunk, then the whole file, fsyncs it and only then
renames it into the named target directory (same filesystem, so the rename
is atomic). A watcher of the target directory therefore never sees a partial
file; a broken, corrupted or abandoned transfer leaves only its staging file,
which is removed.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from anynode.cancel import Cancel
from anynode.errors import AnyNodeError, ConfigError, QueryCancelled
from anynode.net.client import Dest, NetClient
from anynode.net.errors import TransferError

DEFAULT_CHUNK = 1024 * 1024
_TID = re.compile(r"[0-9a-f]{16,64}")


def safe_name(name: object) -> str:
    """``name`` if it is a plain file name; TransferError for paths and traversal."""
    if not isinstance(name, str) or not name or name in (".", ".."):
        raise TransferError(f"file name {name!r} is not a plain file name", "give a name such as data.json")
    if "/" in name or "\\" in name or "\0" in name or ".." in name or len(name.encode()) > 255:
        raise TransferError(f"file name {name!r} refused: no '/', '\\', '..' or NUL, at most 255 bytes",
                            "send a plain file name; the receiver chooses the directory")
    return name


@dataclass
class _Incoming:
    """A transfer being received."""

    tid: str
    name: str
    target: Path
    staging: Path
    fh: IO[bytes]
    last_seen: float
    offset: int = 0
    closed: bool = False

    def __post_init__(self) -> None:
        self.hasher = hashlib.sha256()
        self.lock = threading.Lock()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class TransferReceiver:
    """Receives ``file`` frames into staging and publishes verified files.

    Args:
        staging_dir: where partial files live (``<transfer id>.part``).
        targets: the directories a sender may name, by key (e.g.
            ``{"watch": watch_dir, "prep": prep_dir}``); same filesystem as
            staging, so publication is one atomic rename.
        abandon_after: seconds without a chunk after which :meth:`sweep`
            drops a transfer and its staging file.
        max_file_size: refuse files larger than this (None: no limit).
    """

    def __init__(self, staging_dir: str | Path, targets: Mapping[str, str | Path], *,
                 abandon_after: float = 60.0, max_file_size: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not targets:
            raise ConfigError("a transfer receiver needs at least one target directory")
        self.staging_dir = Path(staging_dir)
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        self.targets = {key: Path(p) for key, p in targets.items()}
        for key, path in self.targets.items():
            path.mkdir(parents=True, exist_ok=True)
            if path.stat().st_dev != self.staging_dir.stat().st_dev:
                raise ConfigError(f"target '{key}' ({path}) is not on the filesystem of the staging dir "
                                  f"({self.staging_dir}), so files cannot be renamed into place atomically",
                                  "put the staging dir beside the target directories")
        self.abandon_after = abandon_after
        self.max_file_size = max_file_size
        self._clock = clock
        self._active: dict[str, _Incoming] = {}
        self._lock = threading.Lock()
        self.completed = 0
        self.failed = 0

    def handle(self, header: dict[str, Any], payload: bytes) -> tuple[dict[str, Any], bytes]:
        """The FrameServer handler for ``file`` frames (chunks and aborts)."""
        tid = header.get("transfer")
        if not isinstance(tid, str) or not _TID.fullmatch(tid):
            raise TransferError(f"file frame has no valid transfer id ({tid!r:.40})")
        if header.get("op", "chunk") == "abort":
            return {"transfer": tid, "aborted": self.abort(tid)}, b""
        state = self._state_for(tid, header)
        with state.lock:
            if state.closed:
                raise TransferError(f"transfer {tid} of {state.name} was abandoned or failed earlier",
                                    "send the file again")
            try:
                return self._chunk(state, header, payload), b""
            except AnyNodeError:
                self._drop(state)
                raise
            except OSError as exc:
                self._drop(state)
                raise TransferError(f"receiving {state.name} failed on this node: {exc}") from None

    def sweep(self) -> int:
        """Drop transfers idle longer than ``abandon_after``; return how many."""
        limit = self._clock() - self.abandon_after
        with self._lock:
            stale = [s for s in self._active.values() if s.last_seen < limit]
        dropped = 0
        for state in stale:
            if state.lock.acquire(blocking=False):  # a chunk being written is not stale
                try:
                    if not state.closed and state.last_seen < limit:
                        self._drop(state)
                        dropped += 1
                finally:
                    state.lock.release()
        return dropped

    def abort(self, tid: str) -> bool:
        """Drop transfer ``tid`` and its staging file; False if unknown."""
        with self._lock:
            state = self._active.get(tid)
        if state is None:
            return False
        with state.lock:
            self._drop(state)
        return True

    def close(self) -> None:
        """Abort every transfer in progress (the server is stopping)."""
        with self._lock:
            tids = list(self._active)
        for tid in tids:
            self.abort(tid)

    def active(self) -> list[dict[str, Any]]:
        """Transfers in progress: id, name, bytes received."""
        with self._lock:
            return [{"transfer": s.tid, "name": s.name, "received": s.offset} for s in self._active.values()]

    # -- internals ----------------------------------------------------------

    def _state_for(self, tid: str, header: dict[str, Any]) -> _Incoming:
        with self._lock:
            state = self._active.get(tid)
            if state is not None:
                return state
            if header.get("offset") != 0:
                raise TransferError(f"transfer {tid} is unknown here (abandoned after "
                                    f"{self.abandon_after:g} s idle, or never started)", "send the file again")
            name = safe_name(header.get("name"))
            key = header.get("target")
            target = self.targets.get(key) if isinstance(key, str) else None
            if target is None:
                raise TransferError(f"unknown transfer target {key!r}", f"use one of {sorted(self.targets)}")
            staging = self.staging_dir / f"{tid}.part"
            try:
                fh = open(staging, "xb")
            except FileExistsError:
                raise TransferError(f"transfer {tid} already has a staging file") from None
            state = _Incoming(tid, name, target, staging, fh, self._clock())
            self._active[tid] = state
            return state

    def _chunk(self, state: _Incoming, header: dict[str, Any], payload: bytes) -> dict[str, Any]:
        offset, digest = header.get("offset"), header.get("sha256")
        if offset != state.offset:
            raise TransferError(f"chunk of {state.name} at offset {offset!r}, expected {state.offset}")
        if digest != hashlib.sha256(payload).hexdigest():
            raise TransferError(f"chunk of {state.name} at offset {offset} fails its SHA-256 check",
                                "the data was corrupted on the way; send the file again")
        if self.max_file_size is not None and state.offset + len(payload) > self.max_file_size:
            raise TransferError(f"{state.name} is larger than the limit of {self.max_file_size} bytes")
        state.fh.write(payload)
        state.hasher.update(payload)
        state.offset += len(payload)
        state.last_seen = self._clock()
        if not header.get("last"):
            return {"transfer": state.tid, "received": state.offset}
        size, whole = header.get("file_size"), header.get("file_sha256")
        if size != state.offset:
            raise TransferError(f"{state.name}: received {state.offset} bytes but the sender sent {size!r}")
        if whole != state.hasher.hexdigest():
            raise TransferError(f"{state.name} fails its whole-file SHA-256 check", "send the file again")
        state.fh.flush()
        os.fsync(state.fh.fileno())
        state.fh.close()
        final = state.target / state.name
        os.replace(state.staging, final)
        _fsync_dir(state.target)
        state.closed = True
        with self._lock:
            self._active.pop(state.tid, None)
            self.completed += 1
        return {"transfer": state.tid, "done": True, "name": state.name, "size": state.offset,
                "sha256": whole}

    def _drop(self, state: _Incoming) -> None:
        """Forget a transfer and delete its staging file (caller holds state.lock)."""
        state.closed = True
        with self._lock:
            if self._active.pop(state.tid, None) is not None:
                self.failed += 1
        try:
            state.fh.close()
        except OSError:
            pass
        try:
            state.staging.unlink()
        except FileNotFoundError:
            pass


@dataclass(frozen=True)
class TransferReport:
    """What a completed send delivered."""

    name: str
    size: int
    sha256: str
    chunks: int
    seconds: float


def send_file(client: NetClient, dest: Dest, path: str | Path, *, name: str | None = None,
              target: str = "watch", chunk_size: int = DEFAULT_CHUNK,
              timeout: float = 30.0, cancel: Cancel | None = None) -> TransferReport:
    """Send ``path`` to ``dest`` as verified chunks; return once it is published.

    ``timeout`` bounds each chunk's round trip. On failure the receiver is
    asked to abort and the error (Unreachable, RemoteTimeout, TransferError,
    ...) says how far the transfer got. ``cancel`` (Ctrl-C) stops it before
    the next chunk the same way (QueryCancelled).
    """
    src = Path(path)
    name = safe_name(src.name if name is None else name)
    if not 0 < chunk_size <= client.codec.max_frame_size - 4096:
        raise TransferError(f"chunk size {chunk_size} must be between 1 and the frame limit minus 4 KiB")
    tid = secrets.token_hex(16)
    whole = hashlib.sha256()
    offset = chunks = 0
    started = time.monotonic()
    base = {"kind": "file", "op": "chunk", "transfer": tid, "name": name, "target": target}
    try:
        with open(src, "rb") as fh:
            data = fh.read(chunk_size)
            while True:
                following = fh.read(chunk_size) if data else b""
                whole.update(data)
                header = dict(base, offset=offset, sha256=hashlib.sha256(data).hexdigest())
                if not following:
                    header.update(last=True, file_size=offset + len(data), file_sha256=whole.hexdigest())
                if cancel is not None and cancel.cancelled:
                    raise QueryCancelled(f"cancelled ({cancel.reason})")
                client.request(dest, header, data, timeout)
                offset += len(data)
                chunks += 1
                if not following:
                    break
                data = following
    except AnyNodeError as exc:
        _abort_quietly(client, dest, tid)
        raise type(exc)(f"sending {name} to {dest} failed after {offset} bytes: {exc.message}",
                        exc.hint) from None
    except OSError as exc:
        _abort_quietly(client, dest, tid)
        raise TransferError(f"cannot read {src}: {exc.strerror or exc}") from None
    return TransferReport(name, offset, whole.hexdigest(), chunks, time.monotonic() - started)


def _abort_quietly(client: NetClient, dest: Dest, tid: str) -> None:
    """Ask the receiver to drop a failed transfer now rather than at its sweep."""
    try:
        client.request(dest, {"kind": "file", "op": "abort", "transfer": tid}, b"", 2.0)
    except AnyNodeError:
        pass
