"""``run blockchain sync``: keep the local ledger a copy of the master's, and talk to the master.

Each period (with a little jitter, so nodes started together do not all ask
at the same second) the synchronizer asks the master for its ledger with
``blockchain fetch``, naming the version (md5) it has: the master answers
with nothing when they are the same, else with the ledger in chunks of whole
lines (a large ledger never meets the frame cap). The copy is checked against
the md5 the master gave, policies this node inserted locally (``"ledger":
"local"``) that the master's copy lacks are carried over and pushed on, and
the copy replaces the local ledger in one atomic swap (``Ledger.swap_keeping``),
which also reloads the metadata in memory. A failed sync keeps the last good
copy and is counted and shown (``get synchronizer``, ``get processes``).

With ``source = dbms`` (on the master itself) the ledger table is exported to
the local file instead, without the network; with ``source = file`` a shared
ledger file (a mounted volume) is copied the same way.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from anynode.codes import Code
from anynode.errors import AnyNodeError
from anynode.metadata.ledger import ledger
from anynode.metadata.policy import PolicyError, to_line
from anynode.protocols import NodeView
from anynode.results import Json, Result, from_wire
from anynode.services.base import Service
from anynode.services.status import error_line

NAME = "Blockchain Sync"
_ASK_TIMEOUT = 20.0  # seconds per request to the master


# -- asking the master ---------------------------------------------------------------------
def ask(node: NodeView, dest: str, command: str, timeout: float = _ASK_TIMEOUT) -> Result:
    """Run ``command`` on the node at ``dest`` and return its result (its error is raised)."""
    header, _ = node.client().send_command(dest, command, timeout=timeout)
    return from_wire(header.get("result") or {})


def push(node: NodeView, master: str, policies: list[Any], ignore: bool = False,
         timeout: float = _ASK_TIMEOUT) -> str:
    """Push policies to the master's ledger (``blockchain push [ignore]``); its reply text."""
    text = to_line(policies[0]) if len(policies) == 1 else "[" + ", ".join(map(to_line, policies)) + "]"
    return ask(node, master, f"blockchain push{' ignore' if ignore else ''} {text}", timeout).to_text()


def fetch(node: NodeView, dest: str, have: str | None, source: str = "master",
          size: int | None = None, timeout: float = _ASK_TIMEOUT) -> tuple[bytes | None, str]:
    """The ledger at ``dest`` and its version; None for the data when ``have`` is that version.

    ``size`` asks for smaller chunks than the master's default (4 MiB of whole lines).

    Raises:
        AnyNodeError: the peer is unreachable or refused; PolicyError 87 when the copy fails its md5.
    """
    sized = f" and size = {size}" if size else ""
    first = f"blockchain fetch where source = {source}{sized}" + (f" and version = {have}" if have else "")
    reply = _value(ask(node, dest, first, timeout), dest)
    version = str(reply.get("version"))
    if reply.get("same"):
        return None, version
    parts = [str(reply.get("data", "")).encode("utf-8")]
    offset = len(parts[0])
    while reply.get("more"):
        reply = _value(ask(node, dest, f"blockchain fetch where of = {version} and offset = {offset}{sized}",
                           timeout), dest)
        chunk = str(reply.get("data", "")).encode("utf-8")
        if not chunk:
            break
        parts.append(chunk)
        offset += len(chunk)
    data = b"".join(parts)
    if hashlib.md5(data).hexdigest() != version:
        raise PolicyError(Code.WRONG_POLICY, f"the ledger copied from {dest} does not match its version {version}",
                          hint="the next sync copies it again")
    return data, version


def _value(result: Result, dest: str) -> dict[str, Any]:
    if not isinstance(result, Json) or not isinstance(result.value, dict) or "version" not in result.value:
        raise PolicyError(Code.PROCESS_FAILURE, f"{dest} answered the ledger request with: {result.to_text()[:200]}",
                          hint="is it an anynode master (blockchain create table)?")
    return result.value


def is_local(policy: Any) -> bool:
    """True for a policy this node inserted that no master has confirmed yet (``"ledger": "local"``)."""
    attrs = next(iter(policy.values()), None) if isinstance(policy, dict) and len(policy) == 1 else None
    return isinstance(attrs, dict) and attrs.get("ledger") == "local"


# -- rounds, for `wait N for sync` ------------------------------------------------------------
class Rounds:
    """The good syncs of a node, and the syncs asked for (``run blockchain sync``), for ``wait N for sync``."""

    def __init__(self) -> None:
        self.count = 0  # good syncs
        self.asked = 0  # syncs asked for by hand
        self.served = 0  # the last ask a good sync started after
        self.consumed = 0  # the last ask a wait returned for
        self._cond = threading.Condition()

    def ask(self) -> None:
        """A sync was asked for now."""
        with self._cond:
            self.asked += 1

    def begin(self) -> int:
        """A sync starts: the asks it serves."""
        with self._cond:
            return self.asked

    def done(self, served: int) -> None:
        """A good sync ended; it served the asks up to ``served``."""
        with self._cond:
            self.count += 1
            self.served = max(self.served, served)
            self._cond.notify_all()

    def wait_next(self, timeout: float, stop: threading.Event) -> bool:
        """True once the sync asked for last has ended well (at once if it has), else once the next good sync
        ends; False after ``timeout`` seconds or at ``stop``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self.asked if self.asked > self.consumed else None
            start = self.count
            while (self.served < target) if target is not None else (self.count == start):
                left = deadline - time.monotonic()
                if left <= 0 or stop.is_set():
                    return False
                self._cond.wait(min(left, 0.1))
            if target is not None:
                self.consumed = max(self.consumed, target)
            return True


def rounds(node: NodeView) -> Rounds:
    """The node's good-sync counter (made on first use)."""
    return node.part("metadata.sync.rounds", Rounds)


# -- the service ---------------------------------------------------------------------------------
@dataclass
class SyncConfig:
    """What ``run blockchain sync`` was given."""

    source: str
    every: float
    connection: str | None
    dests: tuple[str, ...] = ("file",)


@dataclass
class SyncStats:
    """The counters of ``get synchronizer``."""

    calls: int = 0
    loads: int = 0
    ok: int = 0
    errors: int = 0
    pushed: int = 0
    last_good: float | None = None  # monotonic time of the last good sync
    last_error: str | None = None
    failing: bool = False


class SyncService(Service):
    """The synchronizer: one sync now, then one every period (with jitter), until stopped."""

    name = NAME

    def __init__(self, node: NodeView, config: SyncConfig, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.node = node
        self.config = config
        self.stats = SyncStats()
        self._kick = threading.Event()
        self._rng = rng or random.Random()
        self._clock = clock
        self._lock = threading.Lock()  # one sync at a time
        # each request to the master waits at most this long: a stalled master delays `exit synchronizer` no more
        self.timeout = max(5.0, min(_ASK_TIMEOUT, config.every))

    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        ready()
        while not stop.is_set():
            self.sync_once()
            jitter = self._rng.uniform(0.0, min(self.config.every * 0.1, 5.0))
            self._kick.wait(self.config.every + jitter)
            self._kick.clear()

    def wake(self) -> None:
        self._kick.set()

    def now(self) -> None:
        """Sync at once (``run blockchain sync`` while it runs)."""
        rounds(self.node).ask()
        self._kick.set()

    def switch(self, connection: str) -> None:
        """Sync with another master from now on (``blockchain switch network``)."""
        self.config.connection = connection
        self._kick.set()

    def sync_once(self) -> bool:
        """One sync; True when it succeeded (errors are counted and kept, never raised)."""
        serves = rounds(self.node).begin()
        with self._lock:
            self.stats.calls += 1
            try:
                source = self.config.source
                changed = (self._from_dbms() if source == "dbms" else self._from_file() if source == "file"
                           else self._from_master())
            except AnyNodeError as exc:
                self._failed(exc.one_line())
                return False
            except OSError as exc:
                self._failed(error_line(exc))
                return False
            if changed:
                self.stats.loads += 1
            if self.stats.failing:
                self.node.log.getChild("sync").info("blockchain sync with %s works again",
                                                    self.config.connection or self.config.source)
            self.stats.ok += 1
            self.stats.failing = False
            self.stats.last_good = self._clock()
        rounds(self.node).done(serves)
        return True

    def _failed(self, text: str) -> None:
        again = self.stats.failing and self.stats.last_error == text  # logged once, not every period
        self.stats.errors += 1
        self.stats.failing = True
        self.stats.last_error = text
        log = self.node.log.getChild("sync")
        (log.debug if again else log.warning)("blockchain sync with %s failed: %s",
                                              self.config.connection or self.config.source, text)

    def _from_master(self) -> bool:
        master = self.config.connection
        assert master is not None
        book = ledger(self.node)
        have = book.version()
        data, _version = fetch(self.node, master, have, timeout=self.timeout)
        if data is None:
            return False
        _count, carried = book.swap_keeping(data, is_local)
        if carried:
            try:
                push(self.node, master, list(carried), ignore=True, timeout=self.timeout)
                self.stats.pushed += len(carried)
            except AnyNodeError as exc:
                self.stats.last_error = f"local policies not pushed: {exc.one_line()}"
        if "dbms" in self.config.dests:
            from anynode.metadata import master as table

            table.push(self.node.catalog, [dict(p) for p in book.snapshot().policies], "local", ignore=True)
        return True

    def _from_file(self) -> bool:
        assert self.config.connection is not None
        with open(self.config.connection, "rb") as fh:
            data = fh.read()
        book = ledger(self.node)
        if book.version() == hashlib.md5(data).hexdigest():
            return False
        book.swap_keeping(data, is_local)
        return True

    def _from_dbms(self) -> bool:
        from anynode.metadata import master as table

        data, md5 = table.export(self.node.catalog)
        book = ledger(self.node)
        if book.version() == md5:
            return False
        book.swap(data)
        return True

    # -- what users see ------------------------------------------------------------------------
    def age(self) -> str:
        """hh:mm:ss since the last good sync, or "never"."""
        if self.stats.last_good is None:
            return "never"
        secs = int(self._clock() - self.stats.last_good)
        return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"

    def details(self) -> str:
        cfg = self.config
        where = cfg.connection or "the local ledger table"
        head = (f"Failed to connect to {cfg.source} using: {where}" if self.stats.failing
                else f"Sync every {cfg.every:g} seconds with {cfg.source} using: {where}")
        tail = f"; last good sync {self.age()} ago" if self.stats.last_good is not None else "; no good sync yet"
        if self.stats.last_error:
            tail += f"; last error: {self.stats.last_error}"
        return head + tail

    def row(self) -> tuple[Any, ...]:
        """The ``get synchronizer`` row."""
        book = ledger(self.node)
        try:
            version, count = book.version() or "", len(book.snapshot().policies)
        except PolicyError:
            version, count = "", 0
        s = self.stats
        return ("Running", self.config.source, self.config.connection or "", f"{self.config.every:g}", version,
                self.age(), s.calls, s.loads, count, s.ok, s.errors, s.last_error or "")

    def info(self) -> dict[str, Any]:
        s = self.stats
        return {"calls": s.calls, "loads": s.loads, "sync_ok": s.ok, "sync_errors": s.errors, "pushed": s.pushed,
                "last_error": s.last_error}


COLUMNS = ("Status", "Sync Source", "Connection", "Sync Time", "Metadata Version", "Time Since Update", "Calls",
           "Loads", "Policies", "Sync OK", "Sync Err", "Last Error")


def seed(node: NodeView, dest: str) -> int:
    """Copy the ledger file of the node at ``dest`` (``blockchain seed from``); the policy count."""
    data, _ = fetch(node, dest, None, source="file")
    assert data is not None
    return ledger(node).swap(data)

