"""Errors of the network engine.

All are :class:`~anynode.errors.RemoteError` subclasses, so the edges render
them like any other error; the extra classes let a caller (``run client``,
fan-out, tests) tell an unreachable peer from a refused, broken or failed one.
They live here rather than in ``anynode/errors.py`` because only the network
layer raises them.
"""

from __future__ import annotations

from typing import Any

from anynode.codes import Code
from anynode.errors import AnyNodeError, RemoteError, RemoteTimeout

__all__ = [
    "AuthError", "ConnectionLost", "PeerError", "ProtocolError", "RemoteError",
    "RemoteTimeout", "TransferError", "Unreachable", "error_from_wire",
]


class ProtocolError(RemoteError):
    """A frame that breaks the anynode protocol (bad magic, unknown version,
    oversized, malformed header)."""

    http_status = 400


class AuthError(ProtocolError):
    """A frame refused by network-key authentication (missing, wrong or
    expired signature, replayed nonce)."""

    http_status = 403
    anylog_code = Code.NOT_IN_COMMAND_TABLE


class Unreachable(RemoteError):
    """A peer that could not be connected to (refused, no route, bad name)."""


class ConnectionLost(RemoteError):
    """A connection that closed before the reply was complete."""


class TransferError(RemoteError):
    """A file transfer that was refused or failed verification."""

    http_status = 422


class PeerError(RemoteError):
    """A peer that answered with an error; ``remote`` is its wire form.

    The message is the peer's own one-line message prefixed with the peer, so a
    user sees where the failure happened.
    """

    def __init__(self, message: str, hint: str | None = None,
                 remote: dict[str, Any] | None = None) -> None:
        super().__init__(message, hint)
        self.remote = dict(remote or {})
        status = self.remote.get("status")
        code = self.remote.get("code")
        if isinstance(status, int):
            self.http_status = status
        if isinstance(code, int):
            self.anylog_code = code

    @property
    def remote_kind(self) -> str:
        """The class name of the error on the peer (e.g. ``CommandNotFound``)."""
        return str(self.remote.get("kind", ""))


_TRANSPORT_KINDS: dict[str, type[RemoteError]] = {
    "ProtocolError": ProtocolError,
    "AuthError": AuthError,
    "TransferError": TransferError,
}


def error_from_wire(wire: Any, peer: str) -> AnyNodeError:
    """Rebuild the error a peer sent in a reply header (``header["error"]``).

    Protocol, auth and transfer refusals come back as their own class so the
    caller can tell them apart; any other error becomes a :class:`PeerError`
    that keeps the peer's kind, status and code.
    """
    if not isinstance(wire, dict):
        return ProtocolError(f"peer {peer} sent a malformed error reply: {wire!r:.80}")
    message = str(wire.get("error", "unknown error"))
    hint = wire.get("hint")
    hint = str(hint) if hint is not None else None
    cls = _TRANSPORT_KINDS.get(str(wire.get("kind", "")))
    if cls is not None:
        return cls(f"peer {peer} refused the request: {message}", hint)
    return PeerError(f"peer {peer} failed: {message}", hint, remote=wire)
