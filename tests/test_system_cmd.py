"""system <cmd>: a shell command for the node's owner; never for peers or REST clients."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from anynode.cancel import Cancel
from anynode.errors import AnyNodeError, CommandSyntaxError, NotPermitted, QueryCancelled, RemoteError
from anynode.grammar.dispatch import Source
from anynode.node import Node
from tests.helpers import start_tcp
from tests.rest_helpers import ANYLOG, start


def test_the_output_is_the_answer_and_the_value_of_an_assignment(node: Node, tmp_path: Path) -> None:
    (tmp_path / "setup.cfg").write_text("name = x\nversion = 1.4.2\n")
    node.set_var("local_scripts", str(tmp_path))
    node.execute("config_version = system grep -m1 \"^version\" !local_scripts/setup.cfg | awk -F \" = \" "
                 "'{print $2}' | xargs")  # the line EdgeLake's set_params.al runs
    assert node.get_var("config_version") == "1.4.2"
    assert node.execute("system printf 'a\\nb\\n'").to_text() == "a\nb"
    assert node.execute(f"system echo x>{tmp_path}/out.txt 2>/dev/null && cat {tmp_path}/out.txt").to_text() == "x"


@pytest.mark.parametrize("value", ["x; touch PWNED", "$(touch PWNED)", "`touch PWNED`", "a' ; touch PWNED; '",
                                   'a" && touch PWNED && "', "two  spaces > PWNED"])
def test_a_variable_is_one_word_whatever_it_holds(node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  value: str) -> None:
    monkeypatch.chdir(tmp_path)
    node.set_var("v", value)
    assert node.execute("system echo !v").to_text() == value
    assert node.execute("system printf '%s|' !v/end").to_text() == value + "/end|"
    assert not (tmp_path / "PWNED").exists()


def test_a_command_held_in_a_variable_runs_only_through_sh_c(node: Node) -> None:
    node.set_var("cmd", "echo one; echo two")
    assert node.execute("system sh -c !cmd").to_text() == "one\ntwo"
    with pytest.raises(AnyNodeError, match="exited with 127"):
        node.execute("system !cmd")


def test_an_undefined_variable_is_an_error_not_an_empty_word(node: Node, tmp_path: Path) -> None:
    (tmp_path / "keep").write_text("x")
    with pytest.raises(CommandSyntaxError, match="variable '!dir' is not defined"):
        node.execute(f"system rm -f {tmp_path}/!dir")
    assert (tmp_path / "keep").exists()


def test_a_failing_command_gives_its_exit_code_and_first_stderr_line(node: Node) -> None:
    with pytest.raises(AnyNodeError) as err:
        node.execute("system ls /no/such/dir")
    assert "exited with 2" in err.value.message and "No such file or directory" in err.value.message
    with pytest.raises(AnyNodeError, match=r"'exit 3' exited with 3$"):
        node.execute("system exit 3")


def test_the_timeout_stops_it_and_its_children(node: Node, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(AnyNodeError, match="ran past its timeout of 0.5 s"):
        node.execute(f"system timeout = 0.5 echo $$ > {tmp_path}/pid; sleep 30 | cat")
    assert time.monotonic() - started < 2
    _assert_group_gone(int((tmp_path / "pid").read_text()))
    with pytest.raises(CommandSyntaxError, match="timeout 'soon' is not a number"):
        node.execute("system timeout = soon ls")


def _assert_group_gone(pgid: int) -> None:
    """No process of the group runs any more (a killed child may stay a zombie until PID 1 reaps it)."""
    deadline = time.monotonic() + 2
    while True:
        running = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                running.append(stat.parent.name)
        if not running:
            return
        assert time.monotonic() < deadline, f"process group {pgid} still runs: {running}"
        time.sleep(0.05)


def test_ctrl_c_cancels_it_at_once(node: Node, tmp_path: Path) -> None:
    cancel = Cancel()
    threading.Timer(0.3, cancel.cancel, args=("Ctrl-C",)).start()
    started = time.monotonic()
    with pytest.raises(QueryCancelled, match=r"cancelled \(Ctrl-C\)"):
        node.execute(f"system timeout = 60 echo $$ > {tmp_path}/pid; sleep 30 && touch {tmp_path}/late",
                     cancel=cancel)
    assert time.monotonic() - started < 2
    _assert_group_gone(int((tmp_path / "pid").read_text()))
    assert not (tmp_path / "late").exists()


def test_stopping_the_node_stops_it(node: Node) -> None:
    threading.Timer(0.3, node.request_exit).start()
    started = time.monotonic()
    with pytest.raises(QueryCancelled, match="the node is stopping"):
        node.execute("system timeout = 60 sleep 30")
    assert time.monotonic() - started < 2


def test_output_is_capped(node: Node) -> None:
    with pytest.raises(AnyNodeError, match="wrote more than 16 MB and was stopped"):
        node.execute("system timeout = 20 yes")


def test_it_gets_no_input(node: Node) -> None:
    assert node.execute("system timeout = 2 cat").to_text() == ""


@pytest.mark.parametrize("source", [Source.REST, Source.REMOTE])
def test_peers_and_rest_clients_may_not_run_it(node: Node, tmp_path: Path, source: Source) -> None:
    assert node.registry.get("system").remote is False
    with pytest.raises(NotPermitted, match="'system' may not be run by a peer or a REST client"):
        node.execute(f"system touch {tmp_path}/made", source=source)
    with pytest.raises(NotPermitted):
        node.execute(f"if 1 == 1 then system touch {tmp_path}/made", source=source)
    assert not (tmp_path / "made").exists()


def test_the_rest_server_and_a_peer_are_refused(node: Node, tmp_path: Path) -> None:
    url = start(node)
    reply = httpx.get(url, headers={**ANYLOG, "command": f"system touch {tmp_path}/by-rest"}, timeout=5)
    assert reply.status_code == 403
    addr = start_tcp(node)
    with pytest.raises(RemoteError, match="may not be run by a peer"):
        node.execute(f"run client ({addr}) system touch {tmp_path}/by-peer")
    assert not (tmp_path / "by-rest").exists() and not (tmp_path / "by-peer").exists()


def test_output_read_from_a_secret_is_secret(node: Node) -> None:
    node.execute("db_password = s3cret-value-99")
    node.execute("shown = system echo !db_password | tr a-z A-Z")
    assert node.get_var("shown") == "S3CRET-VALUE-99"
    assert "S3CRET" not in str(node.execute("get dictionary where format = json").to_json())
