"""AnyLog commands anynode declares only to refuse them with the reason: key pairs, object stores, blobs.

EdgeLake's deployment scripts reach them only when an option is on
(``enable_auth``, blob storage); ``anynode check`` knows them, and running
one says what anynode does instead.
"""

from __future__ import annotations

from anynode.errors import AnyNodeError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Opt
from anynode.grammar.tokens import Token
from anynode.grammar.types import BOOL
from anynode.results import Message, Result

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


@command("run blobs archiver", options=[
    Opt("dbms", BOOL, default=False, help="store blobs in a blob database (refused: anynode has none)"),
    Opt("folder", BOOL, default=True, help="keep blob files in !blobs_dir (anynode receives none)"),
    Opt("compress", BOOL, default=False, ignored=True, help="compress blob files"),
    Opt("reuse_blobs", BOOL, default=False, ignored=True, help="store a repeated blob once"),
], keywords=("background processes", "data"),
    examples=["run blobs archiver where dbms = false and folder = true and compress = true"])
def run_blobs_archiver(ctx: Context, dbms: bool, folder: bool) -> Result:
    """Accepted with nothing to do when blobs go to a folder; refused when they go to a blob database.

    AnyLog's archiver keeps the blobs (images, video) that arrive beside the
    rows. anynode ingests rows only, so a folder archiver would never receive
    a blob: EdgeLake's default operator deployment asks for one, and the node
    says plainly that it has nothing to archive rather than failing the script.
    """
    if dbms:
        raise Unsupported("anynode has no blob database for the blobs archiver (dbms = true)", hint=_BLOBS_HINT)
    return Message("blobs archiver not started: anynode ingests rows only, so no blob will reach "
                   + ("!blobs_dir" if folder else "an archive"))
