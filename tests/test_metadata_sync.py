"""`run blockchain sync` between a master and members on 127.0.0.1 (nodes in this process; see
test_metadata_network.py for nodes in their own processes)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from anynode.errors import AlreadyRunning, CommandSyntaxError, ValidationError
from anynode.metadata import master as table
from anynode.metadata.policy import PolicyError
from anynode.metadata.sync import SyncService, fetch
from anynode.node import Node
from tests.helpers import dead_address, start_tcp, wait_until

PERIOD = 1  # seconds between syncs


def q(name: str, port: int) -> str:
    return json.dumps({"query": {"company": "acme", "name": name, "ip": "127.0.0.1", "port": port}})


@dataclass
class Net:
    master: Node
    members: list[Node]
    addr: str

    @property
    def nodes(self) -> list[Node]:
        return [self.master, *self.members]


def start_sync(node: Node, addr: str, period: int = PERIOD) -> str:
    return node.execute(f"run blockchain sync where source = master and time = {period} seconds and dest = file "
                        f"and connection = {addr}").to_text()


def make_master(home: Path, port: int = 0) -> tuple[Node, str]:
    m = Node(home, name="master")
    m.execute("connect dbms blockchain where type = sqlite")
    m.execute("blockchain create table")
    if port:
        m.execute(f"run tcp server where internal_ip = 127.0.0.1 and internal_port = {port} and bind = true")
        return m, f"127.0.0.1:{port}"
    return m, start_tcp(m)


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    m, addr = make_master(tmp_path / "master")
    members = [Node(tmp_path / f"m{i}", name=f"member{i}") for i in range(2)]
    net = Net(m, members, addr)
    yield net
    for n in [*net.members, net.master]:
        n.close()


def ids(node: Node) -> set[str]:
    return {next(iter(p.values()))["id"] for p in json.loads(node.execute("blockchain get *").to_text() or "[]")}


def in_table(node: Node) -> set[str]:
    """The ids in a master's ledger table."""
    return {row[1] for row in table.rows(node.catalog)}


def versions(net: Net) -> set[str]:
    return {n.execute("get metadata version").to_text() for n in net.nodes}


def test_a_policy_inserted_on_any_node_reaches_all_within_one_period(net: Net) -> None:
    for n in net.nodes:  # the master syncs from itself, as the deployment scripts do
        assert "synchronizer running: Sync every 1 seconds with master" in start_sync(n, net.addr)
    for i, n in enumerate(net.nodes):
        n.execute(f"blockchain insert where policy = {q(f'q{i}', 32000 + i)} and local = true and master = {net.addr}")
    wait_until(lambda: all(len(ids(n)) == 3 for n in net.nodes), timeout=PERIOD * 1.1 + 1.5,
               what="every node to have the three policies")
    wait_until(lambda: len(versions(net)) == 1, timeout=3, what="one metadata version on all nodes")
    # the copies are the master's: marked global, in the master's order, the same bytes
    for n in net.nodes:
        assert {next(iter(p.values()))["ledger"] for p in json.loads(n.execute("blockchain get *").to_text())} == \
            {"global"}
    row = json.loads(net.members[0].execute("get synchronizer where format = json").to_text())
    assert row["Status"] == "Running" and row["Connection"] == net.addr and row["Policies"] == 3
    assert row["Sync Err"] == 0 and row["Metadata Version"] == versions(net).pop()


def test_master_down_members_keep_their_copy_and_catch_up_when_it_returns(net: Net, tmp_path: Path) -> None:
    member = net.members[0]
    port = int(net.addr.rsplit(":", 1)[1])
    net.master.execute(f"blockchain push {q('q0', 32000)}")
    start_sync(member, net.addr)
    wait_until(lambda: len(ids(member)) == 1, timeout=3, what="the first copy")
    net.master.close()  # the master goes away
    wait_until(lambda: json.loads(member.execute("get synchronizer where format = json").to_text())["Sync Err"] > 0,
               timeout=3, what="a failed sync")
    assert len(ids(member)) == 1  # still serving the last good copy
    row = json.loads(member.execute("get synchronizer where format = json").to_text())
    assert "refused" in row["Last Error"]
    details = json.loads(member.execute("get processes where format = json").to_text())["Blockchain Sync"]["Details"]
    assert details.startswith(f"Failed to connect to master using: {net.addr}") and "last good sync" in details
    # a policy inserted while the master is down stays local, and is pushed on once it is back
    member.execute(f"blockchain insert where policy = {q('late', 32009)} and local = true and master = {net.addr}")
    revived, _ = make_master(tmp_path / "master", port)  # same home and table, same address
    net.master = revived
    wait_until(lambda: len(in_table(revived)) == 2, timeout=PERIOD * 2 + 3, what="the local policy pushed on")
    member.execute("run blockchain sync")
    assert member.execute("wait 5 for sync").to_text() == "true"
    wait_until(lambda: member.execute("get metadata version").to_text() == table.export(revived.catalog)[1],
               timeout=3, what="the member to catch up")


def test_a_local_policy_is_carried_over_a_swap_until_the_master_has_it(net: Net) -> None:
    member = net.members[0]
    net.master.execute(f"blockchain push {q('q0', 32000)}")
    member.execute(f"blockchain insert where policy = {q('mine', 32001)} and local = true")  # no master named
    start_sync(member, net.addr)
    wait_until(lambda: len(in_table(net.master)) == 2, timeout=3, what="the carried policy pushed to the master")
    member.execute("run blockchain sync")
    member.execute("wait 5 for sync")
    assert len(ids(member)) == 2


def test_run_blockchain_sync_forms_and_errors(net: Net) -> None:
    member = net.members[0]
    with pytest.raises(PolicyError, match="no synchronizer runs"):
        member.execute("run blockchain sync")
    with pytest.raises(CommandSyntaxError, match="needs the master's address"):
        member.execute("run blockchain sync where source = master and time = 1 seconds and dest = file")
    with pytest.raises(CommandSyntaxError, match="at least 1 second"):
        member.execute(f"run blockchain sync where source = master and time = 0 seconds and dest = file "
                       f"and connection = {net.addr}")
    with pytest.raises(PolicyError, match="not connected"):
        member.execute("run blockchain sync where source = dbms and time = 1 seconds and dest = file")
    # the connection from the master's policy, and master_node as AnyLog's other spelling
    m_policy = json.dumps({"master": {"company": "acme", "name": "m", "ip": "127.0.0.1",
                                      "port": int(net.addr.rsplit(":", 1)[1])}})
    member.execute(f"blockchain insert where policy = {m_policy} and local = true")
    assert net.addr in member.execute("run blockchain sync where source = master and time = 30 seconds "
                                      "and dest = file").to_text()
    with pytest.raises(AlreadyRunning):
        start_sync(member, net.addr)
    assert member.execute("run blockchain sync").to_text() == "synchronizer signalled: syncing now"
    assert member.execute("wait 5 for sync").to_text() == "true"
    assert member.execute("exit synchronizer").to_text() == "synchronizer process terminated"
    assert json.loads(member.execute("get synchronizer where format = json").to_text())["Status"] == "Not running"
    other = net.members[1]
    assert net.addr in other.execute(f"run blockchain sync where source = master and time = 30 seconds "
                                     f"and dest = file and master_node = {net.addr}").to_text()
    wait_until(lambda: json.loads(other.execute("get synchronizer where format = json").to_text())["Sync OK"] == 1,
               timeout=3, what="the first sync, at once")
    assert other.execute("wait 0.3 for sync").to_text() == "false"  # the next is 30 s away


def test_switch_network_and_seed(net: Net, tmp_path: Path) -> None:
    member, other = net.members
    dead = dead_address()
    start_sync(member, dead)
    wait_until(lambda: json.loads(member.execute("get synchronizer where format = json").to_text())["Sync Err"] > 0,
               timeout=3, what="a failed sync")
    net.master.execute(f"blockchain push {q('q0', 32000)}")
    assert "switched" in member.execute(f"blockchain switch network where master = {net.addr}").to_text()
    wait_until(lambda: len(ids(member)) == 1, timeout=3, what="a copy from the new master")
    with pytest.raises(PolicyError, match="no synchronizer"):
        other.execute(f"blockchain switch network where master = {net.addr}")
    member_addr = start_tcp(member)
    assert other.execute(f"blockchain seed from {member_addr}").to_text().endswith(": 1 policies")
    assert other.execute("get metadata version").to_text() == member.execute("get metadata version").to_text()


def test_source_dbms_on_the_master_exports_its_table_to_the_file(net: Net) -> None:
    net.master.execute(f"blockchain push {q('q0', 32000)}")
    text = net.master.execute("run blockchain sync where source = dbms and time = 1 seconds and dest = file").to_text()
    assert "with dbms using: the local ledger table" in text
    wait_until(lambda: len(ids(net.master)) == 1, timeout=3, what="the table in the file")
    assert net.master.execute("get metadata version").to_text() == table.export(net.master.catalog)[1]


def test_a_large_ledger_comes_in_chunks_and_matches_the_masters_version(net: Net) -> None:
    policies = [json.loads(q(f"q{i}", 20000 + i)) for i in range(3000)]
    table.push(net.master.catalog, policies, "127.0.0.1")
    data, md5 = table.export(net.master.catalog)
    assert len(data) > 5 * 64 * 1024
    got, version = fetch(net.members[0], net.addr, None, size=64 * 1024)
    assert got == data and version == md5
    assert fetch(net.members[0], net.addr, md5) == (None, md5)


def test_readers_never_see_an_empty_or_partial_ledger_during_100_sync_swaps(net: Net) -> None:
    member = net.members[0]
    base = [json.loads(q(f"q{i}", 20000 + i)) for i in range(200)]
    table.push(net.master.catalog, base, "127.0.0.1")
    start_sync(member, net.addr, period=3600)  # syncs once now; the swaps below are driven by hand
    wait_until(lambda: len(ids(member)) == 200, timeout=5, what="the first copy")
    service = member.services.get("Blockchain Sync")
    assert isinstance(service, SyncService)
    seen: list[int] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.append(int(member.execute("blockchain get query bring.count").to_text() or 0))

    readers = [threading.Thread(target=read, name=f"reader{i}") for i in range(2)]
    for t in readers:
        t.start()
    extra = json.loads(q("extra", 30000))
    extra_id = table.as_global(extra)["query"]["id"]
    swaps = 0
    try:
        for n in range(100):
            if n % 2 == 0:
                table.push(net.master.catalog, [extra], "127.0.0.1")
            else:
                table.drop(net.master.catalog, extra_id)
            before = service.stats.loads
            assert service.sync_once()
            swaps += service.stats.loads - before
    finally:
        stop.set()
        for t in readers:
            t.join(10)
    assert swaps == 100
    assert seen and set(seen) <= {200, 201}, sorted(set(seen))[:5]


def test_dest_dbms_also_fills_the_members_own_ledger_table(net: Net) -> None:
    member = net.members[0]
    net.master.execute(f"blockchain push {q('q0', 32000)}")
    with pytest.raises(PolicyError, match="needs the database 'blockchain'"):
        member.execute(f"run blockchain sync where source = master and time = 1 seconds and dest = file "
                       f"and dest = dbms and connection = {net.addr}")
    member.execute("connect dbms blockchain where type = sqlite")
    member.execute("blockchain create table")
    member.execute(f"run blockchain sync where source = master and time = 1 seconds and dest = file "
                   f"and dest = dbms and connection = {net.addr}")
    wait_until(lambda: in_table(member) == in_table(net.master) == ids(member), timeout=3,
               what="the copy in the member's file and table")


def test_source_file_copies_a_shared_ledger_file(net: Net, tmp_path: Path) -> None:
    member = net.members[0]
    shared = tmp_path / "shared" / "blockchain.json"
    with pytest.raises(ValidationError, match="not ip:port"):
        member.execute("run blockchain sync where source = master and time = 1 seconds and dest = file "
                       "and connection = nowhere")
    member.execute(f"run blockchain sync where source = file and time = 1 seconds and dest = file "
                   f"and connection = {shared}")
    wait_until(lambda: "No such file" in json.loads(member.execute("get synchronizer where format = json")
                                                    .to_text())["Last Error"], timeout=3, what="the missing file")
    shared.parent.mkdir()
    shared.write_text(q("q0", 32000) + "\n")
    member.execute("run blockchain sync")
    assert member.execute("wait 5 for sync").to_text() == "true"
    assert member.execute("get metadata version").to_text() == hashlib.md5(shared.read_bytes()).hexdigest()
