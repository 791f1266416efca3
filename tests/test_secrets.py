"""Secrets never leave the node: not in logs, history, settings, the dictionary, nor replies to peers and REST."""

from __future__ import annotations

import io
import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from anynode.errors import AnyNodeError, NotPermitted
from anynode.grammar.dispatch import Source
from anynode.net.peers import ask_peers
from anynode.node import Node
from anynode.repl.session import build_session, history, run_interactive
from anynode.results import Batch, Json, Message, Record, Replies, Reply, Table
from anynode.secret import MASK, Secrets, is_secret_name

PW = "pw-4f9a1c"  # a database password, planted in most tests


def rest(node: Node, line: str) -> str:
    """What a REST client (or a peer: the same source rules) gets for ``line``: the reply or the error."""
    try:
        return node.execute(line, Source.REST).to_text()
    except AnyNodeError as exc:
        return "error: " + exc.one_line()


def logged(node: Node) -> str:
    """root.log and both rings."""
    rings = [e.text for e in node.logs.events.entries()] + [e.text for e in node.logs.errors.entries()]
    return (node.home / "logs" / "root.log").read_text() + "\n".join(rings)


# -- which names are secret -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["network_key", "mykey", "MyKey", "api_keys", "rest_token", "TOKEN", "db_password",
                                  "PASSWORD", "Password", "db_passwd", "my_secret", "SecretThing", "aws_credentials",
                                  "$ANYNODE_NETWORK_KEY", "api_key[]", "cfg[api_key]", "cfg[Password]"])
def test_secret_names_any_case(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["node_name", "key_file", "watch_dir", "keyword", "ip", "bkup_dir"])
def test_ordinary_names_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


# -- logs and the event log -------------------------------------------------------------------
@pytest.mark.parametrize("line, value", [
    ("rest_token = tok-77aa", "tok-77aa"),
    ("db_password = pw-88bb", "pw-88bb"),
    ("my_secret = sec-99cc", "sec-99cc"),
    ("mykey = mk-11dd", "mk-11dd"),
    ("PASSWORD = x", "= x"),
    ("Password = y", "= y"),
    ("set Db_Token = tk-22ee", "tk-22ee"),
    ("$AN_TEST_API_KEY = env-33ff", "env-33ff"),
    ('cfg = {"db": {"Password": "js-44aa"}}', "js-44aa"),
    ('connect dbms sec2 where type = sqlite and PassWord = "pw 66 cc"', "pw 66 cc"),
    ("x = 1 & api_token = tk-99ff & y = 2", "tk-99ff"),
    ("cfg[api_key] = ak-11aa", "ak-11aa"),
])
def test_secret_lines_are_masked_in_root_log_and_event_log(node: Node, monkeypatch: pytest.MonkeyPatch,
                                                            line: str, value: str) -> None:
    monkeypatch.delenv("AN_TEST_API_KEY", raising=False)
    node.execute(line)
    text = logged(node)
    assert value not in text
    assert MASK in text


def test_a_known_secret_value_is_masked_in_any_log_line(node: Node) -> None:
    node.execute(f"db_password = {PW}")
    node.execute(f"echo {PW} is here")  # a line that is not an assignment
    with pytest.raises(AnyNodeError):
        node.execute(f"get nothing {PW}")  # the error log and a warning
    node.log.getChild("tcp").warning("peer sent %s", PW)  # a service's child logger
    try:
        raise RuntimeError(f"boom {PW}")
    except RuntimeError:
        node.log.exception("a traceback")
    text = logged(node)
    assert PW not in text
    assert f"(ok) echo {MASK} is here" in text and f"peer sent {MASK}" in text and f"RuntimeError: boom {MASK}" in text


def test_a_value_assigned_from_a_secret_is_secret_too(node: Node) -> None:
    node.execute(f"db_password = {PW}")
    node.execute("copy = !db_password")
    node.execute("joined = !db_password + -suffix")
    dictionary = node.execute("get dictionary where format = json").to_json()
    assert dictionary["copy"] == MASK and dictionary["joined"] == MASK
    assert rest(node, "echo !copy !joined") == f"{MASK} {MASK}"
    node.execute("copy = plain")  # a plain value again: no longer secret
    assert node.execute("get dictionary copy where format = json").to_json() == {"copy": "plain"}


def test_run_client_line_masks_the_command_it_sends(node: Node) -> None:
    assert node.registry.redact("run client (127.0.0.1:1) set network key nk-12ab") == \
        f"run client (127.0.0.1:1) set network key {MASK}"
    assert node.registry.redact("echo hello & get status") == "echo hello & get status"
    assert node.registry.redact('set network key "unclosed nk-34cd') == f"set network key {MASK}"


# -- get settings (item 13) --------------------------------------------------------------------
def test_get_settings_says_the_network_key_is_set_by_the_command_without_its_value(node: Node) -> None:
    node.execute("set network key nk-5566aa")
    got = node.execute("get settings where format = json").to_json()["network_key"]
    assert got == {"value": MASK, "source": "set network key"}
    assert json.loads(rest(node, "get settings where format = json"))["network_key"] == got
    assert "nk-5566aa" not in repr(node.settings)
    assert node.settings.reload().source("network_key") == "set network key"  # a SIGHUP keeps it
    node.execute('set network key ""')
    assert node.execute("get settings where format = json").to_json()["network_key"] == \
        {"value": "", "source": "set network key"}


# -- replies to peers and REST clients (item 2) ------------------------------------------------
def test_environment_variables_are_never_expanded_for_peers_and_rest(node: Node,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AN_PROBE_PLAIN", "env-plain-5151")
    for source in (Source.REST, Source.REMOTE):
        for line in ("echo $AN_PROBE_PLAIN", "$AN_PROBE_PLAIN", "json $AN_PROBE_PLAIN", "echo a$AN_PROBE_PLAIN"):
            with pytest.raises(NotPermitted, match=r"environment variables are not read .*\$AN_PROBE_PLAIN"):
                node.execute(line, source)
    assert node.execute("echo $AN_PROBE_PLAIN").to_text() == "env-plain-5151"  # the owner's console reads it


def test_secret_variables_read_as_mask_for_peers_and_rest_and_as_themselves_locally(node: Node) -> None:
    node.execute(f"db_password = {PW}")
    node.execute("rest_token = tok-6161aa")
    for line in ("echo !db_password", "!db_password", "echo !rest_token", "json !db_password",
                 "echo !db_password.len", "echo !db_password[0:3]", "echo !db_password.name"):
        reply = rest(node, line)
        assert PW not in reply and PW[:3] not in reply and str(len(PW)) not in reply and "tok-6161aa" not in reply
    assert rest(node, "echo !db_password") == MASK
    assert node.execute("echo !db_password").to_text() == PW


def test_get_dictionary_masks_secret_variables_for_everyone(node: Node) -> None:
    node.execute(f"db_password = {PW}")
    node.execute("mykey = mk-7171aa")
    node.execute('svc = {"name": "x", "auth": {"token": "tk-8181aa"}}')
    for reply in (node.execute("get dictionary").to_text(), rest(node, "get dictionary"),
                  rest(node, "get dictionary where format = json")):
        assert PW not in reply and "mk-7171aa" not in reply and "tk-8181aa" not in reply
    assert node.execute("get dictionary mykey where format = json").to_json() == {"mykey": MASK}


def test_replies_mask_known_values_but_not_the_requesters_own_words(node: Node) -> None:
    node.execute(f"db_password = {PW}")
    node.execute(f"note = the password is {PW}")  # holds the value: secret by value
    assert json.loads(rest(node, "get dictionary note where format = json")) == {"note": MASK}
    assert rest(node, f"echo {PW}") == PW  # the caller typed it: masking it would confirm a guess
    with pytest.raises(AnyNodeError) as err:
        node.execute("get nothing", Source.REST)
    assert PW not in err.value.one_line()


def test_secrets_mask_every_result_shape() -> None:
    book = Secrets()
    book.add("s3cr3t-value")
    book.add("abc")  # too short to mask by value: masked by name only
    shapes = [Message("a s3cr3t-value b"), Table.of(["k", "v"], [("x", "s3cr3t-value"), ("n", 5)]),
              Record({"k": "s3cr3t-value"}), Json({"s3cr3t-value": ["s3cr3t-value"]}),
              Batch((Message("s3cr3t-value"), Message("ok"))),
              Replies((Reply("1.2.3.4:5", Message("s3cr3t-value")),))]
    for result in shapes:
        masked = book.mask_result(result)
        assert "s3cr3t-value" not in json.dumps(masked.to_wire()) and MASK in json.dumps(masked.to_wire())
    plain = Table.of(["k"], [("abc",)])
    assert book.mask_result(plain) is plain
    book.add('q"uo\\te\nline')  # JSON escapes it: still found in rows and values
    for result in (Table.of(["n", "k"], [(1, 'a q"uo\\te\nline b')]), Json([{"k": 'q"uo\\te\nline'}]),
                   Json({1: 'q"uo\\te\nline'}), Table.of(["n", "k"], [(2**70, 'q"uo\\te\nline')])):
        shown = repr(book.mask_result(result).to_json())
        assert "line" not in shown and MASK in shown


# -- history (item 3) --------------------------------------------------------------------------
def test_history_file_never_holds_a_secret_line(node: Node) -> None:
    node.execute(f"db_password = {PW}")
    kept = history(node)
    for line in ("echo hello", "rest_token = tok-9191aa", f"echo {PW}", "set network key nk-9292aa", "get status"):
        kept.append_string(line)
    text = (node.home / "history").read_text()
    assert "echo hello" in text and "get status" in text
    assert "tok-9191aa" not in text and PW not in text and "nk-9292aa" not in text
    assert "rest_token = tok-9191aa" in kept.get_strings()  # recalled in this session


# -- end to end: plant, attack over REST and TCP, grep everything -------------------------------
def http(url: str, command: str, token: str, method: str = "GET") -> str:
    req = urllib.request.Request(url, method=method, headers={"command": command, "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as reply:
            return reply.read().decode()
    except urllib.error.HTTPError as exc:
        return f"{exc.code} {exc.read().decode()}"


def test_planted_secrets_appear_in_no_reply_and_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        pipe) -> None:  # type: ignore[no-untyped-def]
    planted = {"env_key": "nk-env-a1b2c3", "net_key": "nk-cmd-d4e5f6", "token": "tok-g7h8i9", "db": "pw-j1k2l3",
               "db2": "pw-m4n5o6", "secret": "sec-p7q8r9", "key": "mk-s1t2u3", "json": "js-v4w5x6",
               "env": "env-y7z8a9", "env_token": "envtok-b1c2d3"}
    monkeypatch.setenv("ANYNODE_NETWORK_KEY", planted["env_key"])
    monkeypatch.setenv("AN_PROBE_ENV", planted["env"])
    monkeypatch.setenv("AN_PROBE_API_TOKEN", planted["env_token"])
    home, peer_home = tmp_path / "target", tmp_path / "peer"
    home.mkdir()
    (home / "anynode.cfg").write_text("log_level = DEBUG\n")  # REST and peer lines reach root.log too
    node = Node(home, name="target")
    monkeypatch.delenv("ANYNODE_NETWORK_KEY")
    peer = Node(peer_home, name="peer")
    replies: list[str] = []
    try:
        typed = [f"set network key {planted['net_key']}", f"rest_token = {planted['token']}",
                 f"db_password = {planted['db']}", "connect dbms sdb where type = sqlite and password = !db_password",
                 f"connect dbms sdb2 where type = sqlite and password = {planted['db2']}",
                 f"my_secret = {planted['secret']}", f"MyKey = {planted['key']}", "x = !my_secret",
                 f'cfg = {{"api": {{"Token": "{planted["json"]}"}}}}', "echo !db_password",
                 "run rest server where ip = 127.0.0.1 and port = 0 and bind = true and token = !rest_token",
                 "run tcp server where internal_ip = 127.0.0.1 and internal_port = 0 and bind = true"]
        out = io.StringIO()
        pipe.send_text("\r".join(typed) + "\r\x04")
        assert run_interactive(node, build_session(node), out, io.StringIO()) == 0
        assert planted["db"] in out.getvalue()  # the owner's console shows a variable's value
        url = re.search(r"http://\S+", out.getvalue()).group()
        tcp = re.search(r"127\.0\.0\.1:\d+", out.getvalue().split("TCP server running:")[1]).group()
        attacks = ["echo $ANYNODE_NETWORK_KEY", "echo $AN_PROBE_ENV", "$AN_PROBE_API_TOKEN", "echo !rest_token",
                   "echo !db_password", "!db_password", "echo !x !my_secret !MyKey !cfg", "json !cfg",
                   "echo !db_password.len !rest_token[0:4]", "get dictionary", "get dictionary where format = json",
                   "get settings", "get settings where format = json", "get event log", "get error log",
                   "get processes", "get databases", "get rest server info"]
        for line in attacks:
            replies.append(http(url, line, planted["token"]))
        replies.append(http(url, "get dictionary", "wrong-token"))
        peer.execute(f"set network key {planted['net_key']}")
        for line in attacks[:12]:  # the command as the frame carries it: no expansion on the sender
            try:
                replies.append(ask_peers(peer.client(), [tcp], line, 5).to_text())
            except AnyNodeError as exc:
                replies.append(exc.one_line())
        replies.append(peer.execute(f"run client ({tcp}) echo !!db_password !!MyKey").to_text())
        assert any("'$AN_PROBE_ENV'" in r and "not read for peers" in r for r in replies)
        assert any(f'"rest_token":"{MASK}"' in r for r in replies)
        assert any("[From Node" in r and MASK in r for r in replies)
    finally:
        node.close()
        peer.close()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "root.log" for p in files) and any(p.name == "history" for p in files)
    for name, value in planted.items():
        assert not [r for r in replies if value in r], f"{name} in a reply"
        assert not [p for p in files if value.encode() in p.read_bytes()], f"{name} in a file"


def test_only_the_current_value_of_a_secret_variable_is_held(node: Node) -> None:
    for n in range(50):
        node.execute(f"rest_token = tok-{n:04d}-rotating")
    assert [v for v in node.secrets.values() if v.startswith("tok-")] == ["tok-0049-rotating"]
    node.execute("copy = !rest_token")
    node.execute("rest_token = tok-new-value")
    assert rest(node, "echo tok-0049-rotating and !copy") == f"tok-0049-rotating and {MASK}"  # the caller's own words
    assert "tok-0049-rotating" in node.secrets.values()  # still held by copy
    node.execute('copy = ""')
    assert "tok-0049-rotating" not in node.secrets.values()
