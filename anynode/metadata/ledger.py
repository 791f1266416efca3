"""The node's local ledger: the policies it knows, one per line in ``!blockchain_file``.

Every change rewrites the whole file with :func:`anynode.fileio.atomic_write`
(temp file, fsync, rename, the previous generation kept as ``.backup``), so
the file on disk is always one complete generation: a process killed at any
instant leaves the old file or the new one, and a reader (in this process or
another) never opens a half-written or empty ledger, during a sync swap
included. A zero-byte or unparseable file (left by some other writer) is not
a generation: a node with a good generation in memory keeps serving it, and
a first load falls back to the backup.

Readers get :meth:`Ledger.policies`, an immutable snapshot (read-only
policies, see ``frozen.py``) of the generation in memory, reloaded when the
file changes (its inode, size or mtime). One Ledger per node:
:func:`ledger`. Writers (insert, delete, swap) hold the ledger's lock, check
against the generation they are about to replace, and install the new one in
memory as they write it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anynode.codes import Code
from anynode.fileio import atomic_write, load_with_fallback
from anynode.metadata.frozen import FrozenDict, freeze, loads_frozen
from anynode.metadata.index import PolicyIndex
from anynode.metadata.ledger_lines import Entry, parse_ledger
from anynode.metadata.policy import PolicyError, body, policy_id_of, policy_type, to_line
from anynode.safejson import MAX_DEPTH, deeper_than

if TYPE_CHECKING:
    from anynode.protocols import NodeView

Check = Callable[[dict[str, Any], Sequence[dict[str, Any]]], Any]
_EMPTY = b"\n"  # a ledger with no policy: not zero bytes, which would read as a broken file


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class Snapshot:
    """One generation of the ledger as loaded: its file, the file's stat when read, its bytes and policies."""

    path: Path
    key: tuple[int, int, int] | None
    data: bytes = b""
    entries: tuple[Entry, ...] = ()
    exists: bool = False
    policies: tuple[FrozenDict, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "policies", tuple(p for _, p in self.entries))

    @cached_property
    def ids(self) -> frozenset[str]:
        """The ids of the policies (for the duplicate check)."""
        return frozenset(i for i in map(policy_id_of, self.policies) if i is not None)

    @cached_property
    def types(self) -> tuple[str, ...]:
        """The type of each policy, lower-case, in file order."""
        return tuple(next(iter(p)).lower() for p in self.policies)

    @cached_property
    def by_type(self) -> dict[str, tuple[FrozenDict, ...]]:
        """The policies of each type (lower-case), in file order."""
        groups: dict[str, list[FrozenDict]] = {}
        for kind, policy in zip(self.types, self.policies, strict=True):
            groups.setdefault(kind, []).append(policy)
        return {kind: tuple(found) for kind, found in groups.items()}

    def of_types(self, types: Sequence[str] | None) -> list[FrozenDict]:
        """The policies whose type is one of ``types`` (lower-case), in file order; all of them for None."""
        if types is None:
            return list(self.policies)
        if len(types) == 1:
            return list(self.by_type.get(types[0], ()))
        wanted = set(types)
        return [p for kind, p in zip(self.types, self.policies, strict=True) if kind in wanted]

    @cached_property
    def index(self) -> PolicyIndex:
        """This generation's index by type and attribute value (``blockchain get ... where``), built per attribute."""
        return PolicyIndex(self.of_types)

    @cached_property
    def md5(self) -> str:
        """The md5 of the file's bytes: the metadata version, equal on nodes with the same ledger."""
        return hashlib.md5(self.data).hexdigest()


class Ledger:
    """The local ledger of one node, at the path ``path_of()`` gives (``!blockchain_file``)."""

    def __init__(self, path_of: Callable[[], str | None], log: logging.Logger | None = None) -> None:
        self._path_of = path_of
        self._log = log or logging.getLogger("anynode.metadata.ledger")
        self._lock = threading.RLock()
        self._snap: Snapshot | None = None
        self.generation = 0
        """How many generations were loaded or written (a reader can tell that the ledger changed)."""

    # -- reading -----------------------------------------------------------
    def path(self) -> Path:
        """The ledger file.

        Raises:
            PolicyError: 58 when ``blockchain_file`` is not set.
        """
        value = self._path_of()
        if not value:
            raise PolicyError(Code.NO_LOCAL_BLOCKCHAIN, "the variable 'blockchain_file' is not set",
                              hint="set it: blockchain_file = !blockchain_dir/blockchain.json")
        return Path(os.path.expanduser(value))

    def snapshot(self) -> Snapshot:
        """The current generation, reloaded first when the file changed since it was read."""
        path = self.path()
        snap = self._snap
        if snap is not None and snap.path == path and snap.key == _stat(path):
            return snap
        with self._lock:
            return self._current(path)

    def policies(self) -> list[dict[str, Any]]:
        """Every policy of the current generation, in file order: read-only dicts in a new list."""
        return list(self.snapshot().policies)

    def version(self) -> str | None:
        """The md5 of the ledger file (``get metadata version``); None when there is no file."""
        snap = self.snapshot()
        return snap.md5 if snap.exists else None

    def load(self, force: bool = False) -> bool:
        """Read the file again if it changed (or always, with ``force``); True when a generation was read."""
        path = self.path()
        with self._lock:
            snap = self._snap
            if not force and snap is not None and snap.path == path and snap.key == _stat(path):
                return False
            if snap is not None:  # read again, keeping this one should the file not parse
                self._snap = Snapshot(snap.path, (-1, -1, -1), snap.data, snap.entries, snap.exists)
            self._current(path)
            return True

    def read_file(self) -> list[dict[str, Any]]:
        """The policies of the file on disk now, read afresh (``blockchain read``).

        Raises:
            PolicyError: 58 when there is no file, 87 when it is not a complete ledger.
        """
        path = self.path()
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise _no_file(path) from None
        try:
            return [p for _, p in parse_ledger(data)]
        except ValueError as exc:
            raise PolicyError(Code.WRONG_POLICY,
                              f"{path}: {exc}", hint="'blockchain test' lists the problems") from None

    def problems(self) -> list[str]:
        """What is wrong with the file on disk, one line each (``blockchain test``); empty when it is sound.

        Raises:
            PolicyError: 58 when there is no file.
        """
        path = self.path()
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise _no_file(path) from None
        if not data.strip():
            return [f"{path} is empty"]
        found: list[str] = []
        seen: dict[str, int] = {}
        for n, raw in enumerate(data.split(b"\n"), 1):
            if not raw.strip():
                continue
            try:
                policy = loads_frozen(raw) if not deeper_than(raw, MAX_DEPTH) else None
                policy_type(policy)
            except (ValueError, PolicyError) as exc:
                found.append(f"line {n}: not a policy ({exc})")
                continue
            pid = policy_id_of(policy)
            if pid is None:
                found.append(f"line {n}: the policy has no id")
            elif pid in seen:
                found.append(f"line {n}: id {pid} is also on line {seen[pid]}")
            else:
                seen[pid] = n
        return found

    def _current(self, path: Path) -> Snapshot:
        """The generation for ``path`` (the lock is held): the one in memory if the file did not change.

        With a good generation of this file in memory, a file that no longer
        parses is not loaded (the one in memory is newer than its backup) and
        a file that was removed reads as an empty ledger. Without one (the
        first load), a broken file falls back to its backup.
        """
        snap = self._snap
        key = _stat(path)
        if snap is not None and snap.path == path and snap.key == key:
            return snap
        if snap is None or snap.path != path:
            snap = self._first(path, key)
        elif key is None:
            snap = Snapshot(path, None)
        else:
            try:
                data = path.read_bytes()
                snap = Snapshot(path, key, data, parse_ledger(data), True)
            except FileNotFoundError:
                snap = Snapshot(path, None)
            except ValueError as exc:
                self._log.warning("%s is not a complete ledger (%s): serving the generation in memory", path, exc)
                snap = Snapshot(path, key, snap.data, snap.entries, snap.exists)  # not retried until it changes
                self._snap = snap
                return snap
        self._snap = snap
        self.generation += 1
        return snap

    def _first(self, path: Path, key: tuple[int, int, int] | None) -> Snapshot:
        """The first load of ``path``: its backup when it is broken; temp files a killed writer left are removed."""
        def parse(data: bytes) -> tuple[bytes, tuple[Entry, ...]]:
            return data, parse_ledger(data)

        loaded = load_with_fallback(path, parse, self._log, default=None)
        if loaded is None:
            return Snapshot(path, key)
        return Snapshot(path, key, loaded[0], loaded[1], True)

    # -- writing -----------------------------------------------------------
    def insert(self, policy: dict[str, Any], check: Check | None = None, local: bool = False) -> FrozenDict:
        """Check ``policy`` (which has its id) against the ledger and append it; returns it as written.

        ``check`` runs first (the type's rules; it may complete the policy),
        then the id must be new; ``local`` marks it ``"ledger": "local"``.

        Raises:
            PolicyError: 70 for an id the ledger has, or what ``check`` raised.
        """
        path = self.path()
        with self._lock:
            snap = self._current(path)
            if check is not None:
                check(policy, snap.policies)
            pid = policy_id_of(policy)
            if pid is None:
                raise PolicyError(Code.WRONG_POLICY,
                                  "the policy has no id", hint="blockchain prepare policy !p gives it one")
            if pid in snap.ids:
                raise PolicyError(Code.DUPLICATE_OBJECT_ID, f"the ledger has a policy with id {pid} already",
                                  hint="'blockchain get * ' lists it; delete it first to replace it")
            if local:
                body(policy)["ledger"] = "local"
            line = to_line(policy).encode("utf-8")
            base = snap.data if snap.entries else b""
            if base and not base.endswith(b"\n"):
                base += b"\n"
            frozen = freeze(policy)
            self._commit(path, base + line + b"\n", (*snap.entries, (line, frozen)))
            return frozen

    def replace(self, policy_id: str, policy: dict[str, Any], check: Check | None = None) -> FrozenDict | None:
        """Put ``policy`` in the place of the policy with ``policy_id`` (it takes that id, and the old one's
        ``ledger`` mark unless it has its own); the new one as written, None when the ledger has no such policy.

        Raises:
            PolicyError: 87 when the types differ, or what ``check`` raised (run against the other policies).
        """
        path = self.path()
        with self._lock:
            snap = self._current(path)
            at = next((i for i, (_, p) in enumerate(snap.entries) if policy_id_of(p) == policy_id), None)
            if at is None:
                return None
            old = snap.entries[at][1]
            if policy_type(old) != policy_type(policy):
                raise PolicyError(Code.WRONG_POLICY, f"policy {policy_id} is of type {policy_type(old)}, the new "
                                  f"one of type {policy_type(policy)}", hint="replace a policy by one of its type")
            if check is not None:
                check(policy, [p for i, (_, p) in enumerate(snap.entries) if i != at])
            attrs = body(policy)
            attrs["id"] = policy_id
            if "ledger" in body(old) and "ledger" not in attrs:
                attrs["ledger"] = body(old)["ledger"]
            entries = (*snap.entries[:at], (to_line(policy).encode("utf-8"), freeze(policy)), *snap.entries[at + 1:])
            self._commit(path, b"".join(line + b"\n" for line, _ in entries), entries)
            return entries[at][1]

    def delete(self, policy_id: str) -> FrozenDict:
        """Remove the policy with ``policy_id``; returns it.

        Raises:
            PolicyError: 113 when the ledger has no such policy.
        """
        path = self.path()
        with self._lock:
            snap = self._current(path)
            keep = [e for e in snap.entries if policy_id_of(e[1]) != policy_id]
            if len(keep) == len(snap.entries):
                raise PolicyError(Code.POLICY_NOT_AVAILABLE, f"the local ledger has no policy with id {policy_id}",
                                  hint="'blockchain get *' lists the policies and their ids")
            gone = next(p for _, p in snap.entries if policy_id_of(p) == policy_id)
            self._commit(path, b"".join(line + b"\n" for line, _ in keep) or _EMPTY, tuple(keep))
            return gone

    def swap(self, data: bytes) -> int:
        """Make ``data`` (a whole ledger, e.g. the master's copy) the ledger; returns its policy count.

        Raises:
            PolicyError: 87 when ``data`` is not a complete ledger (the current one stays).
        """
        return self.swap_keeping(data, None)[0]

    def swap_keeping(self, data: bytes, keep: Callable[[FrozenDict], bool] | None) -> tuple[int, list[FrozenDict]]:
        """Make ``data`` the ledger, carrying over the current policies ``keep`` accepts whose id it lacks.

        The check and the rewrite hold the ledger's lock, so a policy
        inserted meanwhile is either carried over or lands after the swap,
        never lost. Returns the policy count and the carried policies (a
        sync pushes them on to the master).

        Raises:
            PolicyError: 87 when ``data`` is not a complete ledger (the current one stays).
        """
        try:
            entries = parse_ledger(data) if data.strip() else ()
        except ValueError as exc:
            raise PolicyError(Code.WRONG_POLICY, f"the new ledger is not complete: {exc}") from None
        path = self.path()
        with self._lock:
            carried = [e for e in self._current(path).entries if keep(e[1])] if keep is not None else []
            if carried:  # rare (policies not yet on the master): only then the new ids
                ids = {str(attrs.get("id")) for _, p in entries for attrs in p.values()}
                carried = [e for e in carried if policy_id_of(e[1]) not in ids]
            if carried:
                base = data if data.endswith(b"\n") or not data.strip() else data + b"\n"
                data = (base if entries else b"") + b"".join(line + b"\n" for line, _ in carried)
                entries = (*entries, *carried)
            self._commit(path, data if entries else _EMPTY, entries)
        return len(entries), [p for _, p in carried]

    def _commit(self, path: Path, data: bytes, entries: tuple[Entry, ...]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
        self._snap = Snapshot(path, _stat(path), data, entries, True)
        self.generation += 1


def _no_file(path: Path) -> PolicyError:
    return PolicyError(Code.NO_LOCAL_BLOCKCHAIN, f"{path} does not exist",
                       hint="insert a policy (blockchain insert where policy = !p and local = true) or sync")


def ledger(node: NodeView) -> Ledger:
    """The node's ledger (one per node, made on first use), at ``!blockchain_file``."""
    return node.part("metadata.ledger",
                     lambda: Ledger(lambda: node.get_var("blockchain_file"), node.log.getChild("ledger")))
