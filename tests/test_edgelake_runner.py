"""scripts/edgelake_scripts.py: env files read as docker compose reads them, and the plan of ports and paths."""

from __future__ import annotations

import importlib.util
import socket
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("edgelake_scripts", ROOT / "scripts" / "edgelake_scripts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ENV = """\
#--- General ---
# Node type: master, operator, query
NODE_TYPE=operator
COMPANY_NAME="Acme Inc"
DB_USER=""
BLOCKCHAIN_SYNC=30 second
MQTT_PASSWD=p4ss!word
MSG_TABLE=bring [table]
ENABLE_ETHERIP = false
THRESHOLD_TIME=60 seconds # a comment after a space
URL=http://host/a#b
not a setting line
"""


def test_env_lines_are_read_as_docker_compose_reads_them(runner: ModuleType) -> None:
    env = runner.parse_env_file(ENV)
    assert env == {"NODE_TYPE": "operator", "COMPANY_NAME": "Acme Inc", "DB_USER": "",
                   "BLOCKCHAIN_SYNC": "30 second", "MQTT_PASSWD": "p4ss!word", "MSG_TABLE": "bring [table]",
                   "ENABLE_ETHERIP": "false", "THRESHOLD_TIME": "60 seconds", "URL": "http://host/a#b"}


def test_the_plan_moves_ports_points_paths_and_turns_the_extras_off(runner: ModuleType, tmp_path: Path) -> None:
    compose = tmp_path / "compose"
    for kind in ("master", "operator", "query"):
        folder = compose / "docker-makefiles" / f"{kind}-configs"
        folder.mkdir(parents=True)
        (folder / "base_configs.env").write_text(f"NODE_TYPE={kind}\nANYLOG_SERVER_PORT=32048\nENABLE_MQTT=true\n")
        (folder / "advance_configs.env").write_text("LEDGER_CONN=127.0.0.1:32048\nANYLOG_PATH=/app\n")
    plan = runner.plan(compose, tmp_path / "ds", tmp_path / "work")
    ports = [int(plan[k][p]) for k in plan for p in ("ANYLOG_SERVER_PORT", "ANYLOG_REST_PORT")]
    assert len(set(ports)) == 6 and 32048 not in ports
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # free
    master_port = plan["master"]["ANYLOG_SERVER_PORT"]
    for kind, env in plan.items():
        assert env["NODE_TYPE"] == kind and env["LEDGER_CONN"] == f"localhost:{master_port}"
        assert env["ENABLE_MQTT"] == "false" and env["ENABLE_HA"] == "false"
        assert env["LOCAL_SCRIPTS"] == str(tmp_path / "ds") and env["ANYLOG_PATH"] == str(tmp_path / "work" / kind)


def test_a_folder_without_env_files_is_a_clear_error(runner: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no env files in .*master-configs"):
        runner.node_env(tmp_path, "master")


def test_running_rows_of_get_processes(runner: ModuleType) -> None:
    shown = ("Process          Status        Details\n---------------  ------------  -------\n"
             "TCP              Running       Listening on: 1.2.3.4:5\nOperator         Not declared\n"
             "Blockchain Sync  Running       Sync every 30 seconds\n")
    assert runner.running(shown) == {"TCP", "Blockchain Sync"}


def test_exports_read_back_to_the_same_values_in_a_shell(runner: ModuleType) -> None:
    import subprocess

    env = {"THRESHOLD_TIME": "60 seconds", "MQTT_PASSWD": "it's $HOME!", "DB_USER": "", "MSG_TABLE": "bring [table]"}
    out = subprocess.run(["bash", "-c", runner.exports(env) + 'printf "%s|%s|%s|%s" "$THRESHOLD_TIME" "$MQTT_PASSWD" '
                          '"$DB_USER" "$MSG_TABLE"'], capture_output=True, text=True, check=True)
    assert out.stdout == "60 seconds|it's $HOME!||bring [table]"


def test_print_env_keeps_the_env_files_ports(runner: ModuleType, tmp_path: Path) -> None:
    compose = tmp_path / "compose"
    for kind, port in (("master", 32048), ("operator", 32148), ("query", 32348)):
        folder = compose / "docker-makefiles" / f"{kind}-configs"
        folder.mkdir(parents=True)
        (folder / "base_configs.env").write_text(f"ANYLOG_SERVER_PORT={port}\nANYLOG_REST_PORT={port + 1}\n")
    plan = runner.plan(compose, tmp_path / "ds", tmp_path / "work", move_ports=False)
    assert plan["operator"]["ANYLOG_SERVER_PORT"] == "32148" and plan["query"]["LEDGER_CONN"] == "localhost:32048"
