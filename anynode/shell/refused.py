"""AnyLog commands anynode declares only to refuse them with the reason: key pairs, object stores, blobs.

EdgeLake's deployment scripts reach them only when an option is on
(``enable_auth``, blob storage); ``anynode check`` knows them, and running
one says what anynode does instead.
"""

from __future__ import annotations

from anynode.errors import AnyNodeError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.tokens import Token
from anynode.results import Result

_KEYS_HINT = ("anynode has no key pairs: the network key authenticates every node (set network key, "
              "docs/security.md); leave enable_auth false")
_BLOBS_HINT = "anynode stores rows in SQLite or PostgreSQL only; leave blob storage off (blobs_storage = false)"


class Unsupported(AnyNodeError):
    """An AnyLog command anynode declares but does not do."""

    http_status = 501


@command("get private key", raw=True, secret=True, syntax="where keys_file = <file> [and password = <password>]",
         keywords=("security",), examples=["get private key where keys_file = node_id"])
def get_private_key(ctx: Context, tokens: list[Token]) -> Result:
    """Refused: anynode signs with the network key, not with a node's private key."""
    raise Unsupported("anynode has no private keys to get", hint=_KEYS_HINT)


@command("id sign", raw=True, secret=True, syntax="<policy> where key = <private key> [and password = <password>]",
         keywords=("security",), examples=["id sign !policy where key = !private_key and password = !pwd"])
def id_sign(ctx: Context, tokens: list[Token]) -> Result:
    """Refused: anynode does not sign policies with a private key; the network key authenticates the nodes."""
    raise Unsupported("anynode does not sign policies with a private key", hint=_KEYS_HINT)


@command("bucket provider connect", raw=True, secret=True,
         syntax="where group = <name> and provider = <akave|s3|...> and id = ... and access_key = ... "
                "and secret_key = ... and region = ... and endpoint_url = ...",
         keywords=("dbms", "data"),
         examples=["bucket provider connect where group = g1 and provider = s3 and id = x"])
def bucket_provider_connect(ctx: Context, tokens: list[Token]) -> Result:
    """Refused: anynode connects no object store (S3, Akave, MinIO)."""
    raise Unsupported("anynode connects no object store (bucket provider)", hint=_BLOBS_HINT)


@command("run blobs archiver", raw=True, syntax="where dbms = <bool> and folder = <bool> and compress = <bool> "
         "and reuse_blobs = <bool>", keywords=("background processes", "data"),
         examples=["run blobs archiver where dbms = false and folder = true and compress = true"])
def run_blobs_archiver(ctx: Context, tokens: list[Token]) -> Result:
    """Refused: anynode keeps no blobs (images, video) apart from its rows."""
    raise Unsupported("anynode has no blobs archiver", hint=_BLOBS_HINT)
