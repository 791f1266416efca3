"""Destinations of node-to-node requests: ``host:port`` parsing and each peer's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from anynode.errors import AnyNodeError, ValidationError

Dest = Union[str, "tuple[str, int]"]
_DEST_HINT = "write a destination as host:port, e.g. 10.0.0.1:32148"


def parse_dest(dest: Dest) -> tuple[str, int]:
    """("host", port) from "host:port", "[v6]:port" or a tuple; localhost is 127.0.0.1."""
    if isinstance(dest, tuple):
        if len(dest) != 2:
            raise ValidationError(f"destination {dest!r} is not (host, port)", _DEST_HINT)
        host, port_text = str(dest[0]), str(dest[1])
    elif isinstance(dest, str):
        text = dest.strip()
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else ""
        else:
            host, _, port_text = text.rpartition(":")
    else:
        raise ValidationError(f"destination {dest!r} is not a host:port string", _DEST_HINT)
    host = host.strip()
    if not host or not port_text.strip().isdigit() or not 0 < int(port_text) < 65536:
        raise ValidationError(f"destination {dest!r} is not host:port with a port 1-65535", _DEST_HINT)
    if host.lower() == "localhost":
        host = "127.0.0.1"
    return host, int(port_text)


def dest_key(host: str, port: int) -> str:
    """The canonical "host:port" text of a destination."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass
class PeerReply:
    """One destination's outcome in a fan-out: its reply, or the error instead."""

    dest: str
    header: dict[str, Any] | None = None
    payload: bytes = b""
    error: AnyNodeError | None = None
    elapsed: float = field(default=0.0, compare=False)

    @property
    def ok(self) -> bool:
        """True when the peer answered without error."""
        return self.error is None
