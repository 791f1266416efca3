"""REST server commands: run rest server, get rest server info, get rest calls, get connections."""

from __future__ import annotations

import os
import time
from typing import Any

from anynode.errors import CommandSyntaxError, ServiceError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Opt
from anynode.grammar.types import BOOL, FORMAT, SECONDS, TEXT, Choice, FilePath, Int, Port, Storage
from anynode.rest.bodies import MODES
from anynode.results import Json, Message, Record, Result, Table
from anynode.services.status import ServiceState

NET = ("network", "background processes")
FMT = Opt("format", FORMAT, default="table", help="table, or json for programs")
PATH = FilePath()


@command("run rest server", http="POST", keywords=NET, options=[
    Opt("internal_ip", TEXT, aliases=("ip",), help="address to listen on (default: external_ip)"),
    Opt("internal_port", Port(), aliases=("port",),
        help="port to listen on, 0 = any free port (default: external_port)"),
    Opt("external_ip", TEXT, help="address peers and clients use (default: internal_ip)"),
    Opt("external_port", Port(), help="port peers and clients use (default: internal_port)"),
    Opt("bind", BOOL, default=False, help="listen on internal_ip only (false: on every interface)"),
    Opt("threads", Int(1, 256), default=5, help="worker threads that run commands"),
    Opt("timeout", SECONDS, default=20.0, help="seconds a request may take before it gets 504; 0 = no limit"),
    Opt("ssl", BOOL, default=False, help="serve HTTPS (needs cert_file and key_file, or server_org)"),
    Opt("cert_file", PATH, help="PEM certificate for ssl"),
    Opt("key_file", PATH, help="PEM private key for ssl"),
    Opt("ca_file", PATH, help="CA certificate; clients may then present certificates signed by it"),
    Opt("server_org", TEXT, help="AnyLog naming: !pem_dir/server-<org>-public-key.crt and -private-key.key"),
    Opt("ca_org", TEXT, help="AnyLog naming: !pem_dir/ca-<org>-public-key.crt"),
    Opt("token", TEXT, help="require 'Authorization: Bearer <token>' (use a !variable: lines are logged)"),
    Opt("user", TEXT, help="require HTTP basic authentication with this user"),
    Opt("password", TEXT, help="the password of user"),
    Opt("max_body", Storage(), default=16 * 1024 * 1024, help="largest request body accepted (413 beyond)"),
    Opt("replies", Choice(*MODES), default=MODES[0],
        help="anylog: a command answers the text the prompt shows, JSON when asked; json: every table as JSON"),
], examples=[
    "run rest server where internal_ip = !ip and internal_port = 32049",
    "run rest server where ip = 127.0.0.1 and port = 0 and bind = true",
    ("run rest server where external_ip = !external_ip and external_port = 32049 and internal_ip = !ip and "
     "internal_port = 32049 and bind = false and threads = 8 and timeout = 30"),
    ("run rest server where ip = !ip and port = 32049 and ssl = true and cert_file = !pem_dir/server.crt and "
     "key_file = !pem_dir/server.key"),
    "run rest server where ip = 127.0.0.1 and port = 32049 and bind = true and token = !rest_token",
])
def run_rest_server(ctx: Context, internal_ip: str | None, internal_port: int | None, external_ip: str | None,
                    external_port: int | None, bind: bool, threads: int, timeout: float, ssl: bool,
                    cert_file: str | None, key_file: str | None, ca_file: str | None, server_org: str | None,
                    ca_org: str | None, token: str | None, user: str | None, password: str | None,
                    max_body: int, replies: str) -> Result:
    """Serve AnyLog's REST dialect so applications can send commands and data over HTTP.

    `GET /` with a `command` header runs a command that reads, `POST /` one
    that changes the node, `PUT /` with `dbms` and `table` headers delivers
    JSON rows to the watch directory. Plain JSON at `POST /command`, health at
    `/health/live` and `/health/ready`, the OpenAPI description at
    `/openapi.json`. Only commands that peers may run are served. A command
    answers as in AnyLog: the text the prompt shows (`get processes`, `sql
    ... format = table`), JSON when it is asked for (`where format = json`)
    or is JSON by nature (`blockchain get`, `sql`); `replies = json` answers
    every table as JSON instead. The reply comes once the server listens,
    with the port it got (port 0 picks one). See docs/rest.md.
    """
    from anynode.rest.server import RestConfig, RestService

    ip = internal_ip or external_ip
    port = internal_port if internal_port is not None else external_port
    if not ip or port is None:
        raise CommandSyntaxError("run rest server needs an address and a port",
                                 hint="add: where internal_ip = !ip and internal_port = 32049")
    if (user is None) != (password is None):
        raise CommandSyntaxError("user and password go together", hint="give both, or neither")
    if not ssl and (cert_file or key_file or ca_file or server_org or ca_org):
        raise CommandSyntaxError("certificate options need ssl = true", hint="add: and ssl = true")
    if ssl:
        cert_file, key_file, ca_file = _tls_files(ctx, cert_file, key_file, ca_file, server_org, ca_org)
    config = RestConfig(internal_ip=ip, internal_port=port, external_ip=external_ip or ip,
                        external_port=external_port if external_port is not None else None, bind=bind,
                        threads=threads, timeout=timeout, ssl=ssl, cert_file=cert_file, key_file=key_file,
                        ca_file=ca_file, token=token or None, user=user, password=password, max_body=max_body,
                        replies=replies)
    service = RestService(ctx.node, config)
    ctx.node.services.start(service)
    scheme = "https" if ssl else "http"
    where = f"REST server listening on {scheme}://{service.listening_on()}"
    if not config.every_interface:
        return Message(where)
    if ip in ("0.0.0.0", "::"):
        return Message(f"{where}, every interface")
    return Message(f"{where}, every interface (clients use {scheme}://{service.reachable_at()}; "
                   f"bind = true listens on {ip} only)")


def _tls_files(ctx: Context, cert: str | None, key: str | None, ca: str | None, server_org: str | None,
               ca_org: str | None) -> tuple[str, str, str | None]:
    """Certificate paths from the options, or from AnyLog's names in !pem_dir."""
    pem = ctx.node.get_var("pem_dir") or ""
    if server_org:
        cert = cert or os.path.join(pem, f"server-{server_org}-public-key.crt")
        key = key or os.path.join(pem, f"server-{server_org}-private-key.key")
    if ca_org:
        ca = ca or os.path.join(pem, f"ca-{ca_org}-public-key.crt")
    if not cert or not key:
        raise CommandSyntaxError("ssl = true needs cert_file and key_file (or server_org)",
                                 hint="add: and cert_file = <path.crt> and key_file = <path.key>")
    for what, path in (("cert_file", cert), ("key_file", key), ("ca_file", ca)):
        if path and not os.path.isfile(path):
            raise CommandSyntaxError(f"{what} {path} does not exist", hint="give the path of a PEM file")
    return cert, key, ca


def _rest(ctx: Context, running: bool) -> Any:
    service = ctx.node.services.get("REST")
    if service is None or (running and ctx.node.services.status("REST").state != ServiceState.RUNNING):
        raise ServiceError("the REST server is not running",
                           hint="start it with: run rest server where internal_ip = !ip and internal_port = 32049")
    return service


@command("get rest server info", options=[FMT], remote=True, blocking=False, keywords=NET,
         examples=["get rest server info", "get rest server info where format = json"])
def get_rest_server_info(ctx: Context, format: str) -> Result:
    """Show how the REST server runs: address, pool, timeout, TLS, authentication, requests served."""
    info = _rest(ctx, running=True).info()
    return Json(info) if format == "json" else Record(info, title="REST server")


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


@command("get rest calls", options=[FMT, Opt("last", Int(1, 100), help="list the last N calls instead")],
         remote=True, blocking=False, keywords=NET,
         examples=["get rest calls", "get rest calls where last = 10", "get rest calls where format = json"])
def get_rest_calls(ctx: Context, format: str, last: int | None) -> Result:
    """Count the REST calls by caller and method (with their status codes), or list the last ones.

    The caller is the product of the client's User-Agent (`AnyLog/1.23` is
    `anylog`, `curl/8.1` is `curl`); AnyLog-Agent takes precedence.
    """
    stats = _rest(ctx, running=False).stats
    if last:
        columns = ["Time", "Client", "Caller", "Method", "Command", "Status", "ms"]
        rows = [(_when(c.time), c.client, c.caller, c.method, c.target, c.status, round(c.ms, 2))
                for c in stats.recent(last)]
        return Json([dict(zip(columns, r, strict=True)) for r in rows]) if format == "json" else Table.of(columns, rows)
    columns = ["Caller", "Call", "Processed", "Errors", "Statuses", "Last Error", "First Call", "Last Call",
               "Last Caller"]
    rows = [(*r[:6], _when(r[6]), _when(r[7]), r[8]) for r in stats.callers()]
    if format == "json":
        return Json({"calls": [dict(zip(columns, r, strict=True)) for r in rows], "statuses": stats.statuses(),
                     "total": stats.total})
    return Table.of(columns, rows, title="REST calls")


CONNECTION_TYPES = (("TCP", "TCP"), ("REST", "REST"), ("Messaging", "Messaging"))


@command("get connections", options=[FMT], remote=True, blocking=False, keywords=NET,
         examples=["get connections", "get connections where format = json"])
def get_connections(ctx: Context, format: str) -> Result:
    """Show the addresses of the node's TCP, REST and messaging servers.

    A running service shows here when it defines `connection_addresses()`
    returning (external, internal, bind) as `ip:port` texts.
    """
    rows = []
    for label, name in CONNECTION_TYPES:
        service = ctx.node.services.get(name)
        running = service is not None and ctx.node.services.status(name).state == ServiceState.RUNNING
        hook = getattr(service, "connection_addresses", None) if running else None
        external, internal, bind = hook() if hook else ("Not declared", "Not declared", "Not declared")
        rows.append((label, external, internal, bind))
    columns = ["Type", "External Address", "Internal Address", "Bind Address"]
    if format == "json":
        return Json({r[0]: dict(zip(columns[1:], r[1:], strict=True)) for r in rows})
    return Table.of(columns, rows)
