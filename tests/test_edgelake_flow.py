"""The flows EdgeLake's deployment scripts drive, each through a small script of our own (issue 13, items 1-2):
a config policy published then applied (its script lines process more scripts, start the scheduler, sync, the
streamer and the operator), a cluster policy and a node policy with location fields, and the operator line the
scripts write, with compress_sql and archive_sql."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from anynode.codes import Code
from anynode.errors import AnyNodeError
from anynode.metadata.policy import PolicyError
from anynode.node import Node
from anynode.script import check_script, run_script
from tests.helpers import free_port, start_tcp, wait_until


def master_node(home: Path) -> tuple[Node, str]:
    """A master: the ledger table, TCP on a free port, syncing from itself."""
    m = Node(home, name="m1")
    m.execute("connect dbms blockchain where type = sqlite")
    m.execute("blockchain create table")
    addr = start_tcp(m)
    m.execute(f"run blockchain sync where source = master and time = 1 seconds and dest = file and connection = {addr}")
    return m, addr


def run(node: Node, path: Path) -> list[str]:
    """Check the script (no unknown command), run it; the text of each result."""
    assert check_script(node, path) == []
    shown: list[str] = []
    run_script(node, path, emit=lambda r: shown.append(r.to_text()))
    return shown


CLUSTER = """\
on error ignore
made = false
:look:
cluster_id = blockchain get cluster where name = !cl_name and company = !org bring.first [*][id]
if !cluster_id then goto done
if !made == true then goto failed
p = create policy cluster with defaults where company = !org and name = !cl_name
blockchain prepare policy !p
blockchain insert where policy = !p and local = true and master = !ledger
made = true
goto look
:done:
end script
:failed:
echo "no cluster policy"
"""

NODE = """\
on error ignore
done = false
:look:
found = blockchain get operator where company = !org and name = !me and local_ip = !lan and port = !tcp_port bring.first
if !found then goto have
if !done == true then goto failed
set p = ""
set policy p [operator] = {}
set policy p [operator][name] = !me
set policy p [operator][company] = !org
set policy p [operator][hostname] = !hostname
set policy p [operator][ip] = !lan
set policy p [operator][local_ip] = !lan
set policy p [operator][port] = !tcp_port.int
set policy p [operator][rest_port] = !web_port.int
set policy p [operator][cluster] = !cluster_id
set policy p [operator][main] = !is_main.bool
set policy p [operator][loc] = !where_at
set policy p [operator][country] = !country
set policy p [operator][state] = !state
set policy p [operator][city] = !city
checked = json !p
blockchain prepare policy !p
blockchain insert where policy = !p and local = true and master = !ledger
done = true
goto look
:have:
operator_id = from !found bring [*][id]
end script
:failed:
echo "no operator policy"
"""


def test_cluster_and_node_policies_with_location_fields_reach_the_master(tmp_path: Path) -> None:
    m, addr = master_node(tmp_path / "m")
    op = Node(tmp_path / "op", name="op1")
    try:
        tcp = start_tcp(op)
        for name, value in (("org", "Acme Inc"), ("cl_name", "acme-cluster1"), ("ledger", addr), ("me", "op1"),
                            ("lan", "127.0.0.1"), ("tcp_port", tcp.split(":")[1]), ("web_port", str(free_port())),
                            ("is_main", "true"), ("where_at", "37.77, -122.41"), ("country", "US"),
                            ("state", "CA"), ("city", "San Francisco")):
            op.set_var(name, value)
        (tmp_path / "cluster.al").write_text(CLUSTER)
        (tmp_path / "node.al").write_text(NODE)
        shown = run(op, tmp_path / "cluster.al")
        assert len(shown) == 1 and f"added to the local ledger and pushed to master {addr}" in shown[0]
        cluster_id = op.get_var("cluster_id")
        assert cluster_id
        shown = run(op, tmp_path / "node.al")
        assert "no operator policy" not in shown and "operator policy" in shown[-1]
        operator_id = op.get_var("operator_id")
        (mine,) = op.execute(f"blockchain get operator where id = {operator_id}").to_json()
        attrs = mine["operator"]
        assert attrs["port"] == int(tcp.split(":")[1]) and attrs["main"] is True and attrs["cluster"] == cluster_id
        assert (attrs["loc"], attrs["country"], attrs["state"], attrs["city"]) == ("37.77, -122.41", "US", "CA",
                                                                                "San Francisco")
        assert 1 <= attrs["member"] <= 255
        for kind, pid in (("cluster", cluster_id), ("operator", operator_id)):
            wait_until(lambda k=kind, p=pid: m.execute(f"blockchain get {k} where id = {p}").to_json(),
                       timeout=10, what=f"the {kind} policy on the master")
        # the scripts look again after publishing: the same run finds what it made and makes nothing new
        assert run(op, tmp_path / "cluster.al") == [] and run(op, tmp_path / "node.al") == []
        assert len(op.execute("blockchain get operator").to_json()) == 1
        assert len(op.execute("blockchain get cluster").to_json()) == 1
    finally:
        op.close()
        m.close()


def test_a_child_cluster_needs_its_parent_and_a_node_policy_its_cluster(node: Node) -> None:
    node.execute('blockchain insert where policy = {"cluster": {"company": "Acme", "name": "c1"}} and local = true')
    root = node.execute("blockchain get cluster where name = c1 bring.first [*][id]").to_text()
    child = {"cluster": {"parent": root, "company": "Acme", "name": "c1",
                         "table": [{"dbms": "d1", "name": "t1"}], "source": "Node at 127.0.0.1:32148"}}
    node.set_var("child", json.dumps(child))
    node.execute("blockchain insert where policy = !child and local = true")
    (kept,) = node.execute("blockchain get cluster where parent = " + root).to_json()
    assert kept["cluster"]["status"] == "active" and kept["cluster"]["table"][0]["status"] == "active"
    orphan = dict(child["cluster"], parent="0" * 32, table=[{"dbms": "d1", "name": "t2"}])
    node.set_var("orphan", json.dumps({"cluster": orphan}))
    with pytest.raises(PolicyError) as err:
        node.execute("blockchain insert where policy = !orphan and local = true")
    assert err.value.anylog_code == Code.MISSING_PARENT_POLICY
    lost = {"operator": {"company": "Acme", "name": "op9", "ip": "127.0.0.1", "port": 32148,
                         "cluster": "1" * 32, "loc": "0.0, 0.0", "country": "Unknown"}}
    node.set_var("lost", json.dumps(lost))
    with pytest.raises(PolicyError) as err:
        node.execute("blockchain insert where policy = !lost and local = true")
    assert err.value.anylog_code == Code.MISSING_CLUSTER_POLICY


OPERATOR_LINE = ("run operator where create_table = !make_tables and update_tsd_info = true and "
                 "compress_json = !zip_json and compress_sql = !zip_sql and archive_json = true and "
                 "archive_sql = !keep_sql and master_node = !ledger and policy = !operator_id and threads = 3")


def test_the_operator_line_of_the_scripts_starts_the_operator_in_its_cluster(tmp_path: Path) -> None:
    m, addr = master_node(tmp_path / "m")
    op = Node(tmp_path / "op", name="op1")
    try:
        tcp = start_tcp(op)
        op.execute("connect dbms almgm where type = sqlite")
        op.execute("create table tsd_info where dbms = almgm")
        op.execute("connect dbms shop where type = sqlite")
        for name, value in (("org", "Acme"), ("cl_name", "acme-c1"), ("ledger", addr), ("me", "op1"),
                            ("lan", "127.0.0.1"), ("tcp_port", tcp.split(":")[1]), ("web_port", "1"),
                            ("is_main", "true"), ("where_at", "0.0, 0.0"), ("country", "Unknown"),
                            ("state", "Unknown"), ("city", "Unknown"), ("make_tables", "true"),
                            ("zip_json", "true"), ("zip_sql", "true"), ("keep_sql", "false")):
            op.set_var(name, value)
        (tmp_path / "cluster.al").write_text(CLUSTER)
        (tmp_path / "node.al").write_text(NODE)
        run(op, tmp_path / "cluster.al")
        run(op, tmp_path / "node.al")
        (tmp_path / "operator.al").write_text(f"if !operator_id then {OPERATOR_LINE}\n")
        shown = run(op, tmp_path / "operator.al")
        assert shown and shown[0].startswith("Operator running")
        details = op.services.status("Operator").details
        assert f"Using Master: {addr}" in details and "Threads Pool: 3" in details
        assert "compress_sql" not in op.execute("get operator config where format = json").to_json()
        (op.home / "data" / "watch" / "shop.sales.0.json").write_text('{"v": 1}\n{"v": 2}\n')
        wait_until(lambda: "shop" in m.execute("blockchain get cluster bring [*][table]").to_text(), timeout=15,
                   what="the operator's new table in a cluster policy on the master")
    finally:
        op.close()
        m.close()


@pytest.mark.parametrize("platform, ok", [("master", True), ("local", True), ("optimism", False)])
def test_run_operator_blockchain_option_names_where_the_metadata_is(node: Node, platform: str, ok: bool) -> None:
    line = f"run operator where blockchain = {platform} and compress_sql = false and archive_sql = true"
    if ok:
        assert node.execute(line).to_text().startswith("Operator running")
        return
    with pytest.raises(AnyNodeError) as err:
        node.execute(line)
    assert "optimism" in str(err.value) and "master" in (err.value.hint or "")
    assert node.services.get("Operator") is None


CONFIG_SCRIPTS: dict[str, str] = {
    "db.al": "connect dbms almgm where type = sqlite\ncreate table tsd_info where dbms = almgm\n"
             "connect dbms shop where type = sqlite\n"
             "partition shop * using insert_timestamp by 14 days\n"
             'schedule time = 1 day and name = "Drop Partitions" task drop partition where dbms = shop and '
             "table = * and keep = 3\n",
    "publish.al": "on error ignore\nmade = false\n:look:\n"
                  "cfg_id = blockchain get config where company = !org and name = !cfg_name bring.first [*][id]\n"
                  "if !cfg_id then goto apply\nif !made == true then goto failed\n"
                  "set policy p [config] = {}\nset policy p [config][name] = !cfg_name\n"
                  "set policy p [config][company] = !org\nset policy p [config][node_type] = operator\n"
                  "set policy p [config][ip] = '!lan'\nset policy p [config][port] = '!tcp_port.int'\n"
                  "set policy p [config][tcp_bind] = '!bind.bool'\nset policy p [config][rest_port] = "
                  "'!web_port.int'\nset policy p [config][rest_bind] = '!bind.bool'\n"
                  "<set policy p [config][script] = [\n"
                  '    "process !here/db.al",\n'
                  '    "run blockchain sync where source = master and time = 1 second and dest = file and '
                  'connection = !ledger",\n'
                  '    "run scheduler 1",\n'
                  '    "set buffer threshold where time = 60 seconds and volume = 10KB and write_immediate = false",\n'
                  '    "run streamer",\n'
                  '    "if !enable_ha == true then run data distributor",\n'
                  '    "run operator where create_table = true and compress_sql = true and archive_sql = false '
                  'and threads = 2"\n'
                  "]>\n"
                  "blockchain prepare policy !p\nblockchain insert where policy = !p and local = true\n"
                  "made = true\ngoto look\n"
                  ":apply:\n"
                  "on error goto failed\nconfig from policy where id = !cfg_id\nend script\n"
                  ":failed:\necho config-failed\n",
}


def test_a_config_policy_published_then_applied_brings_up_an_operator(tmp_path: Path) -> None:
    m, addr = master_node(tmp_path / "m")
    op = Node(tmp_path / "op", name="op1")
    try:
        tcp, rest = free_port(), free_port()
        for name, value in (("org", "Acme"), ("cfg_name", "operator-acme-configs"), ("lan", "127.0.0.1"),
                            ("tcp_port", str(tcp)), ("web_port", str(rest)), ("bind", "true"), ("ledger", addr),
                            ("here", str(tmp_path)), ("enable_ha", "false")):
            op.set_var(name, value)
        for name, text in CONFIG_SCRIPTS.items():
            (tmp_path / name).write_text(text)
        shown = run(op, tmp_path / "publish.al")
        assert "config-failed" not in shown, shown
        running = {s.name for s in op.services.statuses() if s.state == "Running"}
        assert {"TCP", "REST", "Blockchain Sync", "Scheduler", "Streamer", "Operator"} <= running
        assert f"127.0.0.1:{tcp}" in op.services.status("TCP").details
        assert "Default streaming thresholds are 60 seconds and 10,240 bytes" in op.services.status("Streamer").details
        assert "1 task(s)" in op.services.status("Scheduler").details  # the partition drop, from db.al
        (cfg,) = op.execute("blockchain get config").to_json()
        assert cfg["config"]["script"][0] == "process !here/db.al"  # kept as written, resolved when it runs
        assert op.get_var("made") == "true"  # published once, then found by the look-up and applied
    finally:
        op.close()
        m.close()


def test_flag_words_in_the_environment_do_not_mask_replies_or_break_sync(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """EdgeLake's env files hold NEBULA_NEW_KEYS=false: a 'secret' name with a flag for a value."""
    monkeypatch.setenv("NEBULA_NEW_KEYS", "false")
    m, addr = master_node(tmp_path / "m")
    member = Node(tmp_path / "q", name="q1")
    try:
        flags: dict[str, Any] = {"query": {"company": "Acme", "name": "q1", "ip": "127.0.0.1", "port": 32348,
                                           "tcp_bind": False, "rest_bind": True}}
        member.set_var("p", json.dumps(flags))
        member.execute(f"run blockchain sync where source = master and time = 1 seconds and dest = file "
                       f"and connection = {addr}")
        member.execute(f"blockchain insert where policy = !p and local = true and master = {addr}")
        wait_until(lambda: m.execute("blockchain get query").to_json(), timeout=10, what="the policy on the master")
        asker = member.execute(f"run client ({addr}) blockchain get query").to_text()
        assert '"tcp_bind": false' in asker and '"rest_bind": true' in asker
        status = wait_until(lambda: (lambda s: s if "last good sync" in s else "")(
            member.services.status("Blockchain Sync").details), timeout=10, what="a good sync on the member")
        assert "does not match its version" not in status
    finally:
        member.close()
        m.close()


def test_a_master_secret_inside_a_policy_is_a_clear_sync_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTER_DB_PASSWORD", "hunter2-hunter2")
    m, addr = master_node(tmp_path / "m")
    monkeypatch.delenv("MASTER_DB_PASSWORD")
    member = Node(tmp_path / "q", name="q1")
    try:
        leaky = {"config": {"name": "leaky", "company": "Acme", "db_password": "hunter2-hunter2"}}
        member.set_var("p", json.dumps(leaky))
        member.execute(f"blockchain insert where policy = !p and local = true and master = {addr}")
        member.execute(f"run blockchain sync where source = master and time = 1 seconds and dest = file "
                       f"and connection = {addr}")
        shown = wait_until(lambda: (lambda s: s if "last error" in s else "")(
            member.services.status("Blockchain Sync").details), timeout=10, what="a failed sync on the member")
        assert "secret on the node serving it" in shown and "does not match its version" not in shown
    finally:
        member.close()
        m.close()


def test_the_masters_own_policies_reach_its_ledger_table(tmp_path: Path) -> None:
    """publish_policy.al inserts a master's policies with local = true only: its sync from itself pushes them."""
    m, addr = master_node(tmp_path / "m")
    try:
        own = {"master": {"name": "m1", "company": "Acme", "ip": "127.0.0.1", "local_ip": "127.0.0.1",
                          "port": int(addr.split(":")[1]), "rest_port": 1, "loc": "0.0, 0.0", "country": "Unknown",
                          "state": "Unknown", "city": "Unknown"}}
        m.set_var("p", json.dumps(own))
        m.execute("blockchain insert where policy = !p and local = true")
        wait_until(lambda: '"m1"' in m.execute("blockchain pull to stdout").to_text(), timeout=10,
                   what="the master's own policy in its ledger table")
        (kept,) = m.execute("blockchain get master").to_json()
        wait_until(lambda: m.execute("blockchain get master bring [*][ledger]").to_text() == "global", timeout=10,
                   what="the local copy marked global after the next sync")
        assert kept["master"]["loc"] == "0.0, 0.0"
    finally:
        m.close()
