"""The ASGI application behind ``run rest server``.

A small hand-written ASGI callable (no framework: the routes are few and the
hot path must stay short). It reads AnyLog's dialect (``GET /`` with a
``command`` header, POST for commands that change the node, PUT of JSON
rows), plus ``POST /command``, health endpoints and ``/openapi.json``.
Commands run in the server's bounded worker pool, except those declared
non-blocking, which run on the event loop without the hop to a worker;
errors are rendered here, at the edge, with their real HTTP status.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from typing import Any

from anynode.cancel import Cancel
from anynode.errors import AnyNodeError, NotPermitted
from anynode.grammar.dispatch import ControlFlow, Source
from anynode.protocols import NodeView
from anynode.rest import bodies, dialect, grafana
from anynode.rest.bodies import JSON, TEXT_PLAIN
from anynode.rest.dialect import (
    BadRequest,
    BodyTooLarge,
    ClientTooSlow,
    CommandTimeout,
    InternalError,
    NotAvailable,
    Unauthorized,
)
from anynode.rest.ingest import put_rows
from anynode.rest.pool import Expired, PoolClosed, offload
from anynode.rest.requests import Gone, json_object, read_body
from anynode.rest.stats import RestStats
from anynode.rest.streamed import Pieces, send_pieces

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Reply = tuple[int, "bytes | Pieces", bytes, list[tuple[bytes, bytes]]]

CORS = [(b"access-control-allow-origin", b"*"), (b"vary", b"Origin"), (b"access-control-expose-headers", b"*")]
PREFLIGHT = [(b"access-control-allow-methods", b"GET, POST, PUT, OPTIONS"), (b"access-control-max-age", b"600")]
CLOSE = [(b"connection", b"close")]
ENDPOINTS = ("GET|POST|PUT /, POST /command, GET /health/live, GET /health/ready, GET /openapi.json, "
             "POST /search|/metrics|/query (Grafana)")
NO_HEADERS: list[tuple[bytes, bytes]] = []


@dataclass
class AppSettings:
    """What the app needs to know of the server's options (the server copies them from its RestConfig)."""

    timeout: float | None
    max_body: int
    client_timeout: float
    token: str | None
    user: str | None
    password: str | None
    replies: str
    """How command replies are shaped: "anylog" (AnyLog's way), or "json" (anynode's earlier JSON tables)."""


def _text(value: bytes) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value.decode("latin-1")


class RestApp:
    """The ASGI callable; one per running REST service.

    Args:
        node: the node whose commands run.
        settings: timeouts, limits and credentials.
        executor: the bounded worker pool for blocking work.
        stats: where each served request is counted.
        openapi: builds the OpenAPI document (once, on first request).
    """

    def __init__(self, node: NodeView, settings: AppSettings, executor: Executor, stats: RestStats,
                 openapi: Callable[[], dict[str, Any]] | None = None) -> None:
        self.node = node
        self.settings = settings
        self.executor = executor
        self.stats = stats
        self.accepting = False
        self.rule = dialect.MethodRule(node.registry)
        self._openapi = openapi
        self._openapi_body: bytes | None = None
        self._challenges: list[tuple[bytes, bytes]] = []
        self._products: dict[bytes, str] = {}
        if settings.token:
            self._challenges.append((b"www-authenticate", b'Bearer realm="anynode"'))
        if settings.user is not None:
            self._challenges.append((b"www-authenticate", b'Basic realm="anynode"'))

    # -- the ASGI entry point ------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan is off and websockets are not served
        started = time.perf_counter()
        method: str = scope["method"]
        headers = dict(scope["headers"])
        client = scope.get("client")
        peer = f"{client[0]}:{client[1]}" if client else "unknown"
        command = headers.get(b"command")
        target = scope["path"] if command is None else _text(command)
        error = ""
        try:
            status, body, ctype, extra = await self._route(scope, method, headers, peer, receive)
        except Gone:
            return
        except AnyNodeError as exc:
            status, body, ctype, extra = self._error(exc, method, peer)
            error = exc.message
        except Exception as exc:  # the edge: an internal failure becomes a 500, never a dead server
            self.node.log.exception("REST internal error on %s %s", method, target)
            status, body, ctype, extra = self._error(
                InternalError(f"internal error: {type(exc).__name__}: {exc}", hint="see the node's error log"),
                method, peer)
            error = str(exc)
        if isinstance(body, Pieces):  # a network query's rows, sent as they arrive
            if not await send_pieces(send, status, [(b"content-type", ctype), *CORS, *extra], body, self.executor,
                                     body.timeout, self.node.log):
                error = "the streamed reply ended before its end"
        else:
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", ctype), (b"content-length", b"%d" % len(body)), *CORS, *extra]})
            await send({"type": "http.response.body", "body": body if method != "HEAD" else b""})
        self.stats.record(client[0] if client else "unknown", self._caller(headers), method, target,
                          status, (time.perf_counter() - started) * 1000, error)

    def _caller(self, headers: dict[bytes, bytes]) -> str:
        """The caller's product for the stats, remembered per User-Agent (clients repeat theirs)."""
        agent = headers.get(b"anylog-agent") or headers.get(b"user-agent") or b""
        product = self._products.get(agent)
        if product is None:
            if len(self._products) >= 256:
                self._products.clear()
            product = self._products[agent] = dialect.caller_product(_text(agent))
        return product

    def _error(self, exc: AnyNodeError, method: str, peer: str) -> Reply:
        extra = NO_HEADERS
        if isinstance(exc, Unauthorized):
            extra = self._challenges
        elif isinstance(exc, (BodyTooLarge, ClientTooSlow)):
            extra = CLOSE
        return exc.http_status, dialect.error_reply(exc, method, peer.rsplit(":", 1)[0]), JSON, extra

    async def _route(self, scope: Scope, method: str, headers: dict[bytes, bytes], peer: str,
                     receive: Receive) -> Reply:
        path = scope["path"]
        if method == "OPTIONS":
            asked = headers.get(b"access-control-request-headers", b"*")
            return 204, b"", TEXT_PLAIN, [*PREFLIGHT, (b"access-control-allow-headers", asked)]
        if path == "/" or path == "":
            self._authorize(headers)
            if method == "GET":
                return await self._get(scope, headers, peer)
            if method == "POST":
                return await self._post(headers, peer, receive)
            if method == "PUT":
                return await self._put(headers, receive)
            return self._not_allowed(method, path, b"GET, POST, PUT, OPTIONS")
        if path in grafana.PATHS:
            if method != "POST":
                return self._not_allowed(method, path, b"POST, OPTIONS")
            self._authorize(headers)
            return await self._grafana(path, headers, receive)
        if path == "/command":
            if method != "POST":
                return self._not_allowed(method, path, b"POST, OPTIONS")
            self._authorize(headers)
            return await self._command_endpoint(headers, peer, receive)
        if path in ("/health/live", "/health/ready", "/health", "/api/status", "/openapi.json"):
            if method not in ("GET", "HEAD"):
                return self._not_allowed(method, path, b"GET, HEAD, OPTIONS")
            return self._info_endpoint(path)
        raise _NotFound(f"no endpoint at {path}", hint=f"the endpoints are: {ENDPOINTS}")

    @staticmethod
    def _not_allowed(method: str, path: str, allow: bytes) -> Reply:
        exc = _MethodNotAllowed(f"{method} is not served at {path}", hint=f"use {allow.decode()}")
        return exc.http_status, dialect.error_reply(exc, method, ""), JSON, [(b"allow", allow)]

    # -- authentication --------------------------------------------------------
    def _authorize(self, headers: dict[bytes, bytes]) -> None:
        """Raise Unauthorized unless the request carries the configured credentials."""
        s = self.settings
        if not s.token and s.user is None:
            return
        given = _text(headers.get(b"authorization", b"")).strip()
        scheme, _, value = given.partition(" ")
        scheme = scheme.lower()
        if s.token and scheme == "bearer" and hmac.compare_digest(value.strip().encode(), s.token.encode()):
            return
        if s.user is not None and scheme == "basic":
            try:
                user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            except ValueError:  # not base64 (binascii.Error), not ASCII, not UTF-8 once decoded
                user = password = ""
            if (hmac.compare_digest(user.encode(), s.user.encode())
                    and hmac.compare_digest(password.encode(), (s.password or "").encode())):
                return
        wanted = " or ".join(w for w, on in (("a bearer token", s.token), ("user and password (basic)",
                                                                          s.user is not None)) if on)
        raise Unauthorized("missing or wrong credentials" if given else "this server requires credentials",
                           hint=f"send an Authorization header with {wanted}")

    # -- AnyLog's dialect on / -----------------------------------------------
    async def _get(self, scope: Scope, headers: dict[bytes, bytes], peer: str) -> Reply:
        command = headers.get(b"command")
        hdrs = headers
        if command is None and scope.get("query_string"):
            query = dialect.query_headers(_text(scope["query_string"]))
            hdrs = {**{k.encode(): v.encode() for k, v in query.items()}, **headers}
            command = hdrs.get(b"command")
        if not command and grafana.is_grafana(headers):  # Grafana's "Save & test" of a JSON data source
            return 200, dialect.json_reply({"status": "ok", "node": self.node.name}), JSON, NO_HEADERS
        if not command or not command.strip():
            raise BadRequest("GET / needs a 'command' header",
                             hint="send e.g. 'command: get status' (curl -H 'command: get status' http://ip:port)")
        return await self._run_command("GET", _text(command), hdrs, peer)

    async def _post(self, headers: dict[bytes, bytes], peer: str, receive: Receive) -> Reply:
        command = headers.get(b"command")
        hdrs = headers
        body_read = False
        if command is None:
            if b"dbms" in headers and b"table" in headers:
                return await self._put(headers, receive)  # anynode extension: POST of rows
            obj = json_object(await self._body(headers, receive), "POST / without a 'command' header")
            body_read = True
            hdrs = {**headers, **{str(k).lower().encode(): str(v).encode() for k, v in obj.items()}}
            command = hdrs.get(b"command")
            if not command:
                raise BadRequest("POST / needs a 'command' header (or a JSON body with a \"command\" key)",
                                 hint="send e.g. 'command: set node name op1'")
        text = _text(command).strip()
        if text.lower() == "data":
            raise NotAvailable("'command: data' needs a message-client mapping (run msg client), "
                               "which this node does not have yet",
                               hint="PUT the rows with 'dbms' and 'table' headers instead")
        if text.lower() == "body":
            if body_read:  # the body was the JSON object itself: there is no other body to wait for
                raise BadRequest('"command": "body" takes the command from the body, which here is the JSON object',
                                 hint="send 'command: body' as a header, or the command itself in the JSON object")
            text = _text(await self._body(headers, receive)).strip()
        return await self._run_command("POST", text, hdrs, peer)

    async def _put(self, headers: dict[bytes, bytes], receive: Receive) -> Reply:
        h = {k: _text(v) for k, v in headers.items() if k in (b"type", b"dbms", b"table", b"mode", b"source",
                                                                  b"instructions", b"timeout")}
        kind = h.get(b"type", "json").strip().lower()
        if kind != "json":
            raise BadRequest(f"type '{kind}' is not accepted for rows", hint="send 'type: json' with JSON rows")
        timeout = dialect.parse_timeout(h.get(b"timeout"), self.settings.timeout)
        body = await self._body(headers, receive)
        work = partial(put_rows, self.node, h.get(b"dbms"), h.get(b"table"), h.get(b"mode"), body,
                       source=h.get(b"source"), instructions=h.get(b"instructions"))
        reply = await self._offload(work, timeout, f"PUT of rows into {h.get(b'dbms')}.{h.get(b'table')}")
        return 200, dialect.json_reply(reply), JSON, NO_HEADERS

    async def _run_command(self, method: str, line: str, hdrs: dict[bytes, bytes], peer: str,
                           as_json: bool = False) -> Reply:
        if hdrs.get(b"assignment"):
            raise NotPermitted("the 'assignment' header would set a node variable, which a REST client may not do",
                               hint="read the reply instead")
        if hdrs.get(b"into"):
            raise NotAvailable("the 'into' header (html/pdf output) is not available", hint="drop the header")
        kind = None if as_json else self.rule.check(method, line)
        timeout = (dialect.parse_timeout(_text(hdrs[b"timeout"]), self.settings.timeout) if b"timeout" in hdrs
                   else self.settings.timeout)
        destination = _text(hdrs[b"destination"]) if b"destination" in hdrs else None
        if destination is None or dialect.is_local(destination):
            # POST /command: a command's JSON form, as `where format = json`; sql answers JSON unless asked
            # otherwise, as in AnyLog (not in the earlier JSON replies, where its rows came as a JSON list)
            json_default = kind is None or (kind.json_default and self.settings.replies == "anylog")
            fmt = "json" if json_default else "table"
            if kind is not None and kind.inline:  # declared non-blocking: no thread hop (it costs ~150 us here)
                result = self._execute(line, peer, None, fmt)
                return self._shape(result, as_json)
            cancel = Cancel(timeout)  # the command's queries stop at the timeout and free the worker
            work = partial(self._execute, line, peer, cancel, fmt)
        else:
            cancel = None
            subset = _text(hdrs.get(b"subset", b"false")).strip().lower() == "true"
            work = partial(dialect.forward_command, self.node, line, str(destination), timeout, subset)
        return self._shape(await self._offload(work, timeout, f"'{line}'", cancel), as_json, timeout)

    def _shape(self, result: Any, as_json: bool, timeout: float | None = None) -> Reply:
        if bodies.streams(result):  # the same JSON in every reply form, sent as its rows arrive
            return 200, Pieces(bodies.json_pieces(result), result.stop, timeout), JSON, NO_HEADERS
        if as_json:
            return 200, dialect.json_reply(result.to_json()), JSON, NO_HEADERS
        body, ctype = bodies.body_of(result, self.settings.replies)
        return 200, body, ctype, NO_HEADERS

    def _execute(self, line: str, peer: str, cancel: Cancel | None = None, fmt: str = "table") -> Any:
        try:
            return self.node.execute(line, source=Source.REST, peer=peer, cancel=cancel, fmt=fmt)
        except ControlFlow as flow:
            raise BadRequest(f"'{flow.kind}' works only inside a script", hint="send a command") from None

    # -- plain JSON endpoints ------------------------------------------------
    async def _command_endpoint(self, headers: dict[bytes, bytes], peer: str, receive: Receive) -> Reply:
        obj = json_object(await self._body(headers, receive), "POST /command")
        command = obj.get("command")
        if not isinstance(command, str) or not command.strip():
            raise BadRequest('POST /command needs a JSON body with a "command" string',
                             hint='send e.g. {"command": "get status"}')
        hdrs: dict[bytes, bytes] = {}
        for key in ("timeout", "destination", "subset"):
            if obj.get(key) is not None:
                hdrs[key.encode()] = str(obj[key]).encode()
        return await self._run_command("POST", command, hdrs, peer, as_json=True)

    async def _grafana(self, path: str, headers: dict[bytes, bytes], receive: Receive) -> Reply:
        body = await self._body(headers, receive)
        obj = json_object(body, f"POST {path}") if body.strip() else {}
        timeout = self.settings.timeout
        work = partial(grafana.answer, self.node, path, obj, headers, timeout or 20.0)
        return 200, dialect.json_reply(await self._offload(work, timeout, f"Grafana {path}", None)), JSON, NO_HEADERS

    def _info_endpoint(self, path: str) -> Reply:
        if path == "/openapi.json":
            if self._openapi_body is None:
                self._openapi_body = dialect.json_reply(self._openapi() if self._openapi else {})
            return 200, self._openapi_body, JSON, NO_HEADERS
        if path == "/health/live":
            return 200, b'{"status":"live"}', JSON, NO_HEADERS
        if path == "/api/status":
            return 200, b'{"status":"ok"}', JSON, NO_HEADERS
        ready = self.accepting and not self.node.exit_event.is_set()
        if path == "/health":
            body = {"status": "healthy" if ready else "stopping", "service": "anynode-rest-server",
                    "timestamp": time.time()}
        else:
            body = {"status": "ready" if ready else "stopping", "node": self.node.name}
        return (200 if ready else 503), dialect.json_reply(body), JSON, NO_HEADERS

    # -- helpers ---------------------------------------------------------------
    async def _body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        return await read_body(headers, receive, self.settings.max_body, self.settings.client_timeout)

    async def _offload(self, work: Callable[[], Any], timeout: float | None, what: str,
                       cancel: Cancel | None = None) -> Any:
        """Run blocking ``work`` in the worker pool; 504 when it outlasts ``timeout`` (``cancel`` is then set)."""
        try:
            return await offload(self.executor, work, timeout)
        except PoolClosed:
            raise _Stopping("the REST server is stopping", hint="try again when it runs") from None
        except asyncio.CancelledError:
            if cancel is not None:
                cancel.cancel("the REST client went away")
            raise
        except Expired:
            if cancel is not None:
                cancel.cancel(f"the REST timeout of {timeout:g} s passed")
            raise CommandTimeout(f"{what} did not finish within {timeout:g} s",
                                 hint="send a larger 'timeout' header (0 = no limit)") from None


class _NotFound(AnyNodeError):
    http_status = 404


class _MethodNotAllowed(AnyNodeError):
    http_status = 405


class _Stopping(AnyNodeError):
    http_status = 503
