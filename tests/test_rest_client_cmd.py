"""rest get|post|put|delete: the node as an HTTP client, against real servers on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from anynode.cancel import Cancel
from anynode.errors import CommandSyntaxError, NotPermitted, QueryCancelled, RemoteError, RemoteTimeout
from anynode.grammar.dispatch import Source
from anynode.node import Node
from tests.helpers import dead_address
from tests.rest_helpers import ANYLOG, start


class _Handler(BaseHTTPRequestHandler):
    """Answers by path; every request is recorded on the server."""

    server: Any

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                 "body": body.decode()})
        if self.path == "/json":
            self._send(200, b'{"city": "Redwood City", "loc": "37.5,-122.2"}', "application/json")
        elif self.path == "/text":
            self._send(200, b"plain words\n", "text/plain; charset=utf-8")
        elif self.path == "/missing":
            self._send(404, b"no such thing here\nsecond line", "text/plain")
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/json")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/big":
            self._send(200, b"x" * (16 * 1024 * 1024 + 10), "text/plain")
        else:
            self._send(200, b"ok", "text/plain")

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Any]:
    """An HTTP server on 127.0.0.1, port 0; ``server.url`` and the requests it saw (``server.seen``)."""
    srv: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.seen = []
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, name="test-http")
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture
def silent() -> Iterator[str]:
    """A URL whose server accepts the connection and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"


def test_a_json_reply_is_json_and_the_scripts_read_it_with_from_bring(node: Node, server: Any) -> None:
    assert node.execute(f"rest get where url = {server.url}/json").to_json()["city"] == "Redwood City"
    node.execute(f"loc_info = rest get where url = {server.url}/json")  # set_params.al's line, on a local server
    node.execute("loc = from !loc_info bring [loc]")
    assert node.get_var("loc") == "37.5,-122.2"
    assert node.execute(f"rest get where url = {server.url}/text").to_text() == "plain words\n"


def test_the_keys_are_sent_as_headers_and_the_body_with_the_method(node: Node, server: Any) -> None:
    node.execute(f'rest get where url = {server.url}/a and command = "get status" and User-Agent = AnyLog/1.23 '
                 'and headers = {"X-One": "1", "X-Two": 2}')
    node.execute(f'rest post where url = {server.url}/b and body = "{{\\"v\\": 1}}" and '
                 'Content-Type = application/json and user = ann and password = pa55word-long')
    node.execute(f"rest put where url = {server.url}/c and dbms = test and table = t1 and type = json "
                 f"and body = x")
    node.execute(f"rest delete where url = {server.url}/d")
    get, post, put, delete = server.seen
    assert (get["method"], get["headers"]["command"], get["headers"]["User-Agent"]) == ("GET", "get status",
                                                                                         "AnyLog/1.23")
    assert (get["headers"]["X-One"], get["headers"]["X-Two"]) == ("1", "2")
    assert (post["method"], post["body"], post["headers"]["Content-Type"]) == ("POST", '{"v": 1}', "application/json")
    assert post["headers"]["Authorization"] == "Basic " + base64.b64encode(b"ann:pa55word-long").decode()
    assert (put["method"], put["body"], put["headers"]["Content-Type"]) == ("PUT", "x", "text/plain")
    assert (put["headers"]["dbms"], put["headers"]["table"], put["headers"]["type"]) == ("test", "t1", "json")
    assert delete["method"] == "DELETE" and delete["headers"]["User-Agent"] == "anynode"


def test_a_reply_that_is_not_2xx_is_an_error_with_its_status(node: Node, server: Any) -> None:
    with pytest.raises(RemoteError, match=r"HTTP 404 Not Found: no such thing here$"):
        node.execute(f"rest get where url = {server.url}/missing")
    assert node.execute(f"rest get where url = {server.url}/moved").to_json()["city"] == "Redwood City"
    assert node.execute(f"ok = rest get where url = {server.url}/json and validate = true").to_text() == ""
    assert node.get_var("ok") == "true"
    assert node.execute(f"rest get where url = {server.url}/missing and validate = true").to_text() == "false"


def test_an_unreachable_host_is_a_clear_error_not_a_hang(node: Node, silent: str) -> None:
    started = time.monotonic()
    with pytest.raises(RemoteError, match="connection refused"):
        node.execute(f"rest get where url = http://{dead_address()}/")
    with pytest.raises(RemoteTimeout, match=r"no answer within 0.5 s"):
        node.execute(f"rest get where url = {silent} and timeout = 0.5")
    assert time.monotonic() - started < 3
    assert node.execute(f"rest get where url = {silent} and timeout = 0.3 and validate = true").to_text() == "false"


def test_ctrl_c_cancels_a_request_at_once(node: Node, silent: str) -> None:
    cancel = Cancel()
    threading.Timer(0.3, cancel.cancel, args=("Ctrl-C",)).start()
    started = time.monotonic()
    with pytest.raises(QueryCancelled, match=r"request cancelled \(Ctrl-C\)"):
        node.execute(f"rest get where url = {silent}", cancel=cancel)
    assert time.monotonic() - started < 2


def test_a_reply_too_large_is_refused(node: Node, server: Any) -> None:
    with pytest.raises(RemoteError, match="the reply is larger than 16 MB"):
        node.execute(f"rest get where url = {server.url}/big")


@pytest.mark.parametrize("line, message", [
    ("rest get where url = ftp://example.com/x", "not an http:// or https:// URL"),
    ("rest get where url = http:///nohost", "not an http:// or https:// URL"),
    ("rest get where url = http://127.0.0.1:99999/", "bad port"),
    ("rest fetch where url = http://127.0.0.1/", "'fetch' is not accepted"),
    ("rest get where url = http://127.0.0.1/ and user = ann", "'user' and 'password' go together"),
    ("rest get where url = http://127.0.0.1/ and headers = [1]", "'headers' must be a JSON object"),
    ("rest get", "needs option 'url'"),
])
def test_bad_requests_are_refused_before_sending(node: Node, line: str, message: str) -> None:
    with pytest.raises(CommandSyntaxError, match=message):
        node.execute(line)


def test_the_node_calls_its_own_rest_server(node: Node) -> None:
    url = start(node)
    node.execute("set node name op-7")
    reply = node.execute(f'rest get where url = {url} and command = "get node name" and User-Agent = AnyLog/1.23')
    assert reply.to_text() == "op-7"


@pytest.mark.parametrize("source", [Source.REST, Source.REMOTE])
def test_peers_and_rest_clients_may_not_make_the_node_call_a_url(node: Node, server: Any, source: Source) -> None:
    assert node.registry.get("rest").remote is False
    with pytest.raises(NotPermitted, match="'rest' may not be run by a peer or a REST client"):
        node.execute(f"rest get where url = {server.url}/internal", source=source)
    assert server.seen == []


def test_the_rest_server_refuses_it(node: Node, server: Any) -> None:
    url = start(node)
    reply = httpx.get(url, headers={**ANYLOG, "command": f"rest get where url = {server.url}/internal"}, timeout=5)
    assert reply.status_code == 403 and json.loads(reply.text)["err_code"] == 141
    assert server.seen == []
