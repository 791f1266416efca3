"""Frame authentication with a shared network key.

When a node has a network key, every frame it sends carries
``header["auth"] = {"ts": <ms since epoch>, "nonce": <hex>, "sig": <hex>}``
where ``sig`` is HMAC-SHA256 over the header without ``auth`` (canonical JSON,
sorted keys), the SHA-256 of the payload, the timestamp and the nonce. A
receiver with the same key checks the signature in constant time, refuses a
timestamp outside its replay window and a nonce it has already seen inside
that window. Memory for nonces is bounded: when the cache is full the oldest
entry is dropped and frames not newer than it are refused from then on, so a
dropped nonce can never be replayed. Without a key, authentication is off.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

from anynode.net.errors import AuthError
from anynode.net.protocol import json_default

_DOMAIN = b"anynode-frame-v1\0"
_HINT = "set the same network key on every node of the network"


class Authenticator:
    """Signs and verifies frame headers with a shared network key.

    Args:
        key: the network key (text or bytes, not empty).
        window: seconds a frame's timestamp may differ from this node's clock.
        max_nonces: bound on remembered nonces (memory stays O(max_nonces)).
        clock: wall-clock source in seconds (tests pass a fake one).
    """

    def __init__(self, key: str | bytes, window: float = 60.0, max_nonces: int = 200_000,
                 clock: Callable[[], float] = time.time) -> None:
        raw = key.encode() if isinstance(key, str) else bytes(key)
        if not raw:
            raise ValueError("network key is empty; give a non-empty key or no key at all")
        if window <= 0:
            raise ValueError(f"replay window must be positive, not {window}")
        self._key = raw
        self.window_ms = int(window * 1000)
        self.max_nonces = max(1, max_nonces)
        self._clock = clock
        self._seen: OrderedDict[str, int] = OrderedDict()  # nonce -> frame ts (ms), in arrival order
        self._floor = -1  # frames with ts <= floor are refused (their nonce may have been dropped)
        self._lock = threading.Lock()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _mac(self, header: dict[str, Any], payload: bytes, ts: int, nonce: str) -> str:
        canonical = orjson.dumps({k: v for k, v in header.items() if k != "auth"}, default=json_default,
                                 option=orjson.OPT_SORT_KEYS)
        msg = b"".join((_DOMAIN, canonical, b"\0", hashlib.sha256(payload).digest(),
                        b"\0", str(ts).encode(), b"\0", nonce.encode()))
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def sign(self, header: dict[str, Any], payload: bytes) -> dict[str, Any]:
        """A copy of ``header`` with a fresh ``auth`` field for this payload."""
        ts = self._now_ms()
        nonce = secrets.token_hex(16)
        signed = {k: v for k, v in header.items() if k != "auth"}
        signed["auth"] = {"ts": ts, "nonce": nonce, "sig": self._mac(signed, payload, ts, nonce)}
        return signed

    def verify(self, header: dict[str, Any], payload: bytes) -> None:
        """Check and remove ``header["auth"]``; raise AuthError if refused."""
        auth = header.pop("auth", None)
        if auth is None:
            raise AuthError("frame is not signed but this node requires the network key", _HINT)
        if not isinstance(auth, dict):
            raise AuthError("frame signature is malformed ('auth' must be an object)", _HINT)
        ts, nonce, sig = auth.get("ts"), auth.get("nonce"), auth.get("sig")
        if (not isinstance(ts, int) or isinstance(ts, bool) or not isinstance(nonce, str)
                or not isinstance(sig, str) or not 16 <= len(nonce) <= 128):
            raise AuthError("frame signature is malformed (needs integer ts, nonce and sig)", _HINT)
        expected = self._mac(header, payload, ts, nonce)
        if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
            raise AuthError("frame signature does not match: the peer uses a different network key", _HINT)
        now = self._now_ms()
        skew = ts - now
        if abs(skew) > self.window_ms:
            raise AuthError(
                f"frame timestamp is {skew / 1000:+.1f} s from this node's clock, outside the "
                f"replay window of ±{self.window_ms / 1000:g} s (a replayed frame or unsynchronised clocks)",
                "synchronise the clocks of the nodes (NTP)")
        with self._lock:
            self._prune(now)
            if ts <= self._floor:
                raise AuthError("frame refused: too old to check for replay while the nonce cache is full",
                                "retry; the sender signs a fresh frame")
            if nonce in self._seen:
                raise AuthError("frame refused: its nonce was already used (a replayed frame)")
            self._seen[nonce] = ts
            while len(self._seen) > self.max_nonces:
                _, dropped_ts = self._seen.popitem(last=False)
                self._floor = max(self._floor, dropped_ts)

    def _prune(self, now: int) -> None:
        """Forget nonces whose frames could no longer pass the timestamp check."""
        horizon = now - self.window_ms
        seen = self._seen
        while seen:
            nonce, ts = next(iter(seen.items()))
            if ts >= horizon:
                break
            del seen[nonce]

    def nonces_held(self) -> int:
        """How many nonces are remembered now (for stats and tests)."""
        with self._lock:
            return len(self._seen)


def make_authenticator(key: str | bytes | None, window: float = 60.0) -> Authenticator | None:
    """An Authenticator for ``key``, or None (authentication off) when no key is set."""
    if key is None or key == "" or key == b"":
        return None
    return Authenticator(key, window=window)
