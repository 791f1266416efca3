"""anynode's node-to-node framing.

A frame is a fixed 12-byte prefix, a JSON header and an optional binary
payload::

    offset size field
    0      2    magic b"AN"
    2      1    major protocol version (a different major is refused)
    3      1    minor protocol version (a newer minor is accepted)
    4      4    header length, big-endian unsigned
    8      4    payload length, big-endian unsigned
    12     ...  header: a JSON object (orjson), then the payload bytes

Every header carries ``kind`` (``command``, ``reply``, ``file``, ``event``, ``query``)
and ``id``, the request id that a reply repeats so it is matched to its
request on the same connection. Frames larger than the codec's
``max_frame_size`` are refused from the prefix alone, before anything is
buffered. :class:`FrameCodec` reads and writes frames on blocking sockets
(the server and the client are both threaded), and signs/verifies them when
it has an authenticator.
"""

from __future__ import annotations

import decimal
import socket
import struct
import time
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Protocol

import orjson

from anynode.net.errors import ConnectionLost, ProtocolError

MAGIC = b"AN"
VERSION_MAJOR = 1
VERSION_MINOR = 1  # 1: query frames, replies in several parts (more = true)
PREFIX = struct.Struct("!2sBBII")
PREFIX_SIZE = PREFIX.size
DEFAULT_MAX_FRAME = 16 * 1024 * 1024
KINDS = frozenset({"command", "reply", "file", "event", "query"})
_SMALL = 64 * 1024  # payloads below this are sent in one write with the header


def json_default(value: Any) -> Any:
    """Values orjson does not encode itself but results carry: float
    subclasses (durations), Decimal (PostgreSQL numerics), paths, sets, bytes.

    Raises:
        TypeError: anything else (the caller reports it as not serialisable).
    """
    if isinstance(value, (float, decimal.Decimal)):
        return float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


class Signer(Protocol):
    """What the codec needs from an authenticator (see :mod:`anynode.net.auth`)."""

    def sign(self, header: dict[str, Any], payload: bytes) -> dict[str, Any]: ...

    def verify(self, header: dict[str, Any], payload: bytes) -> None: ...


@dataclass(slots=True)
class Frame:
    """One decoded frame: its JSON header and its payload bytes."""

    header: dict[str, Any]
    payload: bytes = b""
    size: int = field(default=0, compare=False)

    @property
    def kind(self) -> str:
        """The frame kind (``command``, ``reply``, ``file``, ``event``)."""
        return str(self.header.get("kind", ""))

    @property
    def id(self) -> int:
        """The request id this frame carries or answers."""
        value = self.header.get("id", 0)
        return value if isinstance(value, int) else 0


def _attach_id(err: ProtocolError, request_id: int | None) -> ProtocolError:
    """Remember which request a refused frame was, so the error reply can say."""
    err.request_id = request_id  # type: ignore[attr-defined]
    return err


class FrameCodec:
    """Encodes and decodes frames under a size limit, signing when keyed.

    Args:
        max_frame_size: largest header + payload accepted or sent, in bytes.
        auth: an authenticator that signs outgoing and verifies incoming
            headers; None turns authentication off.
    """

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME, auth: Signer | None = None) -> None:
        if max_frame_size < 64:
            raise ValueError(f"max_frame_size {max_frame_size} is too small; use at least 64 bytes")
        self.max_frame_size = max_frame_size
        self.auth = auth

    # -- encoding -----------------------------------------------------------

    def encode(self, header: dict[str, Any], payload: bytes = b"") -> tuple[bytes, bytes]:
        """The frame as (prefix + header bytes, payload), signed if keyed.

        Raises:
            ProtocolError: the header is not serialisable or the frame is
                larger than ``max_frame_size``.
        """
        if self.auth is not None:
            header = self.auth.sign(header, payload)
        try:
            head = orjson.dumps(header, default=json_default)
        except TypeError as exc:
            raise ProtocolError(f"frame header is not JSON-serialisable: {exc}") from None
        total = len(head) + len(payload)
        if total > self.max_frame_size:
            raise ProtocolError(
                f"frame of {total} bytes exceeds the maximum frame size of {self.max_frame_size} bytes",
                hint="send big data as a file transfer, or raise max_frame_size on both nodes")
        prefix = PREFIX.pack(MAGIC, VERSION_MAJOR, VERSION_MINOR, len(head), len(payload))
        return prefix + head, payload

    # -- decoding -----------------------------------------------------------

    def parse_prefix(self, prefix: bytes | bytearray) -> tuple[int, int]:
        """Check a 12-byte prefix; return (header length, payload length)."""
        magic, major, minor, hlen, plen = PREFIX.unpack(prefix)
        if magic != MAGIC:
            raise ProtocolError(
                f"not an anynode frame (starts with {bytes(prefix[:4])!r}, expected {MAGIC!r})",
                hint="is the peer an anynode TCP server?")
        if major != VERSION_MAJOR:
            raise ProtocolError(
                f"frame of protocol version {major}.{minor} refused: this node speaks {VERSION_MAJOR}.x",
                hint="run the same major version of anynode on both nodes")
        if hlen < 2:
            raise ProtocolError(f"frame header length {hlen} is too short for a JSON object")
        if hlen + plen > self.max_frame_size:
            raise ProtocolError(
                f"frame of {hlen + plen} bytes exceeds the maximum frame size of {self.max_frame_size} bytes",
                hint="send big data as a file transfer, or raise max_frame_size on both nodes")
        return hlen, plen

    def parse_body(self, head: bytes, payload: bytes) -> Frame:
        """Decode the header, check its fields, verify its signature."""
        try:
            header = orjson.loads(head)
        except orjson.JSONDecodeError as exc:
            raise ProtocolError(f"frame header is not valid JSON: {exc}") from None
        if not isinstance(header, dict):
            raise ProtocolError(f"frame header must be a JSON object, not {type(header).__name__}")
        request_id = header.get("id")
        if not isinstance(request_id, int) or isinstance(request_id, bool) or request_id < 0:
            raise ProtocolError(f"frame header 'id' must be a non-negative integer, not {request_id!r}")
        kind = header.get("kind")
        if not isinstance(kind, str) or not kind:
            raise _attach_id(ProtocolError(
                f"frame header 'kind' must be one of {sorted(KINDS)}, not {kind!r}"), request_id)
        if self.auth is not None:
            try:
                self.auth.verify(header, payload)
            except ProtocolError as exc:
                raise _attach_id(exc, request_id) from None
        return Frame(header, payload, PREFIX_SIZE + len(head) + len(payload))

    # -- blocking sockets -----------------------------------------------------

    def write(self, sock: socket.socket, header: dict[str, Any], payload: bytes = b"") -> int:
        """Send one frame on a blocking socket; return the bytes sent."""
        head, body = self.encode(header, payload)
        return self.send(sock, head, body)

    @staticmethod
    def send(sock: socket.socket, head: bytes, body: bytes) -> int:
        """Send a frame already encoded by :meth:`encode`; return the bytes sent.

        A small payload goes out in one call with the header; a big one is not
        copied to join it.
        """
        if len(body) < _SMALL:
            sock.sendall(head + body)
        else:
            sock.sendall(head)
            sock.sendall(body)
        return len(head) + len(body)

    def read(self, sock: socket.socket, deadline: float | None = None,
             buffer: bytearray | None = None) -> Frame | None:
        """Read one frame from a blocking socket; None on a clean close.

        ``deadline`` (time.monotonic) bounds the whole frame, so a peer that
        dribbles bytes cannot hold the reader past it (socket.timeout).
        ``buffer``, kept per connection, lets one recv take a whole small
        frame; bytes read past the frame stay in it for the next call.
        Without it nothing past the frame is consumed.
        """
        buf = bytearray() if buffer is None else buffer
        greedy = buffer is not None
        if not _fill(sock, buf, PREFIX_SIZE, deadline, greedy, eof_ok=True):
            return None
        hlen, plen = self.parse_prefix(bytes(buf[:PREFIX_SIZE]))
        total = PREFIX_SIZE + hlen + plen
        _fill(sock, buf, total, deadline, greedy, eof_ok=False)
        with memoryview(buf) as view:
            head = view[PREFIX_SIZE:PREFIX_SIZE + hlen].tobytes()
            payload = view[PREFIX_SIZE + hlen:total].tobytes()
        del buf[:total]
        return self.parse_body(head, payload)


def _fill(sock: socket.socket, buf: bytearray, size: int, deadline: float | None,
          greedy: bool, eof_ok: bool) -> bool:
    """Receive into ``buf`` until it holds ``size`` bytes, before ``deadline``.

    Greedy reads take up to 64 KiB more than needed. Returns False when the
    peer closes before anything was read and ``eof_ok``; raises ConnectionLost
    when it closes later, socket.timeout at the deadline.
    """
    start = len(buf)
    while len(buf) < size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            current = sock.gettimeout()
            if current is None or current > left + 0.01:  # settimeout is a syscall: only to shorten
                sock.settimeout(left)
        want = size - len(buf)
        chunk = sock.recv(max(want, 65536) if greedy else want)
        if not chunk:
            if len(buf) == start == 0 and eof_ok:
                return False
            raise ConnectionLost(f"connection closed in the middle of a frame "
                                 f"({len(buf)} of {size} bytes)")
        buf += chunk
    return True
