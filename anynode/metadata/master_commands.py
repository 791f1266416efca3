"""The master's commands: its ledger table (create, push, drop, pull, update) and the copy members fetch.

Two of them change state and are declared ``remote`` on purpose, because a
member must do them over TCP: ``blockchain push`` (and ``push ignore``),
which adds policies to the master's ledger, and ``blockchain drop policy``,
which removes one. ``blockchain fetch`` (a read) is how a member copies the
ledger in chunks. Every other command here runs on the master itself only
(docs/security.md has the table).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anynode.codes import Code
from anynode.errors import CommandSyntaxError
from anynode.fileio import atomic_write
from anynode.grammar.dispatch import Context
from anynode.grammar.parser import Rest
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.types import TEXT, Choice, FilePath, Int, Words
from anynode.metadata.build import BLOCKCHAIN, expander
from anynode.metadata.policy import PolicyError, parse_policy, policy_id_of
from anynode.results import Json, Message, Result

if TYPE_CHECKING:
    from anynode.metadata.master import Exports

NL = b"\n"
CHUNK = 4 * 1024 * 1024
"""Bytes of ledger per ``blockchain fetch`` reply: far below the 16 MiB frame cap once JSON-escaped."""


def _policies(ctx: Context, text: str) -> list[dict[str, Any]]:
    """The policy (or JSON list of policies) a push carries; a peer's text is taken as it came, unexpanded."""
    try:
        items = json.loads(text)
    except ValueError:
        items = None
    if isinstance(items, list) and len(items) > 1:
        return [parse_policy(json.dumps(item)) for item in items]
    return [parse_policy(text, None if ctx.source.external else expander(ctx))]


def _host(ctx: Context) -> str:
    """Who pushed: the peer's address, or this node's own ip for a local push."""
    if ctx.peer:
        return ctx.peer.rsplit(":", 1)[0]
    return ctx.node.get_var("ip") or "127.0.0.1"


def _push(ctx: Context, policy: Rest, ignore: bool) -> Result:
    from anynode.metadata import master

    items = _policies(ctx, policy.text)
    added, known = master.push(ctx.node.catalog, items, _host(ctx), ignore=ignore)
    if len(items) == 1:
        pid = policy_id_of(master.as_global(items[0]))
        return Message(f"policy {pid} " + ("added to the master's ledger" if added else "was already in the ledger"))
    more = f", {len(known)} already there" if known else ""
    return Message(f"{added} policies added to the master's ledger{more}")


@command("blockchain push", http="POST", remote=True, keywords=BLOCKCHAIN,
         args=[Arg("policy", Words(), help="the policy (!name or JSON), or a JSON list of policies")],
         examples=["blockchain push !operator_policy", 'blockchain push {"master": {"company": "acme", "name": "m1"}}'])
def blockchain_push(ctx: Context, policy: Rest) -> Result:
    """On the master: add a policy to the ledger table (made when missing); an id it has already is refused (70).

    Members run it over TCP (`blockchain insert ... and master = ip:port`
    does), so peers may run it: it is one of the two state-changing commands
    a peer may send (docs/security.md). The row records the pushing host.
    """
    return _push(ctx, policy, ignore=False)


@command("blockchain push ignore", http="POST", remote=True, keywords=BLOCKCHAIN,
         args=[Arg("policy", Words(), help="the policy (!name or JSON), or a JSON list of policies")],
         examples=["blockchain push ignore !operator_policy"])
def blockchain_push_ignore(ctx: Context, policy: Rest) -> Result:
    """On the master: add a policy to the ledger table unless it has its id already (no error then)."""
    return _push(ctx, policy, ignore=True)


@command("blockchain drop policy", http="POST", remote=True, keywords=BLOCKCHAIN,
         args=[Arg("policy", TEXT, required=False, help="the policy (!name; it must have its id)")],
         options=[Opt("id", TEXT, help="the id of the policy, or several ids separated by commas"),
                  Opt("ip", TEXT, help="(an older AnyLog form; refused: name the policy or its id)")],
         examples=["blockchain drop policy where id = 0f3b3512d8535bcd611b95c9c5707cb6", "blockchain drop policy !p",
                   "blockchain drop policy where id = !old_ids"])
def blockchain_drop_policy(ctx: Context, policy: str | None, id: str | None, ip: str | None) -> Result:
    """On the master: delete policies from the ledger table (members send it with `blockchain delete policy`)."""
    from anynode.metadata import master

    if ip is not None:
        raise CommandSyntaxError("'blockchain drop policy ... where ip = ...' is not supported: it would not say "
                                 "which policies go", hint="write: blockchain drop policy where id = <policy id>")
    if (policy is None) == (id is None):
        raise CommandSyntaxError("'blockchain drop policy' needs the id or the policy (one of them)",
                                 hint="write: blockchain drop policy where id = <policy id>")
    if id is None:
        id = policy_id_of(parse_policy(policy or "", None if ctx.source.external else expander(ctx)))
        if id is None:
            raise PolicyError(Code.WRONG_POLICY, "the policy to drop has no id",
                              hint="write: blockchain drop policy where id = <policy id>")
    ids = [i.strip() for i in id.split(",") if i.strip()]
    missing = [i for i in ids if not master.drop(ctx.node.catalog, i)]
    if len(missing) == len(ids):
        raise PolicyError(Code.POLICY_NOT_AVAILABLE, f"the master's ledger has no policy with id {', '.join(ids)}",
                          hint="blockchain pull to stdout lists the master's policies")
    if len(ids) == 1:
        return Message(f"policy {ids[0]} dropped from the master's ledger")
    not_there = f"; not there: {', '.join(missing)}" if missing else ""
    return Message(f"{len(ids) - len(missing)} policies dropped from the master's ledger{not_there}")


@command("blockchain create table", http="POST", keywords=BLOCKCHAIN, examples=["blockchain create table"])
def blockchain_create_table(ctx: Context) -> Result:
    """On the master: create the ledger table in the database `blockchain` (connect it first)."""
    from anynode.metadata import master

    made = master.create_table(ctx.node.catalog)
    return Message("ledger table created in blockchain" if made else "the ledger table exists in blockchain")


@command("blockchain drop table", http="POST", keywords=BLOCKCHAIN, examples=["blockchain drop table"])
def blockchain_drop_table(ctx: Context) -> Result:
    """On the master: drop the ledger table and every policy in it."""
    from anynode.metadata import master

    gone = master.drop_table(ctx.node.catalog)
    return Message("ledger table dropped" if gone else "there was no ledger table")


@command("blockchain pull to", http="GET", keywords=BLOCKCHAIN, args=[
    Arg("format", Choice("json", "sql", "stdout"), help="json: a ledger file; sql: INSERT statements; stdout: show"),
    Arg("file", FilePath(), required=False, help="where to write (default: !blockchain_dir/blockchain.<json|sql>)"),
], examples=["blockchain pull to stdout", "blockchain pull to json", "blockchain pull to sql !tmp_dir/ledger.sql"])
def blockchain_pull_to(ctx: Context, format: str, file: str | None) -> Result:
    """On the master: dump the ledger table, as a ledger file (json), as SQL, or on the screen (stdout)."""
    from anynode.metadata import master

    if format == "stdout":
        return Json([json.loads(line) for line in master.export(ctx.node.catalog)[0].splitlines()])
    if format == "json":
        data = master.export(ctx.node.catalog)[0]
    else:
        data = master.to_sql(master.rows(ctx.node.catalog)).encode("utf-8")
    target = Path(file) if file else Path(ctx.node.get_var("blockchain_dir") or ctx.node.home) / f"blockchain.{format}"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, data)
    what = f"{data.count(NL)} policies" if format == "json" else f"{len(data)} bytes"
    return Message(f"ledger table written to {target} ({what})")


@command("blockchain update dbms", http="POST", keywords=BLOCKCHAIN,
         args=[Arg("file", Words(), required=False,
                   help="[file] [ignore message]: the ledger file (!blockchain_file)")],
         examples=["blockchain update dbms", "blockchain update dbms !blockchain_file ignore message"])
def blockchain_update_dbms(ctx: Context, file: Rest | None) -> Result:
    """On the master: add the policies of a ledger file to the ledger table; those it has already are skipped."""
    from anynode.metadata import master
    from anynode.metadata.ledger import parse_ledger

    words = [t.text for t in file] if file else []
    quiet = len(words) >= 2 and [w.lower() for w in words[-2:]] == ["ignore", "message"]
    if quiet:
        words = words[:-2]
    if len(words) > 1:
        raise CommandSyntaxError(f"unexpected '{words[1]}' after the file",
                                 hint="write: blockchain update dbms [file] [ignore message]")
    path = Path(words[0]) if words else Path(str(ctx.node.get_var("blockchain_file") or "blockchain.json"))
    try:
        entries = parse_ledger(path.read_bytes())
    except FileNotFoundError:
        raise PolicyError(Code.NO_LOCAL_BLOCKCHAIN, f"{path} does not exist",
                          hint="name a ledger file: blockchain update dbms <file>") from None
    except ValueError as exc:
        raise PolicyError(Code.WRONG_POLICY, f"{path}: {exc}", hint="blockchain test lists the problems") from None
    added, known = master.push(ctx.node.catalog, [dict(p) for _, p in entries], _host(ctx), ignore=True)
    return Message(f"{added} policies added to the ledger table, {len(known)} were there")


def _exports(ctx: Context) -> Exports:
    from anynode.metadata.master import Exports

    return ctx.node.part("metadata.master.exports", Exports)


@command("blockchain fetch", remote=True, keywords=BLOCKCHAIN, options=[
    Opt("source", Choice("master", "file"), default="master",
        help="master: the ledger table; file: this node's ledger file (blockchain seed)"),
    Opt("version", TEXT, help="the version the caller has: no data comes back when it is the same"),
    Opt("of", TEXT, help="with offset: the version being read (from the first reply)"),
    Opt("offset", Int(0), default=0, help="where to read from, in bytes"),
    Opt("size", Int(1024, CHUNK), default=CHUNK, help="at most this many bytes (whole lines)"),
], examples=["blockchain fetch where version = 4f0b26bc56442eaeb1cb01af008fac98",
             "blockchain fetch where of = 4f0b26bc56442eaeb1cb01af008fac98 and offset = 4194304"])
def blockchain_fetch(ctx: Context, source: str, version: str | None, of: str | None, offset: int,
                     size: int) -> Result:
    """The ledger in chunks, for a member's sync: its version, total size and whole lines from `offset`.

    The first call names the version the caller has and gets nothing but
    the version when it is the same; a ledger larger than one chunk is read
    on with `of` (the version) and `offset` until `more` is false.
    """
    exports = _exports(ctx)
    if of is not None:
        data = exports.of(of)
        if data is None:
            raise PolicyError(Code.PROCESS_FAILURE, f"ledger version {of} is no longer served here: it changed "
                              "during the copy", hint="the next sync starts again")
        md5 = of
    elif source == "master":
        from anynode.metadata.master import export

        data, md5 = export(ctx.node.catalog, exports)
    else:
        from anynode.metadata.ledger import ledger

        snap = ledger(ctx.node).snapshot()
        if not snap.exists:
            raise PolicyError(Code.NO_LOCAL_BLOCKCHAIN, "this node has no ledger file to copy",
                              hint="seed from a node that has one (its master)")
        data, md5 = snap.data, snap.md5
        with exports.lock:
            exports.by_md5[md5] = data
            while len(exports.by_md5) > 3:
                exports.by_md5.pop(next(iter(exports.by_md5)))
    if version is not None and version == md5 and of is None:
        return Json({"version": md5, "size": len(data), "same": True})
    end = min(offset + size, len(data))
    if end < len(data):
        cut = data.rfind(b"\n", offset, end)
        end = cut + 1 if cut >= offset else data.find(b"\n", end) + 1 or len(data)
    chunk = data[offset:end]
    if ctx.node.secrets.contains(chunk.decode("utf-8")):
        # A reply to a peer is masked; a masked copy would fail its md5 on every sync, for a reason no one sees.
        raise PolicyError(Code.PROCESS_FAILURE, "the ledger holds a value that is secret on the node serving it: "
                          "the copy would be masked", hint="take the secret out of the policy (blockchain replace "
                          "policy), or keep that value out of this node's secret variables and settings")
    return Json({"version": md5, "size": len(data), "offset": offset, "data": chunk.decode("utf-8"),
                 "more": end < len(data)})
