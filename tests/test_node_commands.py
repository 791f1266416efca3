"""Node commands a user runs to see what the node does: processes, stats, logs, settings, exit."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from anynode.errors import CommandNotFound, CommandSyntaxError, ServiceError
from anynode.node import Node
from anynode.services.base import RestartPolicy, Service


class Sleeper(Service):
    """Sleeps a long interval on its stop event; counts its loops."""

    def __init__(self, name: str = "Scheduler") -> None:
        self.name = name
        self.loops = 0

    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        ready()
        while not stop.wait(3600):
            self.loops += 1

    def details(self) -> str:
        return "sleeping an hour"

    def info(self) -> dict[str, int]:
        return {"loops": self.loops}


class Crasher(Service):
    """Becomes ready, then fails at once, every time."""

    name = "Operator"
    restart_policy = RestartPolicy(backoff=0.01, max_backoff=0.02, give_up_after=3, window=30)

    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        ready()
        raise RuntimeError("disk on fire")


def rows(node: Node) -> dict[str, tuple[str, str]]:
    return {r[0]: (r[1], r[2]) for r in node.execute("get processes").rows}


def test_get_processes_shows_running_then_stopped_with_details(node: Node) -> None:
    node.services.start(Sleeper())
    assert rows(node)["Scheduler"] == ("Running", "sleeping an hour")
    node.execute("exit scheduler")
    assert rows(node)["Scheduler"][0] == "Stopped"
    assert rows(node)["TCP"][0] == "Not declared"


def test_a_crashing_service_is_restarted_then_given_up_and_says_why(node: Node) -> None:
    node.services.start(Crasher())
    node.services.wait_for("Operator", ("Failed",), 10)
    data = json.loads(json.dumps(node.execute("get processes where format = json").to_json()))
    op = data["Operator"]
    assert op["Status"] == "Failed"
    assert op["Restarts"] >= 2
    assert "disk on fire" in op["Last error"]
    assert "give up after 3" in op["Policy"]
    log = (node.home / "logs" / "root.log").read_text()
    assert "Traceback" in log and "RuntimeError: disk on fire" in log


def test_exit_of_a_service_that_does_not_run_says_so(node: Node) -> None:
    with pytest.raises(ServiceError, match="not running"):
        node.execute("exit tcp")


def test_get_stats_shows_each_services_counters(node: Node) -> None:
    node.services.start(Sleeper())
    table = node.execute("get stats where service = scheduler")
    assert ("Scheduler", "loops", 0) in table.rows and ("Scheduler", "state", "Running") in table.rows
    assert node.execute("get stats where format = json").to_json()["Scheduler"]["loops"] == 0
    with pytest.raises(CommandSyntaxError, match="no service 'tcp' has run"):
        node.execute("get stats where service = tcp")


def test_failed_commands_land_in_the_error_log_and_good_ones_in_the_event_log(node: Node) -> None:
    node.execute("echo fine")
    with pytest.raises(CommandNotFound):
        node.execute("get nothing")
    errors = [r[-1] for r in node.execute("get error log").rows]
    assert any("unknown command 'get nothing'" in e and e.endswith("get nothing") for e in errors)
    assert any(r[-1] == "(ok) echo fine" for r in node.execute("get event log").rows)
    node.execute("reset error log")
    assert node.execute("get error log").rows == ()


def test_get_settings_shows_value_and_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "anynode.cfg").write_text("stats_interval = 45\n")
    monkeypatch.setenv("ANYNODE_REMOTE_TIMEOUT", "7")
    monkeypatch.setenv("ANYNODE_NETWORK_KEY", "hush")
    n = Node(home)
    try:
        got = n.execute("get settings where format = json").to_json()
        assert got["stats_interval"]["value"] == 45 and "anynode.cfg" in got["stats_interval"]["source"]
        assert got["remote_timeout"] == {"value": 7, "source": "env ANYNODE_REMOTE_TIMEOUT"}
        assert got["network_key"]["value"] == "****"
    finally:
        n.close()


def test_bad_setting_in_the_file_stops_the_node_with_a_clear_error(tmp_path: Path) -> None:
    from anynode.errors import ConfigError

    home = tmp_path / "h"
    home.mkdir()
    (home / "anynode.cfg").write_text("stats_intervall = 45\n")
    with pytest.raises(ConfigError) as err:
        Node(home)
    assert "unknown setting 'stats_intervall'" in err.value.one_line()
    assert "did you mean 'stats_interval'" in err.value.one_line()


def test_create_work_directories_makes_every_directory(node: Node) -> None:
    node.execute("create work directories")
    for var in ("watch_dir", "err_dir", "archive_dir", "dbms_dir", "bkup_dir"):
        assert Path(node.get_var(var) or "").is_dir()


def test_set_node_name_refuses_two_words(node: Node) -> None:
    with pytest.raises(CommandSyntaxError):
        node.execute('set node name "two words"')
    node.execute("set node name edge2")
    assert node.execute("get node name").to_text() == "edge2"
