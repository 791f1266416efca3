"""Ledger maintenance in AnyLog's spellings: replace a policy, drop a host's policies, make the ledger table,
take a ledger file.

None of them is declared ``remote``: they change the ledger and run on the
node itself (its prompt, its scripts, its console), never for a peer.
"""

from __future__ import annotations

import copy
from pathlib import Path

from anynode.codes import Code
from anynode.errors import CommandSyntaxError
from anynode.grammar.dispatch import Context
from anynode.grammar.parser import Rest
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.types import TEXT, FilePath, Words
from anynode.metadata.build import BLOCKCHAIN, expander
from anynode.metadata.policy import PolicyError, add_id_date, parse_policy, policy_type
from anynode.results import Message, Result

_REPLACE = "write: blockchain replace policy <policy id> with !new_policy"


def _this_host(ctx: Context) -> str:
    """The host recorded for a change made on this node: its ip (as a push from it records)."""
    return str(ctx.node.get_var("ip") or "127.0.0.1")


@command("blockchain replace policy", http="POST", keywords=BLOCKCHAIN, syntax="<policy id> with <policy>",
         args=[Arg("words", Words(), help="<policy id> with <policy>: the id to replace, the new policy (!name)")],
         examples=["blockchain replace policy !policy_id with !operator",
                   'blockchain replace policy 0f3b3512d8535bcd611b95c9c5707cb6 with {"operator": {"name": "op2"}}'])
def blockchain_replace_policy(ctx: Context, words: Rest) -> Result:
    """Replace a policy by a new one of its type that keeps its id, in the master's table and the local ledger.

    Wherever the id is: the master's ledger table (on a master) and this
    node's ledger. On a master the new policy goes last in the ledger order and members
    take it with their next sync. In the local ledger it keeps its place and
    is checked against the other policies as an insert is.
    """
    tokens = list(words)
    if len(tokens) < 3 or not tokens[1].is_word("with"):
        at = tokens[1] if len(tokens) > 1 else None
        raise CommandSyntaxError("'blockchain replace policy' needs the id, 'with' and the new policy",
                                 offset=at.start if at else None, hint=_REPLACE)
    expand = expander(ctx)
    policy_id = expand(tokens[0].text)[0].strip()
    if not policy_id or policy_id.startswith("!"):
        raise CommandSyntaxError(f"'{tokens[0].text}' is not a policy id", offset=tokens[0].start, hint=_REPLACE)
    new = add_id_date(parse_policy(Rest(tokens[2:]).text, expand))
    from anynode.metadata import master
    from anynode.metadata.ledger import ledger
    from anynode.metadata.rules import validate

    where = []  # the local ledger first: its checks may refuse the policy before anything changed
    book = ledger(ctx.node)
    if book.snapshot().exists and book.replace(policy_id, copy.deepcopy(new), check=validate) is not None:
        where.append("the local ledger")
    if master.has_table(ctx.node.catalog) and master.replace(ctx.node.catalog, policy_id, new, _this_host(ctx)):
        where.insert(0, "the master's ledger")
    if not where:
        raise PolicyError(Code.POLICY_NOT_AVAILABLE, f"no {policy_type(new)} policy with id {policy_id} to replace",
                          hint="blockchain get * where id = <id> shows the policy (and its type)")
    return Message(f"{policy_type(new)} policy {policy_id} replaced in {' and '.join(where)}")


@command("blockchain drop by host", http="POST", keywords=BLOCKCHAIN,
         args=[Arg("host", TEXT, help="the ip of the node that pushed the policies (the ledger table's host)")],
         examples=["blockchain drop by host 10.0.0.78", "blockchain drop by host !old_ip"])
def blockchain_drop_by_host(ctx: Context, host: str) -> Result:
    """On the master: delete every policy that the node at this ip pushed to the ledger table."""
    from anynode.metadata import master

    count = master.drop_by_host(ctx.node.catalog, host.strip())
    if not count:
        raise PolicyError(Code.WRONG_DBMS_KEY_IN_DELETE, f"the master's ledger has no policy pushed by {host}",
                          hint="blockchain pull to stdout lists the policies; the table's host column names "
                               "who pushed each")
    return Message(f"{count} {'policy' if count == 1 else 'policies'} pushed by {host} dropped from the "
                   "master's ledger")


@command("create table ledger", http="POST", keywords=BLOCKCHAIN,
         options=[Opt("dbms", TEXT, required=True, help="blockchain: the master's ledger database")],
         examples=["create table ledger where dbms = blockchain"])
def create_table_ledger(ctx: Context, dbms: str) -> Result:
    """On the master: create the ledger table in the database `blockchain` (`blockchain create table`)."""
    if dbms.strip().lower() != "blockchain":
        raise CommandSyntaxError(f"the ledger table lives in the database 'blockchain', not '{dbms}'",
                                 hint="create table ledger where dbms = blockchain")
    return ctx.run("blockchain create table")


@command("blockchain update file", http="POST", keywords=BLOCKCHAIN,
         args=[Arg("file", FilePath(), required=False, help="the ledger file to take (default: blockchain.new "
                                                            "beside !blockchain_file)")],
         examples=["blockchain update file", "blockchain update file !tmp_dir/ledger.json"])
def blockchain_update_file(ctx: Context, file: str | None) -> Result:
    """Make a ledger file this node's ledger (a complete one only: the current ledger stays otherwise)."""
    from anynode.metadata.ledger import ledger

    book = ledger(ctx.node)
    path = Path(file) if file else book.path().with_name("blockchain.new")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PolicyError(Code.NO_LOCAL_BLOCKCHAIN, f"{path} does not exist",
                          hint="name a ledger file: blockchain update file <file>") from None
    except OSError as exc:
        raise PolicyError(Code.NO_LOCAL_BLOCKCHAIN, f"cannot read {path}: {exc.strerror}",
                          hint="name a readable ledger file") from None
    count = book.swap(data)
    return Message(f"the ledger is now {path}'s copy ({count} policies)")
