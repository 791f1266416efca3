"""``rest get|post|put|delete where url = ...``: the node as an HTTP client (local prompt and scripts only).

Never for peers and REST clients: a node that fetched URLs for strangers
would let them reach what only the node can reach (its LAN, its cloud
metadata service). AnyLog's keys besides url, user, password, headers,
body, timeout and validate are sent as headers, as AnyLog sends them.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from anynode import safejson
from anynode.errors import CommandSyntaxError, RemoteError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.types import BOOL, TEXT, Choice, JsonValue, Seconds, Words
from anynode.rest.client import request
from anynode.results import Json, Message, Result

METHODS = ("get", "post", "put", "delete")
DEFAULT_TIMEOUT = 20.0  # seconds, as AnyLog's rest get

#: AnyLog's keys that become headers, and the header each is sent as.
HEADER_KEYS = {
    "type": "type", "details": "details", "command": "command", "destination": "destination",
    "user_agent": "User-Agent", "subset": "subset", "authorization": "Authorization", "accept": "Accept",
    "cache_control": "Cache-Control", "x_vault_token": "X-Vault-Token", "content_type": "Content-Type",
    "dbms": "dbms", "table": "table", "mode": "mode",
}


def _header(param: str, header: str) -> Opt:
    aliases = (header.lower(),) if header.lower() != param else ()
    return Opt(param, TEXT, aliases=aliases, help=f"sent as the header {header}")


@command("rest", args=[Arg("method", Choice(*METHODS), help="the HTTP method")], options=[
    Opt("url", TEXT, required=True, help="http:// or https:// address to call"),
    Opt("headers", JsonValue(), help='more headers, as a JSON object: {"X-Key": "v"}'),
    Opt("body", Words(), help="the text to send (post, put)"),
    Opt("timeout", Seconds(), default=DEFAULT_TIMEOUT, help="seconds for the whole request"),
    Opt("user", TEXT, help="user name for HTTP basic authentication (with password)"),
    Opt("password", TEXT, help="password for HTTP basic authentication"),
    Opt("validate", BOOL, default=False, help="only check the URL: true when it answers 200, else false"),
    *(_header(param, header) for param, header in HEADER_KEYS.items()),
], http="POST", keywords=("api", "script"), examples=[
    "rest get where url = https://ipinfo.io/json",
    'rest get where url = http://127.0.0.1:32049 and command = "get status" and User-Agent = AnyLog/1.23',
    "loc_info = rest get where url = https://ipinfo.io/json and timeout = 5",
    'rest post where url = http://127.0.0.1:8080/in and body = "{\\"v\\": 1}" and Content-Type = application/json',
    'rest put where url = http://10.0.0.25:32049 and dbms = test and table = t1 and type = json and body = "{}"',
    "rest delete where url = http://127.0.0.1:8080/item/1",
    "ok = rest get where url = http://127.0.0.1:32049 and validate = true",
])
def rest(ctx: Context, method: str, url: str, headers: Any, body: str | None, timeout: float, user: str | None,
         password: str | None, validate: bool, type: str | None, details: str | None, command: str | None,
         destination: str | None, user_agent: str | None, subset: str | None, authorization: str | None,
         accept: str | None, cache_control: str | None, x_vault_token: str | None, content_type: str | None,
         dbms: str | None, table: str | None, mode: str | None) -> Result:
    """Call a URL with an HTTP GET, POST, PUT or DELETE; the reply's body is the answer (JSON when it is JSON).

    Keys other than url, headers, body, timeout, user, password and
    validate are sent as headers (command, User-Agent, dbms, table, type,
    ...). A reply that is not 2xx, a host that cannot be reached, a TLS
    certificate that does not verify, or no answer within the timeout
    (20 s by default) is an error. Local prompt and scripts only: peers
    and REST clients may never make the node call a URL.
    """
    given = {"type": type, "details": details, "command": command, "destination": destination,
             "user_agent": user_agent, "subset": subset, "authorization": authorization, "accept": accept,
             "cache_control": cache_control, "x_vault_token": x_vault_token, "content_type": content_type,
             "dbms": dbms, "table": table, "mode": mode}
    sent = _headers(headers, given)
    if authorization:
        ctx.node.secrets.add(authorization)
    if (user is None) != (password is None):
        raise CommandSyntaxError("'user' and 'password' go together", hint="give both, or neither")
    if user is not None and password is not None:
        sent["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    data = None
    if body is not None:
        data = str(body).encode()
        sent.setdefault("Content-Type", "text/plain")
    sent.setdefault("User-Agent", "anynode")
    verb = method.upper()
    if validate:
        try:
            reply = request(verb, url, sent, data, timeout, ctx.cancel)
        except RemoteError:
            return Message("false")
        return Message("true" if reply.status == 200 else "false")
    reply = request(verb, url, sent, data, timeout, ctx.cancel)
    text = reply.text()
    if not 200 <= reply.status < 300:
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")[:200]
        raise RemoteError(f"rest {method} {url}: HTTP {reply.status} {reply.reason}" + (f": {first}" if first else ""),
                          hint="check the URL and what the server expects")
    stripped = text.strip()
    if "json" in reply.content_type or stripped[:1] in ("{", "["):
        try:
            return Json(safejson.loads(stripped))
        except ValueError:
            pass
    return Message(text)


def _headers(extra: Any, given: dict[str, str | None]) -> dict[str, str]:
    sent: dict[str, str] = {}
    if extra is not None:
        if not isinstance(extra, dict):
            raise CommandSyntaxError("'headers' must be a JSON object", hint='write: headers = {"X-Key": "value"}')
        sent.update({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in extra.items()})
    for param, value in given.items():
        if value is not None:
            sent[HEADER_KEYS[param]] = value
    return sent
