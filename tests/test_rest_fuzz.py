"""Fuzzing the REST server over real sockets (issue 16): random methods, paths, headers and bodies,
well-formed and not. Whatever a client sends, the node never answers with an internal error (500),
never leaves the client hanging, and still serves `get status` afterwards.

The allowed 5xx are the documented answers that are not about the request's form: 501 (a dialect
feature not available: `destination: network`, `into`, `command: data`), 502 (a peer named in
`destination` could not be reached) and 504 (the command outlasted the `timeout` header). Bounded:
a few hundred examples, each request under a client timeout; the file runs in a few seconds.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.rest_helpers import port_of, start

ALLOWED_5XX = {501, 502, 504}
CLIENT_TIMEOUT = 8.0  # the server's own timeout is 2 s (run below) and its header deadline 10 s
FUZZ = settings(max_examples=500, deadline=timedelta(seconds=CLIENT_TIMEOUT + 1), database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# -- what a client may send ----------------------------------------------------
METHODS = st.sampled_from(["GET", "POST", "PUT", "OPTIONS", "HEAD", "DELETE", "PATCH", "TRACE", "get", "G ET",
                           "PRI", ""]) | st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ_-", min_size=1, max_size=10)
PATHS = st.sampled_from([
    "/", "/command", "/health/live", "/health/ready", "/health", "/api/status", "/openapi.json", "//", "*",
    "/?command=get%20status", "/?User-Agent=AnyLog/1.23?command=get%20status", "/?command=sql%20demo%20%22x",
    "/../../etc/passwd", "/%00", "/%ff%fe", "http://x/", "/command?x=" + "%" * 50, "/" + "a" * 3000,
]) | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1, max_size=40).map(lambda p: "/" + p)

DEPTHS = st.sampled_from([1, 2, 255, 256, 257, 1000, 5000, 30000]) | st.integers(1, 3000)
NESTED = DEPTHS.map(lambda n: "[" * n + "]" * n) | DEPTHS.map(lambda n: '{"a":' * n + "1" + "}" * n)
HUGE_NUMBERS = st.sampled_from(["1e999999", "-1e400", "9" * 5000, "0." + "0" * 4000 + "1", "NaN", "-Infinity",
                                "123456789012345678901234567890", "1E+2147483648"])
WORDS = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=40)  # what a header value may hold
RAW = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)  # control characters too
SQL = st.one_of(
    st.builds("select {} from {}".format, HUGE_NUMBERS | WORDS, st.sampled_from(["tsd_info", "nope", "t", '"x'])),
    st.builds("select {}".format, HUGE_NUMBERS | WORDS | NESTED),
    WORDS,
)
COMMANDS = st.one_of(
    WORDS,
    st.builds('sql demo "{}"'.format, SQL),  # the blocking path, the database's errors
    st.builds("json {}".format, NESTED),
    st.sampled_from(["get status", "get processes", "get processes where format = json", "get databases",
                     "get rest calls where last = 5", "get rest server info", "help index", "get version",
                     "get tables where dbms = demo", "get tsd", "time file summary", "get settings", "echo hi",
                     "get event log", "incr", "help", "get status where format = xml", "exit node",
                     "set node name x", "x = 5", "run client (127.0.0.1:1) get status", "data", "body"]),
    st.builds("json {}".format, NESTED | HUGE_NUMBERS | WORDS),
    st.builds('sql demo "{}"'.format, SQL),
    st.builds("sql {} {}".format, WORDS, SQL),
    st.builds("get columns where dbms = {} and table = {}".format, WORDS, WORDS),
    st.builds("{} where {} = {}".format, st.sampled_from(["get processes", "get rest calls", "help", "get tsd"]),
              WORDS, WORDS),
    st.builds("{} {}".format, st.sampled_from(["get", "help", "echo", "incr", "time file get", "get columns"]),
              WORDS | NESTED),
)
HEADER_VALUES: dict[str, Any] = {
    "command": COMMANDS,
    "dbms": st.sampled_from(["demo", "almgm", "blockchain", "nope", "", "Demo", "a" * 100]) | WORDS,
    "table": st.sampled_from(["readings", "tsd_info", "sqlite_master", "pg_class", "tsd_7", "", "1x"]) | WORDS,
    "timeout": st.sampled_from(["0.01", "1", "2 minutes", "-5", "nan", "inf", "1e309", "0", "x"]) | WORDS,
    "destination": st.sampled_from(["local", "network", "", "127.0.0.1:1", "(127.0.0.1:1)", "(", "a:b:c",
                                    "127.0.0.1:99999", "[::1]:1"]),
    "format": st.sampled_from(["json", "table", "xml", ""]) | WORDS,
    "mode": st.sampled_from(["file", "streaming", "batch", ""]) | WORDS,
    "source": WORDS, "instructions": WORDS, "type": st.sampled_from(["json", "csv", ""]) | WORDS,
    "subset": st.sampled_from(["true", "false", "maybe"]), "assignment": WORDS, "into": WORDS,
    "authorization": st.sampled_from(["Bearer x", "Basic !!!", "Basic " + base64.b64encode(b"\xff:\xfe").decode(),
                                      "Digest y", ""]) | WORDS,
    "user-agent": st.sampled_from(["AnyLog/1.23", "curl/8", "Grafana", ""]) | WORDS,
    "anylog-agent": WORDS, "content-type": WORDS, "access-control-request-headers": WORDS,
    "expect": st.sampled_from(["100-continue", "x"]), "connection": st.sampled_from(["close", "keep-alive", "x"]),
}
HEADER_NAMES = st.sampled_from(sorted(HEADER_VALUES)) | st.text("abcdefghijklmnopqrstuvwxyz-_0123456789",
                                                                min_size=1, max_size=20)


def _rows(values: list[Any]) -> bytes:
    return "\n".join(json.dumps({"timestamp": "2026-01-01 00:00:00", "v": v}) for v in values).encode()


BODIES = st.one_of(
    st.just(b""),
    NESTED.map(str.encode),
    st.binary(max_size=2000),
    st.binary(max_size=200).map(lambda b: b"\xff\xfe\xc0\x80" + b),  # not UTF-8
    NESTED.map(str.encode),
    HUGE_NUMBERS.map(lambda n: f'[{{"v": {n}}}]'.encode()),
    st.lists(st.one_of(st.integers(), st.floats(allow_nan=False), WORDS, st.none(), st.booleans()),
             min_size=1, max_size=20).map(_rows),
    st.builds(lambda c: json.dumps({"command": c}).encode(), COMMANDS),
    st.builds(lambda d: json.dumps(d).encode(), st.dictionaries(WORDS, WORDS | st.integers(), max_size=5)),
    st.builds(lambda c, d: json.dumps({"command": c, **d}).encode(), COMMANDS,  # any string: lone surrogates too
              st.dictionaries(st.sampled_from(["timeout", "destination", "subset", "x"]), st.text(max_size=8),
                              max_size=3)),
    COMMANDS.map(str.encode),
)


def _header_line(name: str, value: str | bytes) -> bytes:
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    return name.encode() + b": " + raw + b"\r\n"


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """One raw HTTP/1.1 request: well-formed often enough to reach the app, malformed often enough to test
    the parser. Content-Length is right, missing or short (never longer: a body that never comes gets its
    408 only after 10 s)."""
    tidy = draw(st.integers(0, 3)) > 0  # three in four reach the app; the rest test the HTTP parser
    if tidy:
        method = draw(st.sampled_from(["GET", "GET", "POST", "PUT", "HEAD", "OPTIONS"]))
        path = draw(st.sampled_from(["/", "/", "/", "/command", "/?command=get%20status"]))
        version = "HTTP/1.1"
    else:
        method, path = draw(METHODS), draw(PATHS)
        version = draw(st.sampled_from(["HTTP/1.1"] * 4 + ["HTTP/1.0", "HTTP/2.0", "HTTP/1.1 x", ""]))
    lines = [f"{method} {path} {version}".rstrip().encode("utf-8", "surrogatepass") + b"\r\n", b"Host: fuzz\r\n"]
    names = draw(st.lists(HEADER_NAMES, max_size=8))
    if tidy and method != "PUT" and draw(st.booleans()):
        names.insert(0, "command")
    elif tidy and method in ("PUT", "POST") and draw(st.booleans()):
        names[:0] = ["dbms", "table"]
    for name in names:
        value = draw(HEADER_VALUES.get(name, WORDS) if tidy else RAW)
        if draw(st.integers(0, 9)) == 0:
            value = value.encode("utf-8", "surrogatepass") + bytes([draw(st.integers(0x80, 0xff))])  # obs-text
        lines.append(_header_line(name, value))
    body = draw(BODIES)
    framing = draw(st.sampled_from(["length", "length", "length", "none", "short", "chunked"]))
    if framing == "length":
        lines.append(b"Content-Length: %d\r\n" % len(body))
    elif framing == "short" and body:
        lines.append(b"Content-Length: %d\r\n" % draw(st.integers(0, len(body) - 1)))
    elif framing == "chunked":
        lines.append(b"Transfer-Encoding: chunked\r\n")
        body = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
    return b"".join(lines) + b"\r\n" + body


def _first_status(port: int, request: bytes) -> int | None:
    """Send ``request`` on a new connection; the status of the first final response (None if the server
    closed without one). Raises TimeoutError when the server neither answers nor closes in time."""
    with socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):  # refused half way (e.g. an over-long header)
            pass
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    return int(buf.split()[1]) if buf.startswith(b"HTTP/") else None
                buf += chunk
            head, _, buf = buf.partition(b"\r\n\r\n")
            status = int(head.split()[1])
            if status >= 200:  # skip 100 Continue
                return status


def _check(status: int | None, request: bytes) -> None:
    assert status is None or status < 500 or status in ALLOWED_5XX, \
        f"{status} for {request[:300]!r}{'...' if len(request) > 300 else ''}"


def _alive(url: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port_of(url), timeout=5)
    try:
        conn.request("GET", "/", headers={"command": "get status"})
        reply = conn.getresponse()
        assert reply.status == 200 and reply.read().endswith(b" running")
    finally:
        conn.close()


@pytest.fixture
def fuzzed(node) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A node with work directories, a SQLite database `demo` and its REST server (2 s timeout, 4 KB
    bodies); checks after the test that it still serves and never logged an internal error."""
    node.execute("create work directories")
    node.execute("connect dbms demo where type = sqlite")
    url = start(node, "and timeout = 2 and max_body = 4KB")
    yield url
    _alive(url)
    assert node.services.status("REST").state == "Running"
    errors = node.execute("get error log").to_text()
    assert "REST internal error" not in errors, errors[-2000:]


@FUZZ
@given(request=requests())
def test_no_request_gets_an_internal_error_or_a_hang(fuzzed: str, request: bytes) -> None:
    _check(_first_status(port_of(fuzzed), request), request)


@settings(FUZZ, max_examples=120)
@given(method=st.sampled_from(["GET", "POST", "PUT"]), headers=st.dictionaries(HEADER_NAMES, WORDS, max_size=6),
       command=COMMANDS, body=BODIES)
def test_well_formed_requests_through_http_client(fuzzed: str, method: str, headers: dict[str, str],
                                                  command: str, body: bytes) -> None:
    """The same through a real HTTP client (well-formed framing), so the app sees every header combination."""
    conn = http.client.HTTPConnection("127.0.0.1", port_of(fuzzed), timeout=CLIENT_TIMEOUT)
    sent = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "transfer-encoding", "host")}
    try:
        sent_headers = {**sent, "command": command} if method != "PUT" else sent
        conn.request(method, "/", body=body, headers={k: v.encode("utf-8", "surrogatepass")
                                                       for k, v in sent_headers.items()})
        status = conn.getresponse().status
    except (ValueError, http.client.InvalidURL):  # http.client refuses a header it cannot send
        return
    finally:
        conn.close()
    _check(status, f"{method} {sent_headers} {body[:200]!r}".encode())


@pytest.fixture
def guarded(node) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A REST server that requires a bearer token or basic credentials."""
    url = start(node, "and token = s3cret and user = ann and password = pw and timeout = 2")
    yield url
    conn = http.client.HTTPConnection("127.0.0.1", port_of(url), timeout=5)
    try:
        conn.request("GET", "/", headers={"command": "get status", "authorization": "Bearer s3cret"})
        assert conn.getresponse().status == 200
    finally:
        conn.close()


@settings(FUZZ, max_examples=120)
@given(scheme=st.sampled_from(["Bearer", "Basic", "bearer", "", "Token"]),
       secret=st.binary(max_size=60) | st.sampled_from([b"s3cret", b"ann:pw", b"ann:", b":pw"]),
       encode=st.booleans())
def test_credentials_fuzz_gets_200_or_401(guarded: str, scheme: str, secret: bytes, encode: bool) -> None:
    value = base64.b64encode(secret) if encode else secret
    request = (b"GET / HTTP/1.1\r\nHost: x\r\ncommand: get status\r\nAuthorization: " + scheme.encode() + b" "
               + value.replace(b"\r", b"").replace(b"\n", b"") + b"\r\n\r\n")
    status = _first_status(port_of(guarded), request)
    _check(status, request)
    right = (scheme.lower() == "bearer" and not encode and secret == b"s3cret") or \
            (scheme.lower() == "basic" and encode and secret == b"ann:pw")
    if right:
        assert status == 200, request
    elif b"s3cret" not in secret and b"pw" not in secret:
        assert status in (400, 401), (status, request)
