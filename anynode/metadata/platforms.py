"""Blockchain platforms (Optimism, Ethereum ...): declared, so scripts parse, and refused with the reason.

AnyLog can keep the ledger on a public blockchain through a smart contract
instead of a master node. anynode keeps it with a master node only (``run
blockchain sync where source = master``), so the commands that connect to a
platform, set its account, deploy or use its contract are known words that
fail when they run, saying so, rather than "unknown command"; a script's
``on error`` handles them as any failure. ``get platforms`` answers: none.
"""

from __future__ import annotations

from anynode.codes import Code
from anynode.errors import AnyNodeError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.tokens import Token
from anynode.metadata.build import BLOCKCHAIN
from anynode.results import Message, Result

_HINT = "keep the ledger with a master node: run blockchain sync where source = master and connection = ip:port"


class PlatformUnavailable(AnyNodeError):
    """A blockchain-platform command: anynode keeps policies with a master node, not on a public blockchain."""

    anylog_code = Code.PROCESS_FAILURE
    http_status = 501


def _refuse(what: str) -> PlatformUnavailable:
    return PlatformUnavailable(f"{what}: anynode does not connect to blockchain platforms (Optimism, Ethereum ...)",
                               hint=_HINT)


@command("blockchain connect to", raw=True, keywords=BLOCKCHAIN, examples=[
    "blockchain connect to optimism where provider = !provider"])
def blockchain_connect_to(ctx: Context, tokens: list[Token]) -> Result:
    """AnyLog: connect to a blockchain platform. Not available in anynode: it fails, saying why."""
    platform = tokens[0].text if tokens else "a platform"
    raise _refuse(f"cannot connect to {platform}")


@command("blockchain set account info", raw=True, keywords=BLOCKCHAIN, examples=[
    "blockchain set account info where platform = optimism and contract = !contract"])
def blockchain_set_account_info(ctx: Context, tokens: list[Token]) -> Result:
    """AnyLog: set the keys or contract of a blockchain platform account. Not available in anynode."""
    raise _refuse("no blockchain account to set")


@command("blockchain deploy contract", raw=True, keywords=BLOCKCHAIN, examples=[
    "contract = blockchain deploy contract where platform = optimism and public_key = !public_key"])
def blockchain_deploy_contract(ctx: Context, tokens: list[Token]) -> Result:
    """AnyLog: deploy the policy contract on a blockchain platform. Not available in anynode."""
    raise _refuse("no contract to deploy")


@command("blockchain commit to", raw=True, keywords=BLOCKCHAIN, examples=[
    "blockchain commit to optimism !policy"])
def blockchain_commit_to(ctx: Context, tokens: list[Token]) -> Result:
    """AnyLog: write a policy to a blockchain platform. Not available in anynode (insert with a master)."""
    raise _refuse("no platform to commit to")


@command("blockchain checkout from", raw=True, keywords=BLOCKCHAIN, examples=[
    "blockchain checkout from optimism"])
def blockchain_checkout_from(ctx: Context, tokens: list[Token]) -> Result:
    """AnyLog: read the policies of a blockchain platform. Not available in anynode (sync from a master)."""
    raise _refuse("no platform to check out from")


@command("get platforms", remote=True, keywords=BLOCKCHAIN, examples=["get platforms"])
def get_platforms(ctx: Context) -> Result:
    """The blockchain platforms this node is connected to: none, as anynode keeps its ledger with a master."""
    return Message("No blockchain platform is connected (anynode keeps its ledger with a master node)")
