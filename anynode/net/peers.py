"""Asking peers: one command to several nodes, their replies as one Result.

Used by ``run client`` and by the REST ``destination`` header, so both give
the same answer and the same errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from anynode.cancel import Cancel
from anynode.errors import AnyNodeError, RemoteError
from anynode.results import Replies, Reply, from_wire


def to_reply(dest: str, header: dict[str, Any] | None, error: AnyNodeError | None, elapsed: float = 0.0) -> Reply:
    """One peer's answer (or error) as a Reply."""
    if error is not None:
        return Reply(dest, None, error.to_wire(), elapsed)
    try:
        return Reply(dest, from_wire((header or {}).get("result") or {}), None, elapsed)
    except ValueError as exc:
        return Reply(dest, None, RemoteError(f"{dest} sent a reply this node cannot read: {exc}").to_wire(), elapsed)


def replies_or_raise(replies: Sequence[Reply]) -> Replies:
    """The replies, or the error when no peer answered at all.

    Raises:
        RemoteError: every destination failed (one destination: its own error text).
    """
    if replies and not any(r.ok for r in replies):
        if len(replies) == 1:
            err = replies[0].error or {}
            raise RemoteError(f"{replies[0].dest}: {err.get('error', 'no reply')}", hint=err.get("hint"))
        raise RemoteError("no peer answered: " + "; ".join(f"{r.dest}: {(r.error or {}).get('error')}"
                                                            for r in replies))
    return Replies(tuple(replies))


def ask_peers(client: Any, dests: Sequence[str], command: str, timeout: float,
              cancel: Cancel | None = None) -> Replies:
    """Run ``command`` on every destination in parallel; each reply or error, within ``timeout``
    (``cancel``, Ctrl-C: no longer)."""
    return replies_or_raise([to_reply(r.dest, r.header, r.error, r.elapsed)
                             for r in client.fan_out_command(list(dests), command, timeout=timeout, cancel=cancel)])
