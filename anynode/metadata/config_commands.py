"""``config from policy`` and ``get config policies``: a node configured by a policy in the ledger."""

from __future__ import annotations

from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Opt
from anynode.grammar.types import FORMAT, TEXT
from anynode.metadata.build import BLOCKCHAIN
from anynode.results import Json, Message, Result, Table

CONFIG = (*BLOCKCHAIN, "configuration", "background processes")


@command("config from policy", http="POST", keywords=CONFIG, options=[
    Opt("id", TEXT, required=True, help="the id of the policy (any type) in the local ledger"),
], examples=["config from policy where id = !config_id",
             "config from policy where id = 64283dba96a4c818074d564c6be20d5c"])
def config_from_policy(ctx: Context, id: str) -> Result:
    """Configure this node from a policy: start the servers its keys describe, then run its script lines.

    TCP from ip/port (advertised) and local_ip/local_port (this machine's
    network), with tcp_bind and tcp_threads; REST from rest_port, on rest_ip
    (listening there only) or else ip, with rest_bind, rest_threads and
    rest_timeout. Values such as "!anylog_rest_port.int" are read from the
    node's variables; a key whose variable is not defined is left out. A
    server already running on the same addresses is left alone; one running
    elsewhere is restarted on the new ones. broker_port gets a warning: anynode
    has no message broker. Then each line of "script" runs as a line of a
    local script, in order; the first that fails stops the rest and the error
    names its number. `get config policies` shows what was done.
    """
    from anynode.metadata.config_policy import configure

    return Message(configure(ctx, id))


@command("get config policies", remote=True, keywords=CONFIG,
         options=[Opt("format", FORMAT, default="table", help="table, or json for programs")],
         examples=["get config policies", "get config policies where format = json"])
def get_config_policies(ctx: Context, format: str) -> Result:
    """The policies this node was configured from: servers started, script lines run, status and error."""
    from anynode.metadata.config_policy import outcomes

    done = [o.to_json() for o in outcomes(ctx).all()]
    if format == "json":
        return Json(done)
    columns = ["Policy ID", "Name", "Type", "Servers", "Lines Run", "Status", "Error", "Time"]
    rows = [(d["id"], d["name"], d["type"], "; ".join(d["servers"]), f"{d['lines_run']}/{d['lines']}",
             d["status"], d["error"], d["time"]) for d in done]
    return Table.of(columns, rows, title="Config policies")
