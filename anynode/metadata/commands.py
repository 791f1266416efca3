"""The ledger commands: insert, add, delete, get, read, test, wait, load/reload, and the metadata version.

Writes go to the node's local ledger (``ledger.py``) and, with a ``master``
destination, to the master's ledger over TCP (``blockchain push`` there, see
``master_commands.py``); a failed push after the local write is a warning,
as in AnyLog. ``blockchain get`` takes a type, a list of types or ``*``, then
``where`` and ``bring`` as ``select.py`` and ``bring.py`` read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from anynode.codes import Code
from anynode.errors import CommandSyntaxError
from anynode.grammar.dispatch import Context
from anynode.grammar.parser import Rest
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.tokens import GROUP, STRING, WORD, Token
from anynode.grammar.types import BOOL, SECONDS, TEXT, HostPort, Words
from anynode.metadata.build import BLOCKCHAIN, expander
from anynode.metadata.policy import PolicyError, add_id_date, parse_policy, policy_id_of, policy_type
from anynode.results import Json, Message, Result

if TYPE_CHECKING:
    from anynode.metadata.ledger import Ledger, Snapshot

# The ledger, the checks and the where/bring language load on first use: a one-shot command that never
# touches the metadata does not pay for them at start-up (scripts/bench_startup.py).


def _book(ctx: Context) -> Ledger:
    """This node's ledger."""
    from anynode.metadata.ledger import ledger

    return ledger(ctx.node)



@dataclass(frozen=True)
class PolicyList(Json):
    """Policies as a JSON list; as text (what an assignment stores) an empty list is nothing, as in AnyLog."""

    kind: ClassVar[str] = "json"

    def to_text(self) -> str:
        return super().to_text() if self.value else ""


def _insert(ctx: Context, text: str, local: bool, write: bool = True) -> tuple[str, str, dict[str, Any]]:
    policy = add_id_date(parse_policy(text, expander(ctx)))
    from anynode.metadata.rules import validate

    book = _book(ctx)
    if write:
        written: dict[str, Any] = book.insert(policy, check=validate, local=local)
    else:
        written = validate(policy, book.snapshot().policies) or policy
    kind = policy_type(written)
    return kind, str(written[kind]["id"]), written


def _on_master(ctx: Context, master: str, command: str) -> str | None:
    """Run ``command`` on the master; None when it worked, else the error in one line."""
    from anynode.errors import AnyNodeError
    from anynode.metadata.sync import ask

    try:
        ask(ctx.node, master, command)
    except AnyNodeError as exc:
        return exc.one_line()
    return None


@command("blockchain insert", http="POST", keywords=BLOCKCHAIN, options=[
    Opt("policy", TEXT, required=True, help="the policy: !name of a variable holding it, or JSON"),
    Opt("local", BOOL, help="write it to this node's ledger (the default once a destination is named)"),
    Opt("master", HostPort(), help="the master node to push it to (blockchain push there, over TCP)"),
], examples=[
    "blockchain insert where policy = !new_policy and local = true",
    "blockchain insert where policy = !new_policy and local = true and master = !ledger_conn",
    'blockchain insert where policy = {"master": {"company": "acme", "name": "m1"}} and local = true',
])
def blockchain_insert(ctx: Context, policy: str, local: bool | None, master: str | None) -> Result:
    """Publish a policy: give it its id and date, check it against its type's rules and the ledger, write it.

    Name at least one destination: `local = true` writes the node's own
    ledger (marked "ledger": "local" until a sync brings the master's copy);
    `master = ip:port` pushes it to the master's ledger over TCP. `local`
    is true unless it is set to false. When the local write worked and the
    push failed, the reply is a warning (the next sync pushes the policy on);
    when nothing was written it is an error. Errors carry AnyLog's codes:
    87 wrong structure, 180 values that must be unique, 149 an ip:port in
    use, 118 a missing parent cluster, 70 an id the ledger has.
    """
    if local is None and master is None:
        raise CommandSyntaxError("'blockchain insert' needs a destination",
                                 hint="add: and local = true  (or: and master = ip:port)")
    if local is False and master is None:
        raise PolicyError(Code.PROCESS_FAILURE, "with local = false and no master nothing would be written",
                          hint="add: and local = true  or  and master = ip:port")
    write = local is not False
    kind, pid, written = _insert(ctx, policy, local=True, write=write)
    text = f"{kind} policy {pid} added to the local ledger" if write else ""
    if master is None:
        return Message(text)
    from anynode.metadata.policy import to_line

    failed = _on_master(ctx, master, f"blockchain push {to_line(written)}")
    if failed is None:
        return Message((text + " and " if text else f"{kind} policy {pid} ") + f"pushed to master {master}")
    if not write:
        raise PolicyError(Code.PROCESS_FAILURE, f"{kind} policy {pid} was not written: master {master}: {failed}",
                          hint="check the master (get status there), or add: and local = true")
    return Message(f"{text}; warning: not pushed to master {master}: {failed}")


@command("blockchain add", http="POST", keywords=BLOCKCHAIN,
         args=[Arg("policy", Words(), help="the policy (!name or JSON), or a JSON list of policies")],
         examples=["blockchain add !operator_policy", 'blockchain add {"query": {"company": "acme", "name": "q1"}}'])
def blockchain_add(ctx: Context, policy: Rest) -> Result:
    """Add a policy (or a list of them) to this node's ledger only, checked as an insert is, without a ledger mark."""
    import json

    text = policy.text
    try:
        items = json.loads(text)
    except ValueError:
        items = None
    if not (isinstance(items, list) and len(items) > 1):
        kind, pid, _ = _insert(ctx, text, local=False)
        return Message(f"{kind} policy {pid} added to the local ledger")
    added = [_insert(ctx, json.dumps(item), local=False)[1] for item in items]
    return Message(f"{len(added)} policies added to the local ledger")


@command("blockchain delete policy", http="POST", keywords=BLOCKCHAIN, options=[
    Opt("id", TEXT, required=True, help="the id of the policy"),
    Opt("local", BOOL, help="delete it from this node's ledger (the default)"),
    Opt("master", HostPort(), help="the master to delete it from too (blockchain drop policy there, over TCP)"),
], examples=["blockchain delete policy where id = 0f3b3512d8535bcd611b95c9c5707cb6",
             "blockchain delete policy where id = !policy_id and local = true and master = !ledger_conn"])
def blockchain_delete_policy(ctx: Context, id: str, local: bool | None, master: str | None) -> Result:
    """Remove a policy from this node's ledger (rewritten crash-safe) and, with `master`, from the master's.

    A failed delete on the master after the local one is a warning; when
    neither ledger had the policy it is an error.
    """
    if local is False and master is None:
        raise PolicyError(Code.PROCESS_FAILURE, "with local = false and no master nothing would be deleted",
                          hint="leave out local = false, or add: and master = ip:port")
    text = ""
    if local is not False:
        try:
            gone = _book(ctx).delete(id)
            text = f"{policy_type(gone)} policy {id} deleted from the local ledger"
        except PolicyError:
            if master is None:
                raise
    if master is None:
        return Message(text)
    failed = _on_master(ctx, master, f"blockchain drop policy where id = {id}")
    if failed is None:
        return Message((text + " and " if text else f"policy {id} deleted ") + f"from master {master}")
    if not text:
        raise PolicyError(Code.POLICY_NOT_AVAILABLE, f"policy {id} was not deleted: not in the local ledger, "
                          f"and master {master}: {failed}", hint="'blockchain get *' lists the policies")
    return Message(f"{text}; warning: not deleted on master {master}: {failed}")


def _types(tok: Token) -> tuple[str, ...] | None:
    """The types a ``blockchain get`` selector names; None for ``*``."""
    text = tok.text.strip()
    if tok.kind == GROUP:
        names = tuple(n.strip().strip("'\"").lower() for n in text[1:-1].split(","))
        if not all(names):
            raise CommandSyntaxError(f"'{text}' has an empty type", offset=tok.start,
                                     hint="write: blockchain get (operator, query)")
        return names
    if tok.kind not in (WORD, STRING) or not text:
        raise CommandSyntaxError(f"'{text}' is not a policy type", offset=tok.start,
                                 hint="write: blockchain get operator  or  (operator, query)  or  *")
    return None if text == "*" else (text.lower(),)


def _refine(ctx: Context, policies: list[dict[str, Any]] | None, rest: list[Token], snap: Snapshot | None = None,
            types: tuple[str, ...] | None = None) -> Result:
    """The ``[where <condition>] [bring[.modifiers] <template>]`` part of ``blockchain get``: over ``policies``,
    or over the policies of ``types`` in ``snap``, found through its index."""
    from anynode.metadata.bring import as_result, bring, parse_bring
    from anynode.metadata.select import parse_where, select

    at = next((i for i, t in enumerate(rest) if t.kind == WORD and t.text.lower().split(".")[0] == "bring"),
              len(rest))
    head = rest[:at]
    if head:
        if not head[0].is_word("where") or len(head) == 1:
            raise CommandSyntaxError(f"unexpected '{head[0].text}' after the policy type", offset=head[0].start,
                                     hint="write: blockchain get operator where company = acme bring [*][ip]")
        condition = parse_where(head[1:])
        if snap is not None:
            policies = snap.index.select(types, condition)
        else:
            policies = select(policies or [], "*", condition)
    elif snap is not None:
        policies = [*snap.of_types(types)]
    policies = policies or []
    if at == len(rest):
        return PolicyList(policies)
    spec = parse_bring(rest[at:])
    everything = _book(ctx).policies() if spec.has("children") else None
    return as_result(bring(policies, spec, everything=everything))


@command("blockchain get", raw=True,
         syntax="<type> | (<type>, ...) | * [where <conditions>] [bring <template>]",
         remote=True, keywords=BLOCKCHAIN,
         examples=["blockchain get operator", "blockchain get (master, query)", "blockchain get *",
                   "operators = blockchain get operator"])
def blockchain_get(ctx: Context, tokens: list[Token]) -> Result:
    """Policies of a type, of several types, or all, filtered and shaped: blockchain get TYPE [where ...] [bring ...].

    Reads the ledger in memory (reloaded when the file changes). ``where``
    takes key = value pairs or an expression ([name] == a or ...), ``bring``
    a template and modifiers (docs/metadata-query.md). `blockchain get root
    policies` gives the policies that have children (other policies name
    them as parent) and no parent themselves. At the prompt no match shows
    []; assigned, the result is the JSON list or the brought text, or
    nothing when no policy matches.
    """
    if not tokens:
        raise CommandSyntaxError("'blockchain get' needs a policy type",
                                 hint="write: blockchain get operator  (or *, or (master, query))")
    if len(tokens) > 1 and tokens[0].is_word("root") and tokens[1].is_word("policies"):
        from anynode.metadata.select import roots_of

        found: list[dict[str, Any]] = roots_of(_book(ctx).snapshot().policies)
        return _refine(ctx, found, tokens[2:]) if len(tokens) > 2 else PolicyList(found)
    snap, types = _book(ctx).snapshot(), _types(tokens[0])
    if len(tokens) > 1:
        return _refine(ctx, None, tokens[1:], snap, types)
    return PolicyList(snap.of_types(types))


@command("blockchain read", remote=True, keywords=BLOCKCHAIN, examples=["blockchain read"])
def blockchain_read(ctx: Context) -> Result:
    """Show the policies in the ledger file as it is on disk now (not the copy in memory)."""
    return PolicyList(_book(ctx).read_file())


@command("blockchain test", remote=True, keywords=BLOCKCHAIN,
         args=[Arg("id", TEXT, required=False, help="a policy id: say whether the ledger file has it")],
         examples=["blockchain test", "blockchain test 0f3b3512d8535bcd611b95c9c5707cb6"])
def blockchain_test(ctx: Context, id: str | None) -> Result:
    """Check the ledger file: every line one policy with an id, no id twice; or whether it has one id."""
    book = _book(ctx)
    if id is not None:
        known = any(policy_id_of(p) == id for p in book.read_file())
        return Message("ID Status: in Blockchain file" if known else "ID status: not in Blockchain file")
    problems = book.problems()
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise PolicyError(Code.WRONG_POLICY,
                          f"Blockchain file status: Failure: {book.path()}: " + "; ".join(problems[:3]) + more,
                          hint="fix or remove those lines, or take a good copy from another node")
    return Message("Blockchain file status: OK")


@command("get metadata version", remote=True, keywords=BLOCKCHAIN, examples=["get metadata version"])
def get_metadata_version(ctx: Context) -> Result:
    """The md5 of the ledger file: nodes with the same policies in the same order show the same version."""
    book = _book(ctx)
    version = book.version()
    if version is None:
        raise PolicyError(Code.NO_LOCAL_BLOCKCHAIN,
                          f"{book.path()} does not exist", hint="insert a policy or sync with a master first")
    return Message(version)


def _load(book: Ledger, force: bool) -> Result:
    read = book.load(force)
    count = len(book.snapshot().policies)
    return Message(f"metadata {'loaded' if read else 'is current'}: {count} policies from {book.path()}")


@command("blockchain load metadata", http="POST", keywords=BLOCKCHAIN, examples=["blockchain load metadata"])
def blockchain_load_metadata(ctx: Context) -> Result:
    """Read the ledger file into memory if it changed since it was read."""
    return _load(_book(ctx), False)


@command("blockchain reload metadata", http="POST", keywords=BLOCKCHAIN, examples=["blockchain reload metadata"])
def blockchain_reload_metadata(ctx: Context) -> Result:
    """Read the ledger file into memory again, changed or not."""
    return _load(_book(ctx), True)


@command("blockchain wait", keywords=BLOCKCHAIN, options=[
    Opt("id", TEXT, help="the id of the policy to wait for"),
    Opt("policy", TEXT, help="the policy to wait for (!name; it must have its id)"),
    Opt("timeout", SECONDS, default=15.0, help="how long to wait"),
], examples=["blockchain wait where id = !cluster_id", "blockchain wait where policy = !new_policy",
             "blockchain wait where id = !config_id and timeout = 30 seconds"])
def blockchain_wait(ctx: Context, id: str | None, policy: str | None, timeout: float) -> Result:
    """Wait until the local ledger has a policy (it arrives with a sync or an insert); true when it does.

    Checks every 100 ms; past the timeout it fails with AnyLog's 151
    (Policy not in local file). Stopping the node ends the wait.
    """
    if (id is None) == (policy is None):
        raise CommandSyntaxError("'blockchain wait' needs the id or the policy (one of them)",
                                 hint="write: blockchain wait where id = !policy_id")
    wanted = id if id is not None else policy_id_of(parse_policy(policy or "", expander(ctx)))
    if wanted is None:
        raise PolicyError(Code.WRONG_POLICY,
                          "the policy to wait for has no id", hint="blockchain prepare policy !p gives it one")
    book = _book(ctx)
    import time

    deadline = time.monotonic() + timeout
    while True:
        if any(policy_id_of(p) == wanted for p in book.snapshot().policies):
            return Message("true")
        left = deadline - time.monotonic()
        if left <= 0 or ctx.node.exit_event.wait(min(left, 0.1)):
            raise PolicyError(Code.POLICY_NOT_IN_FILE, f"no policy with id {wanted} arrived within {timeout:g} seconds",
                              hint="check the sync (get synchronizer) or insert the policy")
