"""The small commands EdgeLake's deployment scripts use: echo queue, trace level, exception traceback,
anylog home, file test, msg client, internal ip, cli, thread, exit node, and the refused ones."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from anynode.errors import AnyNodeError, CommandSyntaxError, NotPermitted
from anynode.grammar.dispatch import Source
from anynode.node import Node, local_ip
from anynode.results import Empty
from anynode.script import check_script, run_script
from tests.helpers import wait_until


def _script(tmp_path: Path, text: str, name: str = "s.al") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _root_log(node: Node) -> str:
    for handler in node.log.handlers:
        handler.flush()
    return (node.home / "logs" / "root.log").read_text()


# -- set echo queue / get echo queue / reset echo queue -------------------------------------------------------------
def test_echo_goes_into_the_queue_while_it_is_on_and_get_echo_queue_empties_it(node: Node) -> None:
    assert "not declared" in node.execute("get echo queue").to_text()
    node.execute("set echo queue on")
    assert isinstance(node.execute("echo first line"), Empty)
    node.execute("echo second !node_name")
    assert node.execute("print printed anyway").to_text() == "printed anyway"
    shown = node.execute("get echo queue where format = json").to_json()
    assert [(m["Counter"], m["Message"]) for m in shown] == [(1, "first line"), (2, f"second {node.name}")]
    assert node.execute("get echo queue where format = json").to_json() == []
    node.execute("set echo queue off")
    assert node.execute("echo shown again").to_text() == "shown again"


def test_the_echo_queue_keeps_the_newest_lines_of_its_size(node: Node) -> None:
    node.execute("reset echo queue where size = 3")
    for i in range(10):
        node.execute(f"echo line {i}")
    assert [m["Message"] for m in node.execute("get echo queue where format = json").to_json()] == [
        "line 7", "line 8", "line 9"]
    with pytest.raises(CommandSyntaxError, match="out of range"):
        node.execute("reset echo queue where size = 500")


def test_a_peers_echo_is_answered_not_queued(node: Node) -> None:
    node.execute("set echo queue on")
    assert node.execute("echo to the peer", Source.REMOTE).to_text() == "to the peer"


# -- trace level / get trace level ----------------------------------------------------------------------------------
def test_trace_level_logs_every_command_then_zero_puts_the_setting_back(node: Node) -> None:
    node.execute("get version", Source.REST)
    assert "(ok) get version" not in _root_log(node)  # a REST client's commands are DEBUG lines
    node.execute("trace level = 1")
    node.execute("get hostname", Source.REST)
    assert "(ok) get hostname" in _root_log(node)
    assert node.execute("get trace level where format = json").to_json() == {"all": 1}
    node.execute("trace level = 0")
    node.execute("get node name", Source.REST)
    assert "(ok) get node name" not in _root_log(node)
    assert "no trace level is set" in node.execute("get trace level").to_text()


def test_trace_level_for_one_part_lowers_only_that_logger(node: Node) -> None:
    node.execute("trace level = 2 tcp")
    assert node.log.getChild("tcp").isEnabledFor(10) and not node.log.isEnabledFor(10)
    assert "tcp" in node.execute("get trace level").to_text()
    node.execute("trace level = 0 tcp")
    assert not node.log.getChild("tcp").isEnabledFor(10)
    with pytest.raises(CommandSyntaxError, match="not a whole number"):
        node.execute("trace level = high")
    with pytest.raises(CommandSyntaxError, match="needs '= <level>'"):
        node.execute("trace level")


# -- set exception traceback ----------------------------------------------------------------------------------------
def test_exception_traceback_goes_into_the_log_never_to_the_rest_client(node: Node) -> None:
    with pytest.raises(AnyNodeError):
        node.execute("disconnect dbms nowhere_a")
    assert "Traceback" not in _root_log(node)
    node.execute("set exception traceback on")
    with pytest.raises(AnyNodeError) as failed:
        node.execute("disconnect dbms nowhere_b", Source.REST)
    assert "Traceback" in _root_log(node)
    assert "Traceback" not in str(failed.value.to_wire())
    node.execute("set exception traceback off")
    before = _root_log(node).count("Traceback")
    with pytest.raises(AnyNodeError):
        node.execute("disconnect dbms nowhere_c")
    assert _root_log(node).count("Traceback") == before


# -- set anylog home / create work directories ----------------------------------------------------------------------
def test_set_anylog_home_moves_the_work_directories_and_create_makes_them_there(node: Node, tmp_path: Path) -> None:
    root = tmp_path / "app"
    root.mkdir()
    node.execute(f"set anylog home {root}")
    assert node.get_var("watch_dir") == str(root / "data" / "watch")
    assert node.get_var("blockchain_file") == str(root / "blockchain" / "blockchain.json")
    assert node.get_var("anylog_home") == str(root)
    assert node.get_var("log_dir") == str(node.home / "logs")  # the node's own log stays in its home
    assert str(root) in node.execute("create work directories").to_text()
    assert (root / "data" / "watch").is_dir() and (root / "data" / "dbms").is_dir()
    with pytest.raises(CommandSyntaxError, match="no directory"):
        node.execute(f"set anylog home {tmp_path / 'missing'}")


# -- file test ------------------------------------------------------------------------------------------------------
def test_file_test_answers_true_or_false_and_an_unset_path_is_false(node: Node, tmp_path: Path) -> None:
    (tmp_path / "f.json").write_text("{}")
    assert node.execute(f"file test {tmp_path / 'f.json'}").to_text() == "true"
    node.execute(f"is_dir = file test {tmp_path}")
    assert node.get_var("is_dir") == "true"
    assert node.execute(f"file test {tmp_path / 'none.json'}").to_text() == "false"
    node.execute("x = file test !not_set_anywhere")
    assert node.get_var("x") == "false"
    with pytest.raises(NotPermitted):
        node.execute(f"file test {tmp_path}", Source.REST)


# -- get msg client / set cli / set internal ip with ----------------------------------------------------------------
def test_get_msg_client_says_there_is_none(node: Node) -> None:
    assert node.execute("get msg client").to_text() == "No message client subscriptions"
    assert node.execute("get msg client where id = 1", Source.REST).to_text() == "No message client subscriptions"


def test_set_cli_off_is_accepted(node: Node) -> None:
    assert "nothing to change" in node.execute("set cli off").to_text()


def test_ip_and_external_ip_exist_at_start_and_set_internal_ip_changes_ip(node: Node) -> None:
    assert node.get_var("ip") == local_ip() and node.get_var("external_ip")
    node.execute("set internal ip with lo")
    assert node.get_var("ip") == "127.0.0.1"
    node.execute("set internal ip with default")
    assert node.get_var("ip") == local_ip()
    with pytest.raises(CommandSyntaxError, match="no network interface 'nic_nope'") as bad:
        node.execute("set internal ip with nic_nope")
    assert "lo" in (bad.value.hint or "")
    with pytest.raises(CommandSyntaxError, match="needs an interface name"):
        node.execute('set internal ip with ""')
    assert socket.if_nameindex()


# -- refused commands -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("line", "reason"), [
    ("get private key where keys_file = node_id", "no private keys"),
    ("id sign !policy where key = k1 and password = p1", "does not sign"),
    ("bucket provider connect where group = g and provider = s3 and secret_key = s", "no object store"),
    ("run blobs archiver where dbms = true and folder = true and compress = true", "no blob database"),
    ("connect dbms blobs where type = bucket and provider = s3 and connection = g", "does not connect bucket"),
    ("connect dbms blobs where type = mongo and ip = 127.0.0.1 and port = 27017", "does not connect mongo"),
])
def test_refused_commands_say_why(node: Node, line: str, reason: str) -> None:
    with pytest.raises(AnyNodeError, match=reason) as refused:
        node.execute(line)
    assert refused.value.hint


def test_a_folder_blobs_archiver_is_accepted_with_nothing_to_do(node: Node) -> None:
    """EdgeLake's default operator script asks for one: the script goes on, and the node says why nothing runs."""
    said = node.execute("run blobs archiver where dbms = false and folder = true and compress = true").to_text()
    assert "ingests rows only" in said
    assert "Blobs" not in node.execute("get processes").to_text()


def test_check_knows_every_command_of_this_family(node: Node, tmp_path: Path) -> None:
    script = _script(tmp_path, "\n".join([
        "set echo queue on", "get echo queue", "trace level = 1", "do trace level = 0", "set exception traceback on",
        "set anylog home !anylog_path", "is_dir = file test !local_scripts", "get msg client",
        "set internal ip with !nic_type", "set cli off", "k = get private key where keys_file = !key_name",
        "p = id sign !p where key = !k and password = !pw", "run blobs archiver where dbms = !a and folder = !b",
        "<bucket provider connect where group = !g and\n provider = !p>",
        "connect dbms !d where type = bucket and connection = !g", "thread !local_scripts/x.al",
        "if $NOT_SET_X == 1 then echo one", "else if $NOT_SET_X and ($NOT_SET_X == a or $NOT_SET_X == b) then echo",
    ]) + "\n")
    assert check_script(node, script) == []


# -- thread / exit node ---------------------------------------------------------------------------------------------
def test_thread_runs_a_script_on_its_own_thread_and_returns_at_once(node: Node, tmp_path: Path) -> None:
    script = _script(tmp_path, "wait 0.3\nthreaded = done\n")
    started = time.monotonic()
    reply = node.execute(f"thread {script}").to_text()
    assert time.monotonic() - started < 0.3 and "Script 1 (s.al) started" in reply
    assert node.get_var("threaded") is None
    wait_until(lambda: node.get_var("threaded") == "done", 5)
    with pytest.raises(CommandSyntaxError, match="no script"):
        node.execute(f"thread {tmp_path / 'none.al'}")


def test_stopping_the_node_stops_a_threaded_script(node: Node, tmp_path: Path) -> None:
    script = _script(tmp_path, "wait 30\nlate = yes\n")
    node.execute(f"thread {script}")
    assert "Script 1" in node.execute("get processes").to_text()
    started = time.monotonic()
    node.request_exit()
    node.services.stop_all(timeout=5)
    assert time.monotonic() - started < 5 and node.get_var("late") is None


def test_exit_node_ends_the_running_script_and_its_callers(node: Node, tmp_path: Path) -> None:
    inner = _script(tmp_path, "before = 1\nexit node\nafter_inner = 1\n", "inner.al")
    outer = _script(tmp_path, f"process {inner}\nafter_outer = 1\n", "outer.al")
    run_script(node, outer)
    assert node.get_var("before") == "1" and node.exit_event.is_set()
    assert node.get_var("after_inner") is None and node.get_var("after_outer") is None


# -- conditions with an unset side, as EdgeLake evaluates them ------------------------------------------------------
@pytest.mark.parametrize(("condition", "outcome"), [
    ("$NOT_SET_MAIN == x or ($NOT_SET_MAIN == true or $NOT_SET_MAIN == True)", "false"),
    ("!blobs == true or (!not_set_type == akave or !not_set_type == s3)", "false"),
    ("(not !not_set_x)", "true"),
    ("(!not_set_x)", "false"),
])
def test_a_group_on_an_unset_value_is_false_not_an_error(node: Node, condition: str, outcome: str) -> None:
    assert node.execute(f"if {condition}").to_text() == outcome


def test_else_if_with_a_group_of_unset_values_runs_and_checks(node: Node, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMBER_EMPTY_QUOTES", '""')  # a docker env file's MEMBER="" is two quote characters
    script = _script(tmp_path, "\n".join([
        "if $NOT_SET_MAIN == x then seen = first",
        "else if $NOT_SET_MAIN and ($NOT_SET_MAIN == true or $NOT_SET_MAIN == True) then seen = group",
        "else seen = other",
        "if $MEMBER_EMPTY_QUOTES.int then member = yes",
    ]) + "\n")
    assert check_script(node, script) == []
    run_script(node, script)
    assert node.get_var("seen") == "other" and node.get_var("member") is None
    for condition, outcome in [("$NOT_SET_TRACE == 1", "false"),
                               ("$NOT_SET_TRACE == 1 or $NOT_SET_TRACE == 3", "false"),
                               ("$NOT_SET_PART == false or $NOT_SET_PART == False", "false"),
                               ("$NOT_SET_MEMBER and $NOT_SET_MEMBER.int", "false"), ("not !not_set_x", "true")]:
        assert node.execute(f"if {condition}").to_text() == outcome, condition
    for bad in ("if == 5 then echo x", "if (== 5) then echo x", "if !node_name == then echo x"):
        with pytest.raises(CommandSyntaxError, match="needs a value on each side"):
            node.execute(bad)


def test_a_failing_line_ends_a_threaded_script_and_goes_to_the_error_log(node: Node, tmp_path: Path) -> None:
    script = _script(tmp_path, "first = 1\nno such command here\nsecond = 1\n", "bad.al")
    node.execute(f"thread {script}")
    wait_until(lambda: "no such command" in node.execute("get error log").to_text(), 5)
    assert node.get_var("first") == "1" and node.get_var("second") is None
