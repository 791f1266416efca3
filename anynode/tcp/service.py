"""``run tcp server``: the node-to-node service.

Peers send anynode frames (see anynode.net.protocol). A ``command`` frame
runs a remote-safe command as Source.REMOTE and replies with its result on
the same connection; a ``file`` frame is a chunk of a file transfer, staged
and verified before it lands in the named target directory. The server
itself (a thread per connection, at most ``threads`` frames in a handler at
once, connection caps before and after the first verified frame, timeouts,
optional key and TLS) is
anynode.net.server.FrameServer.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anynode.cancel import Cancel
from anynode.errors import CommandSyntaxError
from anynode.grammar.dispatch import Source
from anynode.protocols import NodeView
from anynode.services.base import Service
from anynode.tcp.queries import answer_query

TRANSFER_TARGETS = ("watch_dir", "prep_dir", "bkup_dir", "blobs_dir", "tmp_dir")


@dataclass(frozen=True)
class TcpConfig:
    """Where the TCP service listens and what it advertises.

    No field has a default: the declaration of ``run tcp server`` holds them.
    """

    external_ip: str
    external_port: int
    internal_ip: str
    internal_port: int
    bind: bool
    threads: int
    ssl_context: ssl.SSLContext | None
    max_connections: int
    max_pending: int
    first_frame_timeout: float

    @property
    def listen_host(self) -> str:
        """``bind = true`` listens on the internal address only; false on every interface (AnyLog)."""
        return self.internal_ip if self.bind else "0.0.0.0"


def transfer_targets(node: NodeView) -> dict[str, Path]:
    """Directories a peer may send files into, by AnyLog variable name (``watch`` = ``!watch_dir``)."""
    out: dict[str, Path] = {}
    for var in TRANSFER_TARGETS:
        path = node.get_var(var)
        if path:
            out[var.removesuffix("_dir")] = Path(path)
    return out


class TcpService(Service):
    """Serves peers: remote-safe commands and file transfers."""

    name = "TCP"

    def __init__(self, node: NodeView, config: TcpConfig) -> None:
        self.node = node
        self.config = config
        self.server: Any = None
        self.port = config.internal_port
        self.commands = 0
        self.queries = 0

    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        from anynode.net import FrameServer, TransferReceiver
        from anynode.net.handling import Stream

        targets = transfer_targets(self.node)
        for path in targets.values():
            path.mkdir(parents=True, exist_ok=True)
        staging = Path(self.node.get_var("tmp_dir") or self.node.home / "data" / "tmp") / "incoming"
        receiver = TransferReceiver(staging, targets)

        def handle(header: dict[str, Any], payload: bytes) -> tuple[dict[str, Any], bytes] | Stream:
            kind = header.get("kind")
            if kind == "file":
                return receiver.handle(header, payload)
            if kind == "query":  # a share of a network query: read-only, no command runs
                self.queries += 1
                return answer_query(self.node, header, _peer_timeout(header, self.node))
            if kind != "command":
                raise CommandSyntaxError(f"this node does not take '{kind}' frames", hint="send command or file")
            command = header.get("command")
            if not isinstance(command, str) or not command.strip():
                raise CommandSyntaxError("the command frame has no command text")
            self.commands += 1
            result = self.node.execute(command, Source.REMOTE, peer=header.get("_peer"),
                                       cancel=Cancel(_peer_timeout(header, self.node)))
            return {"result": result.to_wire()}, b""

        self.server = FrameServer(handle, self.config.listen_host, self.config.internal_port,
                                  threads=self.config.threads, ssl_context=self.config.ssl_context,
                                  max_connections=self.config.max_connections,
                                  max_pending=self.config.max_pending,
                                  first_frame_timeout=self.config.first_frame_timeout,
                                  auth=self.node.authenticator(),
                                  housekeeping=lambda: None if receiver.sweep() else None,
                                  logger=self.node.log.getChild("tcp"))

        def on_ready() -> None:
            self.port = self.server.port
            self.node.set_var("anylog_server_port", str(self.port))
            self.node.set_var("tcp_address", f"{self.config.external_ip}:{self.external_port}")
            ready()

        try:
            self.server.serve(stop, on_ready)
        finally:
            receiver.close()

    @property
    def external_port(self) -> int:
        """The advertised port (the bound one when port 0 was asked)."""
        return self.config.external_port or self.port

    def set_auth(self, auth: Any) -> None:
        """Take a new network key for frames that arrive from now on."""
        if self.server is not None:
            self.server.codec.auth = auth

    def wake(self) -> None:
        if self.server is not None:
            self.server.shutdown()

    def connection_addresses(self) -> tuple[str, str, str]:
        """(external, internal, bind) as ``ip:port``, the TCP row of ``get connections``."""
        return (f"{self.config.external_ip}:{self.external_port}", f"{self.config.internal_ip}:{self.port}",
                f"{self.config.listen_host}:{self.port}")

    def details(self) -> str:
        ext = f"{self.config.external_ip}:{self.external_port}"
        internal = f"{self.config.internal_ip}:{self.port}"
        where = ext if ext == internal else f"{ext} and {internal}"
        secure = ", TLS" if self.config.ssl_context else ""
        keyed = ", key" if self.node.authenticator() is not None else ""
        cfg = self.config
        return (f"Listening on: {where}, Threads Pool: {cfg.threads}{secure}{keyed}, "
                f"Max Connections: {cfg.max_connections}, Max Pending: {cfg.max_pending}, "
                f"First Frame Timeout: {cfg.first_frame_timeout:g} s")

    def info(self) -> dict[str, Any]:
        stats = dict(self.server.stats()) if self.server is not None else {}
        stats["commands"] = self.commands
        stats["queries"] = self.queries
        cfg = self.config
        stats.update(max_connections=cfg.max_connections, max_pending=cfg.max_pending,
                     first_frame_timeout=cfg.first_frame_timeout)
        return stats


def _peer_timeout(header: dict[str, Any], node: NodeView) -> float:
    """How long a peer's command may run: as long as the peer waits (its ``timeout``), at most an hour;
    ``remote_timeout`` for a peer that does not say (AnyLog's)."""
    asked = header.get("timeout")
    if isinstance(asked, (int, float)) and not isinstance(asked, bool) and 0 < asked:
        return min(float(asked), 3600.0)
    return float(node.settings["remote_timeout"])
