"""config from policy: servers from a policy's keys (values from the node's variables), its script lines, and
get config policies; a policy built and published the way deployment scripts do it, then applied."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from anynode.codes import Code
from anynode.errors import AnyNodeError, NotPermitted
from anynode.grammar.dispatch import Source
from anynode.metadata.policy import PolicyError
from anynode.script import check_script, run_script
from tests.helpers import free_port


def _listens(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _health(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=3) as reply:
        return int(reply.status)


def _publish(node: Any, body: dict[str, Any]) -> str:
    """Insert a config policy into the node's ledger; its id."""
    node.set_var("cfg", json.dumps({"config": body}))
    node.execute("blockchain insert where policy = !cfg and local = true")
    return str(node.execute(f"blockchain get config where name = {body['name']} bring [*][id]").to_text())


@pytest.fixture
def ports(node: Any) -> tuple[int, int]:
    """Free TCP and REST ports, in the node's variables as a deployment sets them."""
    tcp, rest = free_port(), free_port()
    for name, value in (("ip", "127.0.0.1"), ("srv_port", str(tcp)), ("web_port", str(rest)), ("bind_it", "true")):
        node.set_var(name, value)
    return tcp, rest


SERVERS = {"name": "cfg1", "company": "acme", "ip": "!ip", "port": "!srv_port.int", "tcp_bind": "!bind_it.bool",
           "rest_port": "!web_port.int", "rest_bind": "!bind_it.bool", "tcp_threads": 2, "rest_threads": 3}


def test_servers_start_on_the_addresses_the_variables_give(node: Any, ports: tuple[int, int]) -> None:
    tcp, rest = ports
    pid = _publish(node, SERVERS)
    text = node.execute(f"config from policy where id = {pid}").to_text()
    assert f"TCP started on 127.0.0.1:{tcp}" in text and f"REST started on 127.0.0.1:{rest}" in text
    assert _listens(tcp) and _health(rest) == 200
    shown = node.execute("get connections where format = json").to_json()
    assert shown["TCP"]["Bind Address"] == f"127.0.0.1:{tcp}"
    assert shown["REST"]["Bind Address"] == f"127.0.0.1:{rest}"
    assert "Threads Pool: 2" in node.services.status("TCP").details


def test_same_addresses_are_left_alone_and_new_ones_restart_the_server(node: Any, ports: tuple[int, int]) -> None:
    tcp, rest = ports
    pid = _publish(node, SERVERS)
    node.execute(f"config from policy where id = {pid}")
    first_rest = node.services.get("REST")
    again = node.execute(f"config from policy where id = {pid}").to_text()
    assert f"TCP left running on 127.0.0.1:{tcp}" in again and f"REST left running on 127.0.0.1:{rest}" in again
    assert node.services.get("REST") is first_rest
    moved = free_port()
    node.set_var("web_port", str(moved))
    text = node.execute(f"config from policy where id = {pid}").to_text()
    assert f"REST restarted (was 127.0.0.1:{rest}) on 127.0.0.1:{moved}" in text
    assert f"TCP left running on 127.0.0.1:{tcp}" in text
    assert _health(moved) == 200 and not _listens(rest)
    assert [s.name for s in node.services.statuses() if s.state == "Running"].count("REST") == 1


def test_the_script_stops_at_the_first_failing_line_and_the_outcome_is_kept(node: Any) -> None:
    lines = ["step1 = one", "'step2 = two'", "no such command here", "step4 = four"]
    pid = _publish(node, {"name": "cfg2", "company": "acme", "script": lines})
    with pytest.raises(AnyNodeError) as err:
        node.execute(f"config from policy where id = {pid}")
    assert err.value.message.startswith(f"script from policy {pid} failed at line #3 (no such command here):")
    assert (node.get_var("step1"), node.get_var("step2"), node.get_var("step4")) == ("one", "two", None)
    (row,) = node.execute("get config policies where format = json").to_json()
    assert (row["id"], row["name"], row["type"], row["lines_run"], row["lines"], row["status"]) == \
        (pid, "cfg2", "config", 2, 4, "failed")
    assert "line #3" in row["error"] and row["servers"] == []
    table = node.execute("get config policies")
    assert table.columns[:7] == ("Policy ID", "Name", "Type", "Servers", "Lines Run", "Status", "Error")
    assert table.rows[0][:6] == (pid, "cfg2", "config", "", "2/4", "failed")


def test_a_successful_run_is_listed_with_its_servers(node: Any, ports: tuple[int, int]) -> None:
    tcp, _ = ports
    body = {"name": "cfg3", "company": "acme", "local_ip": "!ip", "local_port": "!srv_port.int",
            "broker_port": 7, "script": ["ran = yes"]}
    pid = _publish(node, body)
    text = node.execute(f"config from policy where id = {pid}").to_text()
    assert "warning: message broker on port 7 not started: anynode has no message broker service" in text
    assert text.endswith("script: 1 of 1 lines run") and node.get_var("ran") == "yes"
    (row,) = node.execute("get config policies where format = json").to_json()
    assert row["status"] == "processed" and row["error"] == ""
    assert row["servers"][0] == f"TCP started on 127.0.0.1:{tcp}" and row["servers"][1].startswith("warning:")


def test_flow_commands_in_a_policy_script_say_where_they_belong(node: Any) -> None:
    pid = _publish(node, {"name": "cfg4", "company": "acme", "script": ["end script"]})
    with pytest.raises(AnyNodeError, match=r"line #1 \(end script\): 'end script' works only inside a script"):
        node.execute(f"config from policy where id = {pid}")


@pytest.mark.parametrize("body, code, words", [
    ({"name": "c", "company": "acme", "port": "!undefined_port.int", "ip": "!ip"}, Code.WRONG_POLICY,
     "nothing usable to configure: variables not defined: port (!undefined_port)"),
    ({"name": "c", "company": "acme", "rest_port": "many"}, Code.WRONG_POLICY, "rest_port is 'many', not a port"),
    ({"name": "c", "company": "acme", "script": {"a": 1}}, Code.WRONG_POLICY, "'script' must be a list"),
    ({"name": "c", "company": "acme", "rest_port": "!ip.int"}, Code.WRONG_POLICY,
     "rest_port is '!ip.int', and that variable does not hold a number"),
])
def test_policies_that_cannot_configure_say_why(node: Any, body: dict[str, Any], code: Code, words: str) -> None:
    node.set_var("ip", "127.0.0.1")
    pid = _publish(node, body)
    with pytest.raises(PolicyError) as err:
        node.execute(f"config from policy where id = {pid}")
    assert err.value.anylog_code == code and words in err.value.message
    assert node.execute("get config policies where format = json").to_json()[0]["status"] == "failed"


def test_a_port_in_use_fails_the_run_and_the_script_does_not_start(node: Any, ports: tuple[int, int]) -> None:
    tcp, _ = ports
    body = {"name": "cfg5", "company": "acme", "ip": "!ip", "port": "!srv_port.int", "tcp_bind": True,
            "script": ["after = ran"]}
    pid = _publish(node, body)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", tcp))
        taken.listen()
        with pytest.raises(AnyNodeError, match=f"^TCP server from policy {pid}: TCP failed to start") as err:
            node.execute(f"config from policy where id = {pid}")
    assert err.value.offset is None
    assert node.get_var("after") is None
    (row,) = node.execute("get config policies where format = json").to_json()
    assert row["status"] == "failed" and "TCP failed to start" in row["error"] and row["lines_run"] == 0


def test_an_unknown_id_and_a_policy_with_no_config_keys_are_refused(node: Any) -> None:
    node.execute('blockchain insert where policy = {"cluster": {"company": "acme", "name": "c1"}} and local = true')
    with pytest.raises(PolicyError, match="no policy with id 0123 in the local ledger") as err:
        node.execute("config from policy where id = 0123")
    assert err.value.anylog_code == Code.POLICY_NOT_AVAILABLE
    with pytest.raises(PolicyError, match="cluster policy 73c605d0d80af6f816ad35839b575b66 has nothing to configure"):
        node.execute("config from policy where id = 73c605d0d80af6f816ad35839b575b66")


# A deployment-style script of our own: it builds the config policy key by key from variables (quoted '!x.int'
# values stay for config from policy to resolve), publishes it, finds it again and applies it.
DEPLOY = """
on error ignore
set made = false
:look:
config_id = blockchain get config where company=!company and name=!cfg_name and node_type=!kind bring.first [*][id]
if !config_id then goto apply
if not !config_id and !made == true then goto failed
new_policy = ""
set policy new_policy [config] = {}
set policy new_policy [config][name] = !cfg_name
set policy new_policy [config][company] = !company
set policy new_policy [config][node_type] = !kind
set policy new_policy [config][ip] = '!ip'
if !bind_it == true then set policy new_policy [config][local_ip] = '!ip'
set policy new_policy [config][port] = '!srv_port.int'
set policy new_policy [config][tcp_bind] = '!bind_it.bool'
set policy new_policy [config][rest_port] = '!web_port.int'
set policy new_policy [config][rest_bind] = '!bind_it.bool'
set policy new_policy [config][rest_threads] = '!web_threads.int'
if !kind == operator then
<do set policy new_policy [config][script] = [
    "process !scripts/second.al",
    "if !kind == operator then set from_policy = yes"
]>
checked = json !new_policy
if not !checked then goto failed
on error goto failed
blockchain prepare policy !new_policy
policy_type = from !new_policy bring [*]
if !policy_type == config then blockchain insert where policy=!new_policy and local=true
set made = true
blockchain reload metadata
goto look
:apply:
on error goto failed
config from policy where id = !config_id
echo applied !config_id
end script
:failed:
echo failed
"""


def test_a_policy_built_like_the_deployment_scripts_build_it_configures_the_node(
        node: Any, ports: tuple[int, int], tmp_path: Path) -> None:
    tcp, rest = ports
    (tmp_path / "deploy.al").write_text(DEPLOY)
    (tmp_path / "second.al").write_text("second_ran = true\n")
    for name, value in (("company", "Acme Labs"), ("cfg_name", "op-configs"), ("kind", "operator"),
                        ("scripts", str(tmp_path)), ("web_threads", "4")):
        node.set_var(name, value)
    assert check_script(node, tmp_path / "deploy.al") == []
    shown: list[str] = []
    run_script(node, tmp_path / "deploy.al", emit=lambda r: shown.append(r.to_text()))
    pid = node.get_var("config_id")
    assert shown[-1] == f"applied {pid}"
    (policy,) = node.execute(f"blockchain get config where id = {pid}").to_json()
    assert policy["config"]["port"] == "!srv_port.int" and policy["config"]["rest_bind"] == "!bind_it.bool"
    assert _listens(tcp) and _health(rest) == 200
    assert node.get_var("second_ran") == "true" and node.get_var("from_policy") == "yes"
    assert "Threads Pool: 4" in node.services.status("REST").details


def test_a_failing_policy_script_goes_to_the_calling_scripts_error_handler(node: Any, tmp_path: Path) -> None:
    pid = _publish(node, {"name": "cfg6", "company": "acme", "script": ["first = 1", "run nothing at all"]})
    (tmp_path / "apply.al").write_text(f"on error goto cfg-failed\nconfig from policy where id = {pid}\n"
                                       "echo applied\nend script\n:cfg-failed:\necho handled\n")
    shown: list[str] = []
    run_script(node, tmp_path / "apply.al", emit=lambda r: shown.append(r.to_text()))
    assert shown == ["handled"] and node.get_var("first") == "1"


def test_peers_and_rest_clients_may_read_the_outcomes_but_not_configure(node: Any) -> None:
    pid = _publish(node, {"name": "cfg7", "company": "acme", "script": ["x = 1"]})
    for source in (Source.REMOTE, Source.REST):
        with pytest.raises(NotPermitted):
            node.execute(f"config from policy where id = {pid}", source)
    assert node.get_var("x") is None
    node.execute(f"config from policy where id = {pid}")
    assert node.execute("get config policies where format = json", Source.REMOTE).to_json()[0]["id"] == pid
