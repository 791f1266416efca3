"""A query over operators on other nodes: one source per cluster, its members tried main first.

Each source sends a ``query`` frame (anynode/tcp/queries.py) with the
remote query written for every engine, and reads the answer in parts as they
arrive. A member that cannot be reached, closes or does not answer in time
is skipped for the next member of its cluster (and reported through
``on_down``, so the metadata can mark it); an operator that answers with an
error (no such table, bad SQL) fails its cluster: its peers hold the same
data and would say the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from anynode.errors import RemoteTimeout
from anynode.net.errors import ConnectionLost, Unreachable
from anynode.query.run import NetworkQueryError
from anynode.query.status import Job, Share

if TYPE_CHECKING:
    from anynode.net.client import NetClient

ROWS_PER_FRAME = 5000
_NOT_ANSWERED = (Unreachable, ConnectionLost, RemoteTimeout)


@dataclass(frozen=True)
class Ask:
    """What every source adds to its question: AnyLog's extend keys (and the table they may name), a deadline."""

    extend: tuple[str, ...] = ()
    table: str = ""
    deadline: float | None = None  # time.monotonic() by which the whole query must have ended (max_time)


@dataclass(frozen=True)
class Target:
    """Where one share of the data is: a name (the cluster, or the address) and its operators in order."""

    name: str
    members: tuple[str, ...]
    live: int = -1  # how many of the first members are known to respond (-1: not known)


class PeerSource:
    """One cluster's share, from the first of its members that answers."""

    engine = "*"  # the operator picks the text for its own engine

    def __init__(self, client: NetClient, route: Target, dbms: str, timeout: float,
                 on_down: Callable[[str], None] | None = None, share: Share | None = None,
                 extend: Ask | None = None) -> None:
        self.client, self.route, self.dbms, self.timeout = client, route, dbms, timeout
        self.name = route.name
        self.on_down = on_down
        self.answered_by = ""
        self.share = share or Share(route.name)
        self.ask = extend or Ask()

    def query(self, sql: Any) -> tuple[list[str], Iterable[Sequence[Any]]]:
        """Ask the members in order; the columns, and the rows as they arrive."""
        missed = []
        for address in self.route.members:
            timeout = self.timeout
            if self.ask.deadline is not None:
                timeout = min(timeout, self.ask.deadline - time.monotonic())
                if timeout <= 0:
                    missed.append(f"{address}: not asked, max_time had passed")
                    break
            header = {"kind": "query", "dbms": self.dbms, "sql": sql, "timeout": timeout,
                      "rows_per_frame": ROWS_PER_FRAME}
            if self.ask.extend:
                header.update(extend=list(self.ask.extend), table=self.ask.table)
            parts = self.client.stream(address, header, timeout=timeout)
            try:
                head, body = next(parts)
            except _NOT_ANSWERED as exc:
                missed.append(f"{address}: {exc.message}")
                if self.on_down is not None:
                    self.on_down(address)
                continue
            except Exception:
                self.share.end("Failed")
                raise
            self.answered_by = self.share.answered_by = address
            return list(head.get("columns") or []), self._rows(body, parts)
        self.share.end("Not answered")
        raise NetworkQueryError(f"no operator of {self.name} answered ({'; '.join(missed) or 'no members'})",
                                hint="check them with 'test network', or add subset = true")


    def _rows(self, first: bytes, parts: Iterator[tuple[dict[str, Any], bytes]]) -> Iterator[list[Any]]:
        try:
            rows = orjson.loads(first)
            self.share.got(len(rows))
            yield rows
            for _, body in parts:
                rows = orjson.loads(body)
                self.share.got(len(rows))
                yield rows
        except BaseException:
            self.share.end("Failed")
            raise
        self.share.end("Completed")


def sources(client: NetClient, routes: Sequence[Target], dbms: str, timeout: float,
            on_down: Callable[[str], None] | None = None, job: Job | None = None,
            ask: Ask | None = None) -> list[PeerSource]:
    """A source per route (each reporting to its share of ``job``)."""
    if not routes:
        raise NetworkQueryError("no operator holds this table", hint="check 'get data nodes' and the dbms name")
    return [PeerSource(client, r, dbms, timeout, on_down, job.shares.get(r.name) if job else None, ask)
            for r in routes]



