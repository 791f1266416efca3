"""The REST service's life: start, refuse twice, bind errors, stop, pool, auth, TLS."""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from anynode.errors import AlreadyRunning, CommandSyntaxError, ServiceError
from tests.rest_helpers import ANYLOG, add_test_commands, port_of, start


def _rest_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("anynode:rest")]


def test_start_reports_the_real_port_and_stop_is_prompt(node) -> None:  # type: ignore[no-untyped-def]
    url = start(node)
    assert port_of(url) > 0
    with httpx.Client() as client:  # an idle keep-alive connection stays open during the stop
        assert client.get(url, headers={"command": "get status"}).status_code == 200
        began = time.monotonic()
        assert node.execute("exit rest").to_text() == "REST stopped"
        assert time.monotonic() - began < 1.0
    assert node.services.status("REST").state == "Stopped"
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, headers={"command": "get status"}, timeout=2)


def test_run_twice_is_already_running(node) -> None:  # type: ignore[no-untyped-def]
    start(node)
    with pytest.raises(AlreadyRunning, match="already running"):
        start(node)


def test_port_in_use_is_a_one_line_error(node) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServiceError) as info:
            node.execute(f"run rest server where ip = 127.0.0.1 and port = {port} and bind = true")
    text = str(info.value)
    assert f"127.0.0.1:{port}" in text and "address already in use" in text and "\n" not in text
    assert node.services.status("REST").state != "Running"
    assert not _rest_threads()


def test_address_and_port_are_required(node) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandSyntaxError, match="address and a port"):
        node.execute("run rest server where threads = 2")
    with pytest.raises(CommandSyntaxError, match="go together"):
        node.execute("run rest server where ip = 127.0.0.1 and port = 0 and user = u")


def test_internal_and_external_addresses(node) -> None:  # type: ignore[no-untyped-def]
    url = node.execute("run rest server where internal_ip = 127.0.0.1 and internal_port = 0 and bind = true "
                       "and external_ip = 203.0.113.9 and external_port = 8080 and threads = 3 and timeout = 7"
                       ).to_text().rsplit(" ", 1)[1]
    conns = node.execute("get connections where format = json").to_json()["REST"]
    assert conns == {"External Address": "203.0.113.9:8080", "Internal Address": url.split("//")[1],
                     "Bind Address": url.split("//")[1]}
    details = node.services.status("REST").details
    assert details == f"Listening on: {url.split('//')[1]}, Threads Pool: 3, Timeout: 7, SSL: False"


def test_info_needs_a_running_server(node) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ServiceError, match="not running"):
        node.execute("get rest server info")


def test_commands_run_in_the_named_worker_pool(node) -> None:  # type: ignore[no-untyped-def]
    release = add_test_commands(node)
    url = start(node, "and threads = 2")
    with ThreadPoolExecutor(4) as pool:
        waiting = [pool.submit(httpx.get, url, headers={"command": "test wait"}, timeout=5) for _ in range(2)]
        deadline = time.monotonic() + 3
        while len([n for n in _rest_threads() if "worker" in n]) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sorted(n for n in _rest_threads() if "worker" in n) == ["anynode:rest-worker_0",
                                                                      "anynode:rest-worker_1"]
        # the event loop is not blocked: health answers while both workers are busy
        assert httpx.get(url + "/health/live", timeout=2).status_code == 200
        release.set()
        assert [f.result().text for f in waiting] == ["done waiting"] * 2


def test_only_non_blocking_commands_run_on_the_event_loop(node) -> None:  # type: ignore[no-untyped-def]
    add_test_commands(node)
    url = start(node)
    assert httpx.get(url, headers={"command": "test where"}, timeout=5).text.startswith("anynode:rest-worker_")
    assert httpx.get(url, headers={"command": "test quick"}, timeout=5).text == "anynode:rest"
    both = httpx.get(url, headers={"command": "test quick & test where"}, timeout=5).text.splitlines()
    assert both[1].startswith("anynode:rest-worker_")


def test_monitoring_commands_answer_while_every_worker_is_busy(node) -> None:  # type: ignore[no-untyped-def]
    release = add_test_commands(node)
    url = start(node, "and threads = 1")
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(httpx.get, url, headers={"command": "test wait"}, timeout=5)
        deadline = time.monotonic() + 3
        while not any("worker" in n for n in _rest_threads()) and time.monotonic() < deadline:
            time.sleep(0.02)
        for command in ("get status", "get hostname", "get connections", "get rest server info", "get rest calls"):
            r = httpx.get(url, headers={"command": command}, timeout=2)
            assert r.status_code == 200, (command, r.text)
        assert not busy.done()
        release.set()
        assert busy.result().text == "done waiting"


def test_a_slow_command_gets_504(node) -> None:  # type: ignore[no-untyped-def]
    release = add_test_commands(node)
    url = start(node)
    began = time.monotonic()
    r = httpx.get(url, headers={"command": "test wait", "timeout": "0.3"}, timeout=5)
    assert r.status_code == 504 and "0.3 s" in r.json()["error"] and r.json()["err_code"] == 26
    assert time.monotonic() - began < 2
    release.set()


def test_server_timeout_option(node) -> None:  # type: ignore[no-untyped-def]
    release = add_test_commands(node)
    url = start(node, "and timeout = 1")
    began = time.monotonic()
    assert httpx.get(url, headers={"command": "test wait"}, timeout=5).status_code == 504
    assert 0.9 < time.monotonic() - began < 3
    release.set()


def test_token_authentication(node) -> None:  # type: ignore[no-untyped-def]
    node.set_var("rest_token", "s3cret")
    url = start(node, "and token = !rest_token")
    r = httpx.get(url, headers={"command": "get status"}, timeout=5)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    r = httpx.get(url, headers={"command": "get status", "Authorization": "Bearer wrong"}, timeout=5)
    assert r.status_code == 401
    r = httpx.get(url, headers={"command": "get status", "Authorization": "Bearer s3cret"}, timeout=5)
    assert r.status_code == 200
    assert httpx.get(url + "/health/ready", timeout=5).status_code == 200, "probes need no credentials"
    assert "s3cret" not in node.execute("get event log").to_text()


def test_basic_authentication(node) -> None:  # type: ignore[no-untyped-def]
    url = start(node, "and user = ann and password = pw")
    r = httpx.get(url, headers={"command": "get status"}, timeout=5)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(url, headers={"command": "get status"}, auth=("ann", "no"), timeout=5).status_code == 401
    r = httpx.get(url, headers={"command": "get status"}, auth=("ann", "pw"), timeout=5)
    assert r.status_code == 200
    bad = {"command": "get status", "Authorization": "Basic !!!" + base64.b64encode(b"x").decode()}
    assert httpx.get(url, headers=bad, timeout=5).status_code == 401


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
def test_https(node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    reply = node.execute(f"run rest server where ip = 127.0.0.1 and port = 0 and bind = true and ssl = true "
                         f"and cert_file = {cert} and key_file = {key}").to_text()
    url = reply.rsplit(" ", 1)[1]
    assert url.startswith("https://")
    r = httpx.get(url, headers={"command": "get status", **ANYLOG}, verify=False, timeout=5)
    assert r.status_code == 200 and r.text.endswith(" running")
    assert "SSL: True" in node.services.status("REST").details


def test_ssl_needs_existing_files(node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandSyntaxError, match="does not exist"):
        node.execute(f"run rest server where ip = 127.0.0.1 and port = 0 and ssl = true "
                     f"and cert_file = {tmp_path}/no.crt and key_file = {tmp_path}/no.key")
    with pytest.raises(CommandSyntaxError, match="ssl = true"):
        node.execute(f"run rest server where ip = 127.0.0.1 and port = 0 and cert_file = {tmp_path}/no.crt")


@pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")
def test_curl_examples_from_the_docs(node) -> None:  # type: ignore[no-untyped-def]
    node.execute("create work directories")
    url = start(node)

    def curl(*args: str) -> str:
        done = subprocess.run(["curl", "-sS", "--max-time", "5", *args, url], capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert curl("-H", "command: get status").endswith(" running")
    assert curl("-H", "command: get status", "-H", "User-Agent: AnyLog/1.23").endswith(" running")
    assert '"REST":{"Status":"Running"' in curl("-H", "command: get processes where format = json")
    assert "err_code" in curl("-X", "POST", "-H", "command: exit node")
    put = curl("-X", "PUT", "-H", "type: json", "-H", "dbms: test", "-H", "table: readings",
               "-H", "mode: file", "--data-binary", '[{"value": 1}, {"value": 2}]')
    assert '"AnyLog.status":"Success"' in put
