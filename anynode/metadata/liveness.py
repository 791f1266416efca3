"""Operator liveness: which operators of the metadata answered lately, and the ping that brings them back.

An operator is ``active`` until a request to it fails to reach it (refused,
timed out, connection lost): then it is ``not responding``, and routing
skips it. Every request of the node's client reports its outcome here
(:meth:`anynode.net.client.NetClient.observe`), so a failed send marks the
operator and any later answer clears it. The "Metadata ping" task of system
scheduler 0 (``metadata_ping_interval``, :func:`anynode.metadata.view.ping_down`) sends ``get status`` to the
operators marked not responding, so one that comes back recovers without
anyone sending it real work. The state outlives a view rebuild; each build
forgets the addresses that are no operator of the new view (and at most
``MAX_DOWN`` addresses are remembered between builds).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from anynode.protocols import NodeView

ACTIVE = "active"
NOT_RESPONDING = "not_responding"
MAX_DOWN = 4096


class Liveness:
    """The status of each operator address: active or not responding, and when it last changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down: dict[str, float] = {}  # address -> when it was marked not responding
        self._changed: dict[str, float] = {}
        self.attached: object | None = None
        """The client this state observes (the node's client; attached on first use of the view)."""

    def watch(self, addresses: Iterable[str]) -> None:
        """Keep the state of these addresses (the operators of a new view) only."""
        keep = frozenset(addresses)
        with self._lock:
            self._down = {a: t for a, t in self._down.items() if a in keep}
            self._changed = {a: t for a, t in self._changed.items() if a in keep}

    def mark(self, address: str, reached: bool) -> bool:
        """Record one request's outcome for ``address``; True when its status changed."""
        if reached and address not in self._down:
            return False  # the common case, without the lock
        with self._lock:
            was_down = address in self._down
            if reached and was_down:
                del self._down[address]
            elif not reached and not was_down:
                if len(self._down) >= MAX_DOWN:
                    oldest = next(iter(self._down))
                    del self._down[oldest]
                    self._changed.pop(oldest, None)
                self._down[address] = time.time()
            else:
                return False
            self._changed[address] = time.time()
            return True

    def status(self, address: str) -> str:
        """``active`` or ``not_responding``."""
        return NOT_RESPONDING if address in self._down else ACTIVE

    def since(self, address: str) -> str:
        """When the status of ``address`` last changed (UTC), or empty when it never did."""
        when = self._changed.get(address)
        return "" if when is None else datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")

    def down(self) -> list[str]:
        """The addresses marked not responding."""
        with self._lock:
            return list(self._down)


def liveness(node: NodeView) -> Liveness:
    """The node's liveness state (one per node), observing the node's client."""
    state = node.part("metadata.liveness", Liveness)
    client = node.client()
    if state.attached is not client:
        client.observe(state.mark)
        state.attached = client
    return state
