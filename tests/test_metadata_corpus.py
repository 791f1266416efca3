"""EdgeLake's deployment-script lines that build and publish policies (tests/data/anylog_lines.py) run, in
the order the scripts run them, and leave the policy the scripts mean."""

from __future__ import annotations

import json
from typing import Any

import pytest

from anynode.metadata.policy import PolicyError
from tests.data.anylog_lines import LINES
from tests.helpers import dead_address, logical


def corpus(start: str) -> str:
    """The corpus line that starts with ``start``, as the script loader hands it to the node."""
    (entry,) = [e for e in LINES if e["line"].startswith(start)]
    return logical(entry)


def run(node: Any, *lines: str) -> list[str]:
    return [node.execute(line).to_text() for line in lines]


def test_corpus_config_policy_is_built_and_published(node) -> None:  # type: ignore[no-untyped-def]
    master = dead_address()  # no master there: the policy is written locally, with a warning
    for name, value in (("config_name", "operator-acme-configs"), ("enable_dns", "true"),
                        ("is_dns_local", "false"), ("ledger_conn", master)):
        node.set_var(name, value)
    run(node,
        corpus('new_policy = ""'),
        corpus("set policy new_policy [config] = {}"),
        corpus("set policy new_policy [config][name] = !config_name"),
        "if !config_name then",  # config_policy.al's `if` before its `<do set policy ... [config][script]` block
        corpus("<do set policy new_policy [config][script]"),
        corpus("set policy new_policy [config][ip] = '!external_ip'"),
        "if !enable_dns == false",  # the `if` that the script's `else if` follows
        corpus("else if !enable_dns == true and (!is_dns_local"),
        corpus("set policy new_policy [config][port]"))
    assert run(node, corpus("validate_policy = json !new_policy"), "echo !validate_policy")[1].startswith('{"config"')
    (out,) = run(node, corpus("blockchain insert where policy=!new_policy"))
    assert "config policy" in out and f"warning: not pushed to master {master}" in out
    assert run(node, corpus("blockchain reload metadata"))[0].startswith("metadata loaded: 1 policies")
    (policy,) = json.loads(node.execute("blockchain get config").to_text())
    attrs = policy["config"]
    assert attrs["name"] == "operator-acme-configs" and attrs["ip"] == "!external_ip"
    assert attrs["local_ip"] == "!dns" and attrs["port"] == "!anylog_server_port.int"  # resolved later, by the node
    assert attrs["script"][2] == "run scheduler 1" and attrs["ledger"] == "local"


def test_corpus_node_policy_variables_in_brackets(node, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DNS_DOMAIN", "example.com")
    for name, value in (("node_type", "query"), ("enable_dns", "true"), ("dns", "q1.example.com")):
        node.set_var(name, value)
    run(node, "set policy new_policy [!node_type] = {}",
        corpus("set policy new_policy [!node_type][name] = !node_name"),
        corpus("if !enable_dns == true and ($DNS_DOMAIN or $DNS) then set policy"))
    assert json.loads(node.get_var("new_policy")) == {"query": {"name": node.name, "local_ip": "q1.example.com"}}


def test_corpus_insert_line_refuses_an_operator_without_cluster(node) -> None:  # type: ignore[no-untyped-def]
    (entry,) = [e for e in LINES if e["line"].startswith("blockchain insert where policy=!new_policy")]
    for name, value in entry["vars"].items():  # its operator policy has no cluster: AnyLog refuses it with 87
        node.set_var(name, value)
    with pytest.raises(PolicyError) as err:
        node.execute(logical(entry))
    assert err.value.anylog_code == 87 and "cluster" in err.value.message
