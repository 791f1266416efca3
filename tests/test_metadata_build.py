"""Every way EdgeLake's deployment scripts build a policy: JSON literals, set policy, create policy,
blockchain prepare policy, json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from anynode.errors import AnyNodeError, CommandSyntaxError

CLUSTER_ID = "73c605d0d80af6f816ad35839b575b66"


def var(node: Any, name: str) -> Any:
    return json.loads(node.get_var(name))


def script(node: Any, tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.al"
    path.write_text(text)
    node.execute(f"process {path}")


def test_build_json_literal_over_several_lines_in_a_block(node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    node.set_var("company_name", "Acme")
    script(node, tmp_path, """
<new_policy = {
    "blockchain-info": {
        "name": "blockchain info",
        "company": !company_name,
        "chain_id": "!chain_id"
}}>
blockchain insert where policy = !new_policy and local = true
""")
    (policy,) = json.loads(node.execute("blockchain get blockchain-info").to_text())
    assert policy["blockchain-info"]["company"] == "Acme"  # unquoted: filled in at insert, as AnyLog does
    assert policy["blockchain-info"]["chain_id"] == "!chain_id"  # quoted: literal


def test_build_json_literal_with_open_brackets_continues_without_a_block(node, tmp_path) -> None:  # type: ignore[no-untyped-def]
    script(node, tmp_path, 'p = {"config": {\n  "name": "monitoring policy",\n  "id": "monitoring-config"\n}}\n'
                           "blockchain insert where policy = !p and local = true\n")
    assert node.execute("blockchain test monitoring-config").to_text() == "ID Status: in Blockchain file"


def test_build_set_policy_starts_and_fills_a_policy(node) -> None:  # type: ignore[no-untyped-def]
    node.execute('new_policy = ""')
    node.execute("set policy new_policy [config] = {}")
    node.execute("set policy new_policy [config][name] = !node_name")
    node.execute("set policy new_policy [config][ip] = '!external_ip'")
    node.execute("set policy new_policy [config][port] = '!anylog_server_port.int'")
    assert var(node, "new_policy") == {"config": {"name": node.name, "ip": "!external_ip",
                                                  "port": "!anylog_server_port.int"}}


def test_build_set_policy_variables_in_brackets_and_typed_values(node) -> None:  # type: ignore[no-untyped-def]
    for name, value in (("node_type", "operator"), ("port", "32148"), ("is_main", "true"), ("loc", "1.5, 2.5")):
        node.set_var(name, value)
    node.execute("set policy p [!node_type] = {}")
    node.execute("set policy p [!node_type][port] = !port.int")
    node.execute("set policy p [!node_type][main] = !is_main.bool")
    node.execute("set policy p [!node_type][loc] = !loc")
    node.execute("set policy p [!node_type][text_port] = !port")
    assert var(node, "p") == {"operator": {"port": 32148, "main": True, "loc": "1.5, 2.5", "text_port": "32148"}}


def test_build_set_policy_lists_appends_and_several_assignments(node) -> None:  # type: ignore[no-untyped-def]
    node.execute('set policy p [cluster] = {} and [cluster][table] = [{"dbms": "demo", "name": "s"}]')
    node.execute('set policy p [cluster][table] + {"dbms": "demo", "name": "t"}')
    node.execute('set policy p [config] = {}')
    node.execute('set policy p [config][script] = [ "run scheduler 1", "if !x == 1 then echo y" ]')
    node.execute("set policy p[config][name] = c1")
    assert var(node, "p") == {"cluster": {"table": [{"dbms": "demo", "name": "s"}, {"dbms": "demo", "name": "t"}]},
                              "config": {"script": ["run scheduler 1", "if !x == 1 then echo y"], "name": "c1"}}


def test_build_set_policy_after_if_then(node) -> None:  # type: ignore[no-untyped-def]
    node.set_var("node_type", "query")
    node.set_var("dns", "q.example")
    node.execute("set policy p [!node_type] = {}")
    node.execute("if !dns then set policy p [!node_type][local_ip] = !dns")
    assert var(node, "p") == {"query": {"local_ip": "q.example"}}


@pytest.mark.parametrize("line, says", [
    ("set policy p [config][name] = x", "no [config] yet"),
    ("set policy p [config] = !undefined_thing", "!undefined_thing"),
    ("set policy p [!undefined_thing] = {}", "!undefined_thing"),
    ("set policy p [config]", "needs [key] = value"),
    ("set policy p [config] = {nope", "never closed"),
    ('set policy p [config] = {"a": }', "not valid JSON"),
    ("set policy p [config] = a b", "unexpected 'b'"),
    ("set policy p config = {}", "not a policy path"),
    ("set policy p [config] = {} and", "not followed by [key] = value"),
])
def test_build_set_policy_errors_say_what_is_wrong(node, line: str, says: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandSyntaxError) as err:
        node.execute(line)
    assert says in err.value.one_line()


def test_build_set_policy_on_a_variable_that_is_not_json(node) -> None:  # type: ignore[no-untyped-def]
    node.set_var("p", "hello")
    with pytest.raises(CommandSyntaxError, match="does not hold a JSON object"):
        node.execute("set policy p [config] = {}")


def test_build_create_policy_values_stay_text(node) -> None:  # type: ignore[no-untyped-def]
    node.set_var("company_name", "New Company")
    node.execute("p = create policy config where name = cfg and company = !company_name and port = 32048")
    assert var(node, "p") == {"config": {"name": "cfg", "company": "New Company", "port": "32048"}}


def test_build_create_policy_with_defaults_as_anylog(node) -> None:  # type: ignore[no-untyped-def]
    node.set_var("ip", "10.0.0.1")
    node.set_var("external_ip", "203.0.113.5")
    node.execute("p = create policy master with defaults where company = acme and name = m1")
    assert var(node, "p") == {"master": {"company": "acme", "name": "m1", "ip": "203.0.113.5",
                                         "internal_ip": "10.0.0.1", "port": 32048, "rest_port": 32049}}
    node.execute("c = create policy cluster with defaults where company = acme and name = c1")
    assert var(node, "c") == {"cluster": {"company": "acme", "name": "c1", "status": "active"}}
    node.execute("blockchain insert where policy = !c and local = true")
    with pytest.raises(AnyNodeError) as err:  # defaults check the policy against the ledger, as an insert would
        node.execute("c = create policy cluster with defaults where company = acme and name = c1")
    assert err.value.anylog_code == 180


def test_build_create_policy_operator_with_defaults_gets_a_member(node) -> None:  # type: ignore[no-untyped-def]
    node.execute("blockchain insert where policy = {\"cluster\": {\"company\": \"acme\", \"name\": \"c1\"}} "
                 "and local = true")
    node.execute(f"o = create policy operator with defaults where company = acme and name = op1 and "
                 f"cluster = {CLUSTER_ID}")
    attrs = var(node, "o")["operator"]
    assert attrs["port"] == 32148 and attrs["rest_port"] == 32149 and 1 <= attrs["member"] <= 255


@pytest.mark.parametrize("line, says", [
    ("p = create policy", "needs a policy type"),
    ("p = create policy master with where name = m1", "'defaults'"),
    ("p = create policy master where", "not followed by key = value"),
    ("p = create policy master where name = m1 and name = m2", "given twice"),
    ("p = create policy master where name = !nothing_here", "!nothing_here"),
    ("p = create policy master name = m1", "unexpected 'name'"),
])
def test_build_create_policy_errors(node, line: str, says: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandSyntaxError) as err:
        node.execute(line)
    assert says in err.value.one_line()


def test_build_prepare_policy_gives_the_insert_id_in_place(node) -> None:  # type: ignore[no-untyped-def]
    node.execute('p = {"cluster": {"company": "acme", "name": "c1"}}')
    assert node.execute("blockchain prepare policy !p").to_text() == ""
    prepared = var(node, "p")["cluster"]
    assert prepared["id"] == CLUSTER_ID and prepared["date"].endswith("Z")
    out = node.execute("blockchain insert where policy = !p and local = true").to_text()
    assert CLUSTER_ID in out
    (stored,) = json.loads(node.execute("blockchain get cluster").to_text())
    assert stored["cluster"]["date"] == prepared["date"]


def test_build_prepare_policy_of_a_value_shows_it(node) -> None:  # type: ignore[no-untyped-def]
    out = node.execute('blockchain prepare policy {"master": {"company": "acme", "name": "m1", "ip": "127.0.0.1", '
                       '"internal_ip": "127.0.0.1", "port": 32048, "rest_port": 32049}}').to_text()
    assert json.loads(out)["master"]["id"] == "0f3b3512d8535bcd611b95c9c5707cb6"


def test_build_prepare_policy_refuses_what_is_not_a_policy(node) -> None:  # type: ignore[no-untyped-def]
    node.set_var("p", '{"a": 1}')
    with pytest.raises(AnyNodeError) as err:
        node.execute("blockchain prepare policy !p")
    assert err.value.anylog_code == 87
    with pytest.raises(CommandSyntaxError, match="takes one policy"):
        node.execute("blockchain prepare policy")


def test_build_json_command_checks_a_policy(node) -> None:  # type: ignore[no-untyped-def]
    node.execute("set policy p [config] = {} and [config][name] = c")
    assert node.execute("json !p test").to_text() == "true"
    assert json.loads(node.execute("json !p").to_text()) == {"config": {"name": "c"}}
    node.set_var("bad", '{"config": ')
    assert node.execute("json !bad test").to_text() == "false"
