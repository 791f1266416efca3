"""Network engine: anynode's frame protocol, authentication, the frame server,
the pooled client with fan-out, and verified file transfer.

This layer knows nothing about commands, the Node or the registry: the TCP
service gives FrameServer a handler, and ``run client`` uses NetClient.
"""

from __future__ import annotations

from anynode.net.auth import Authenticator, make_authenticator
from anynode.net.client import NetClient, PeerReply, dest_key, parse_dest
from anynode.net.errors import (
                                AuthError,
                                ConnectionLost,
                                PeerError,
                                ProtocolError,
                                TransferError,
                                Unreachable,
                                error_from_wire,
)
from anynode.net.protocol import DEFAULT_MAX_FRAME, Frame, FrameCodec
from anynode.net.server import FrameServer
from anynode.net.transfer import TransferReceiver, TransferReport, safe_name, send_file

__all__ = [
                                "DEFAULT_MAX_FRAME",
                                "AuthError",
                                "Authenticator",
                                "ConnectionLost",
                                "Frame",
                                "FrameCodec",
                                "FrameServer",
                                "NetClient",
                                "PeerError",
                                "PeerReply",
                                "ProtocolError",
                                "TransferError",
                                "TransferReceiver",
                                "TransferReport",
                                "Unreachable",
                                "dest_key",
                                "error_from_wire",
                                "make_authenticator",
                                "parse_dest",
                                "safe_name",
                                "send_file",
]
