"""The local ledger file and its commands: the file format, get, read, test, delete, version, load, wait."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from anynode.errors import AnyNodeError, CommandSyntaxError, StoreError
from anynode.fileio import atomic_write, backup_path
from anynode.metadata.ledger import Ledger, ledger
from anynode.metadata.policy import PolicyError
from tests.helpers import dead_address

MASTER = '{"master": {"company": "acme", "name": "m1", "ip": "127.0.0.1", "port": 32048}}'
QUERY = '{"query": {"company": "acme", "name": "q1", "ip": "127.0.0.1", "port": 32348}}'


def ledger_file(node: Any) -> Path:
    return Path(node.get_var("blockchain_file"))


def insert(node: Any, policy: str, more: str = " and local = true") -> str:
    return node.execute(f"blockchain insert where policy = {policy}{more}").to_text()


def ids(node: Any, what: str = "*") -> list[str]:
    text = node.execute(f"blockchain get {what}").to_text()
    return [next(iter(p.values()))["id"] for p in json.loads(text)] if text else []


def test_ledger_file_holds_one_policy_per_line_as_edgelake_writes(node) -> None:  # type: ignore[no-untyped-def]
    assert not ledger_file(node).exists()
    insert(node, MASTER)
    insert(node, QUERY)
    lines = ledger_file(node).read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["master"]["ledger"] == "local" and first["master"]["id"] == ids(node, "master")[0]
    assert lines[0] == json.dumps(first)  # ", " and ": " separators, nothing else
    assert ledger_file(node).parent == node.home / "blockchain"


def test_ledger_get_by_type_list_of_types_and_star(node) -> None:  # type: ignore[no-untyped-def]
    insert(node, MASTER)
    insert(node, QUERY)
    insert(node, '{"config": {"name": "c"}}')
    assert len(ids(node)) == 3
    assert len(ids(node, "(master, query)")) == 2 and len(ids(node, '"query"')) == 1
    assert ids(node, "operator") == []
    node.execute("found = blockchain get operator")
    assert node.get_var("found") is None  # nothing matched: the assignment is empty, as on AnyLog
    node.execute("found = blockchain get query")
    assert json.loads(node.get_var("found"))[0]["query"]["name"] == "q1"
    assert node.execute("blockchain get operator").to_json() == []


def test_ledger_get_needs_a_type(node) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandSyntaxError, match="needs a policy type"):
        node.execute("blockchain get")


def test_ledger_insert_needs_a_destination_and_warns_about_the_master(node) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandSyntaxError, match="needs a destination"):
        insert(node, MASTER, more="")
    dead = dead_address()
    with pytest.raises(AnyNodeError, match="was not written"):
        insert(node, MASTER, more=f" and local = false and master = {dead}")
    assert not ledger_file(node).exists()
    out = insert(node, MASTER, more=f" and master = {dead}")
    assert "added to the local ledger" in out and f"warning: not pushed to master {dead}" in out
    assert len(ids(node)) == 1


def test_ledger_version_is_the_md5_of_the_file(node) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PolicyError) as err:
        node.execute("get metadata version")
    assert err.value.anylog_code == 58
    insert(node, MASTER)
    version = node.execute("get metadata version").to_text()
    assert version == hashlib.md5(ledger_file(node).read_bytes()).hexdigest()
    insert(node, QUERY)
    assert node.execute("get metadata version").to_text() != version


def test_ledger_delete_rewrites_and_keeps_the_previous_generation(node) -> None:  # type: ignore[no-untyped-def]
    insert(node, MASTER)
    insert(node, QUERY)
    master_id = ids(node, "master")[0]
    out = node.execute(f"blockchain delete policy where id = {master_id}").to_text()
    assert out == f"master policy {master_id} deleted from the local ledger"
    assert ids(node, "master") == [] and len(ids(node)) == 1
    assert master_id in backup_path(ledger_file(node)).read_text()
    with pytest.raises(PolicyError) as err:
        node.execute(f"blockchain delete policy where id = {master_id}")
    assert err.value.anylog_code == 113
    node.execute(f"blockchain delete policy where id = {ids(node)[0]}")
    assert ids(node) == [] and ledger_file(node).read_bytes() == b"\n"
    node.execute("blockchain reload metadata")
    assert ids(node) == []  # an emptied ledger stays empty (the backup does not come back)


def test_ledger_read_shows_the_file_on_disk(node) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PolicyError):
        node.execute("blockchain read")
    insert(node, MASTER)
    assert json.loads(node.execute("blockchain read").to_text())[0]["master"]["name"] == "m1"


def test_ledger_test_reports_ok_ids_and_broken_lines(node) -> None:  # type: ignore[no-untyped-def]
    insert(node, MASTER)
    assert node.execute("blockchain test").to_text() == "Blockchain file status: OK"
    master_id = ids(node)[0]
    assert node.execute(f"blockchain test {master_id}").to_text() == "ID Status: in Blockchain file"
    assert node.execute("blockchain test 123").to_text() == "ID status: not in Blockchain file"
    path = ledger_file(node)
    path.write_text(path.read_text() + path.read_text() + '{"query": {"name": \n')
    with pytest.raises(PolicyError) as err:
        node.execute("blockchain test")
    assert "line 2: id" in err.value.message and "line 3: not a policy" in err.value.message


def test_ledger_in_memory_copy_follows_the_file(node) -> None:  # type: ignore[no-untyped-def]
    insert(node, MASTER)
    book = ledger(node)
    generation = book.generation
    assert "loaded" not in node.execute("blockchain load metadata").to_text()
    path = ledger_file(node)
    lines = path.read_bytes()
    atomic_write(path, lines + json.dumps({"query": {"name": "q9", "id": "q9id"}}).encode() + b"\n")
    assert ids(node, "query") == ["q9id"]  # changed on disk: reloaded
    assert book.generation == generation + 1
    assert node.execute("blockchain load metadata").to_text().startswith("metadata is current: 2 policies")
    assert node.execute("blockchain reload metadata").to_text().startswith("metadata loaded: 2 policies")


def test_ledger_broken_file_falls_back_to_the_previous_generation(node, caplog) -> None:  # type: ignore[no-untyped-def]
    insert(node, MASTER)
    insert(node, QUERY)  # the backup now holds the master alone
    ledger_file(node).write_bytes(b'{"master": {"na')  # half a line, as a writer that is not atomic leaves it
    fresh = Ledger(lambda: node.get_var("blockchain_file"))
    assert [next(iter(p)) for p in fresh.policies()] == ["master"]
    # a node that already had a good copy keeps serving it
    assert len(ids(node)) == 2


def test_ledger_zero_byte_file_is_not_an_empty_ledger(node) -> None:  # type: ignore[no-untyped-def]
    insert(node, MASTER)
    insert(node, QUERY)
    ledger_file(node).write_bytes(b"")
    assert len(Ledger(lambda: node.get_var("blockchain_file")).policies()) == 1


def test_ledger_a_value_split_over_two_lines_is_not_a_ledger(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "blockchain.json"
    path.write_text('{"a": {"b": [1\n2]}}\n{"c": {"d": 1}}, {"e": {}}\n')  # decoded together these would parse
    with pytest.raises(StoreError, match="line 1 is not a policy"):
        Ledger(lambda: str(path)).policies()


def test_ledger_tombstones_from_edgelake_remove_policies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "blockchain.json"
    path.write_text(json.dumps({"master": {"id": "a"}}) + "\n" + json.dumps({"query": {"id": "b"}}) + "\n"
                    + '{"deleted": { "id" : "a", "ledger" : "local" }}\n')
    assert Ledger(lambda: str(path)).policies() == [{"query": {"id": "b"}}]


def test_ledger_without_blockchain_file_variable_is_58(node) -> None:  # type: ignore[no-untyped-def]
    node.del_var("blockchain_file")
    with pytest.raises(PolicyError) as err:
        node.execute("blockchain get *")
    assert err.value.anylog_code == 58 and "blockchain_file" in err.value.message


def test_ledger_snapshot_is_read_only_and_stays_as_it_was(node) -> None:  # type: ignore[no-untyped-def]
    insert(node, MASTER)
    book = ledger(node)
    before = book.policies()
    with pytest.raises(TypeError, match="read-only"):
        before[0]["master"]["name"] = "changed"
    insert(node, QUERY)
    assert len(before) == 1 and len(book.policies()) == 2
    insert(node, '{"config": {"name": "c", "script": ["run scheduler 1", ["nested"]]}}')
    (config,) = Ledger(lambda: node.get_var("blockchain_file")).snapshot().of_types(["config"])  # read from the file
    for change in (lambda: config["config"]["script"].append("x"), lambda: config["config"]["script"][1].clear()):
        with pytest.raises(TypeError, match="read-only"):
            change()


def test_ledger_wait_returns_when_the_policy_arrives(node) -> None:  # type: ignore[no-untyped-def]
    node.execute(f"p = {QUERY}")
    node.execute("blockchain prepare policy !p")
    pid = json.loads(node.get_var("p"))["query"]["id"]
    later = threading.Timer(0.3, lambda: node.execute("blockchain insert where policy = !p and local = true"))
    later.start()
    started = time.monotonic()
    assert node.execute("blockchain wait where policy = !p and timeout = 10 seconds").to_text() == "true"
    assert time.monotonic() - started < 5
    later.join()
    assert node.execute(f"blockchain wait where id = {pid}").to_text() == "true"


def test_ledger_wait_times_out_with_151(node) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    with pytest.raises(PolicyError) as err:
        node.execute("blockchain wait where id = nothere and timeout = 0.3")
    assert err.value.anylog_code == 151 and 0.25 < time.monotonic() - started < 3
    with pytest.raises(CommandSyntaxError, match="one of them"):
        node.execute("blockchain wait where timeout = 1")


def test_ledger_two_nodes_keep_their_own(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from anynode.node import Node

    a, b = Node(tmp_path / "a"), Node(tmp_path / "b")
    try:
        a.execute(f"blockchain insert where policy = {MASTER} and local = true")
        assert ledger(a) is ledger(a) and ledger(a) is not ledger(b)
        assert len(ledger(a).policies()) == 1 and ledger(b).policies() == []
    finally:
        a.close()
        b.close()


def test_ledger_commands_peers_may_run_are_the_reads(node) -> None:  # type: ignore[no-untyped-def]
    remote = {s.name for s in node.registry if s.remote and s.name.startswith(("blockchain", "get metadata"))}
    assert remote == {"blockchain get", "blockchain read", "blockchain test", "get metadata version",
                      "blockchain fetch", "blockchain push", "blockchain push ignore", "blockchain drop policy",
                      "blockchain query metadata", "blockchain test cluster"}
