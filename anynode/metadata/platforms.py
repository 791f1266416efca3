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
from anynode.grammar.parser import Rest
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.types import TEXT, Int, Words
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


_PLATFORM = Arg("platform", TEXT, help="the platform: optimism, ethereum ...")
_KEYS = [Opt("private_key", TEXT, help="the account's private key"),
         Opt("public_key", TEXT, help="the account's public key"),
         Opt("contract", TEXT, help="the address of the policy contract")]
_GAS = [Opt("gas_read", Int(0), help="gas for reads"), Opt("gas_write", Int(0), help="gas for writes")]


@command("blockchain connect to", args=[_PLATFORM], keywords=BLOCKCHAIN, options=[
    Opt("provider", TEXT, help="the platform's endpoint (URL)"), *_KEYS, *_GAS,
    Opt("network", TEXT, help="the platform's network"),
    Opt("certificate_dir", TEXT, help="Hyperledger: the certificates' directory"),
    Opt("config_file", TEXT, help="Hyperledger: the network's connection file"),
], examples=["blockchain connect to optimism where provider = !provider"])
def blockchain_connect_to(ctx: Context, platform: str, provider: str | None, private_key: str | None,
                          public_key: str | None, contract: str | None, gas_read: int | None, gas_write: int | None,
                          network: str | None, certificate_dir: str | None, config_file: str | None) -> Result:
    """AnyLog: connect to a blockchain platform. Not available in anynode: it fails, saying why."""
    raise _refuse(f"cannot connect to {platform}")


@command("blockchain set account info", keywords=BLOCKCHAIN, options=[
    Opt("platform", TEXT, required=True, help="the platform: optimism, ethereum ..."), *_KEYS, *_GAS,
    Opt("chain_id", Int(0), help="the chain's id"),
], examples=["blockchain set account info where platform = optimism and contract = !contract"])
def blockchain_set_account_info(ctx: Context, platform: str, private_key: str | None, public_key: str | None,
                                contract: str | None, gas_read: int | None, gas_write: int | None,
                                chain_id: int | None) -> Result:
    """AnyLog: set the keys or contract of a blockchain platform account. Not available in anynode."""
    raise _refuse(f"no {platform} account to set")


@command("blockchain deploy contract", keywords=BLOCKCHAIN, options=[
    Opt("platform", TEXT, required=True, help="the platform: optimism, ethereum ..."),
    Opt("public_key", TEXT, required=True, help="the account's public key"),
], examples=["contract = blockchain deploy contract where platform = optimism and public_key = !public_key"])
def blockchain_deploy_contract(ctx: Context, platform: str, public_key: str) -> Result:
    """AnyLog: deploy the policy contract on a blockchain platform. Not available in anynode."""
    raise _refuse(f"no contract to deploy on {platform}")


@command("blockchain commit to", args=[_PLATFORM, Arg("policy", Words(), help="the policy (!name)")],
         keywords=BLOCKCHAIN, examples=["blockchain commit to optimism !policy"])
def blockchain_commit_to(ctx: Context, platform: str, policy: Rest) -> Result:
    """AnyLog: write a policy to a blockchain platform. Not available in anynode (insert with a master)."""
    raise _refuse(f"cannot commit to {platform}")


@command("blockchain update to", args=[_PLATFORM, Arg("policy_id", TEXT, help="the id of the policy to update"),
                                       Arg("policy", Words(), help="the new policy (!name)")],
         keywords=BLOCKCHAIN, examples=["blockchain update to optimism !policy_id !policy"])
def blockchain_update_to(ctx: Context, platform: str, policy_id: str, policy: Rest) -> Result:
    """AnyLog: update a policy on a blockchain platform. Not available in anynode (blockchain replace policy)."""
    raise _refuse(f"cannot update a policy on {platform}")


@command("blockchain checkout from", args=[_PLATFORM], keywords=BLOCKCHAIN,
         examples=["blockchain checkout from optimism"])
def blockchain_checkout_from(ctx: Context, platform: str) -> Result:
    """AnyLog: read the policies of a blockchain platform. Not available in anynode (sync from a master)."""
    raise _refuse(f"cannot check out from {platform}")


@command("get platforms", remote=True, keywords=BLOCKCHAIN, examples=["get platforms"])
def get_platforms(ctx: Context) -> Result:
    """The blockchain platforms this node is connected to: none, as anynode keeps its ledger with a master."""
    return Message("No blockchain platform is connected (anynode keeps its ledger with a master node)")
