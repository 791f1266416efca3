"""Commands about the node itself: status, name, variables, processes, logs, exit."""

from __future__ import annotations

import time
from pathlib import Path

from anynode import __version__
from anynode.errors import CommandSyntaxError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.types import FORMAT, TEXT, Choice
from anynode.results import Json, Message, Result, Table
from anynode.secret import MASK

NODE_INFO = ("node info",)
FMT = Opt("format", FORMAT, default="table", help="table, or json for programs")

# `exit <word>` names for each service, as AnyLog spells them.
SERVICE_WORDS = {"tcp": "TCP", "rest": "REST", "operator": "Operator", "scheduler": "Scheduler", "streamer": "Streamer"}


@command("get status", options=[FMT], remote=True, blocking=False, keywords=NODE_INFO,
         examples=["get status", "get status where format = json"])
def get_status(ctx: Context, format: str) -> Result:
    """Say that the node runs, under its name.

    The reply is `<name>@<address> running`; peers and monitors use it as a
    liveness check.
    """
    node = ctx.node
    address = node.get_var("tcp_address") or node.get_var("ip") or "127.0.0.1"
    text = f"{node.name}@{address} running"
    if format == "json":
        return Json({"assigned_name": f"{node.name}@{address}", "status": "running",
                     "uptime_seconds": round(time.time() - node.started, 1)})
    return Message(text)


@command("get version", remote=True, blocking=False, keywords=NODE_INFO, examples=["get version"])
def get_version(ctx: Context) -> Result:
    """Show the anynode version."""
    return Message(f"anynode version {__version__}")


@command("get node name", remote=True, blocking=False, keywords=NODE_INFO, examples=["get node name"])
def get_node_name(ctx: Context) -> Result:
    """Show the node name."""
    return Message(ctx.node.name)


@command("get hostname", remote=True, blocking=False, keywords=NODE_INFO,
         examples=["get hostname", "hostname = get hostname"])
def get_hostname(ctx: Context) -> Result:
    """Show the host name of the machine the node runs on."""
    import socket

    return Message(socket.gethostname())


@command("set node name", args=[Arg("name", TEXT, help="the new name")], http="POST",
         keywords=NODE_INFO, examples=["set node name operator1", "set node name !node_name"])
def set_node_name(ctx: Context, name: str) -> Result:
    """Name the node; the prompt and `get status` show the name."""
    if not name.strip() or any(c.isspace() for c in name):
        raise CommandSyntaxError(f"'{name}' is not a node name", hint="use one word, e.g. operator1")
    ctx.node.set_var("node_name", name)
    return Message(f"node name set to {name}")


@command("get dictionary", args=[Arg("filter", TEXT, required=False, help="only keys that contain this text")],
         options=[FMT], remote=True, blocking=False, keywords=("node info", "script"),
         examples=["get dictionary", "get dictionary dir", "get dictionary where format = json"])
def get_dictionary(ctx: Context, filter: str | None, format: str) -> Result:
    """List the node variables (AnyLog's dictionary), sorted by name.

    A variable that holds a secret (its name says so, or it was assigned
    from one) shows `****`; known secret values are masked in the others.
    """
    secrets = ctx.node.secrets
    items = sorted((k, MASK if secrets.is_secret_var(k) else secrets.mask(v))
                   for k, v in ctx.node.variables().items() if not filter or filter.lower() in k.lower())
    if format == "json":
        return Json(dict(items))
    return Table.of(["Key", "Value"], items)


@command("get processes", options=[FMT], remote=True, blocking=False, keywords=("background processes", "node info"),
         examples=["get processes", "get processes where format = json"])
def get_processes(ctx: Context, format: str) -> Result:
    """List the node's services with their state and details.

    Every service is listed: Running, Not declared (never started), Stopped,
    Crashed, Restarting or Failed (gave up restarting).
    """
    statuses = ctx.node.services.statuses()
    if format == "json":
        return Json({s.name: {"Status": s.state, "Details": s.details, "Restarts": s.restarts,
                              "Policy": s.policy, "Last error": s.last_error} for s in statuses})
    return Table.of(["Process", "Status", "Details"], [(s.name, s.state, s.details) for s in statuses])


@command("get stats", options=[Opt("service", TEXT, help="only this service (e.g. tcp, rest, operator)"), FMT],
         remote=True, keywords=("background processes", "monitor"),
         examples=["get stats", "get stats where service = tcp", "get stats where format = json"])
def get_stats(ctx: Context, service: str | None, format: str) -> Result:
    """Show the counters of every declared service, as logs/stats.log records them every stats_interval.

    Each service reports its own counters (connections, frames, requests,
    files, rows, errors ...), with its state and restarts.
    """
    from anynode.logs import service_stats

    wanted = SERVICE_WORDS.get(service.lower(), service).lower() if service else None
    rows = [(name, info) for name, info in service_stats(ctx.node.services)()
            if wanted is None or name.lower() == wanted]
    if service and not rows:
        raise CommandSyntaxError(f"no service '{service}' has run on this node",
                                 hint="'get processes' lists them; stats exist once a service started")
    if format == "json":
        return Json(dict(rows))
    return Table.of(["Service", "Counter", "Value"], [(name, k, v) for name, info in rows for k, v in info.items()])


def _log_table(entries: list, fmt: str) -> Result:
    rows = [(e.id, e.count, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.time)), e.thread, e.type, e.text)
            for e in entries]
    columns = ["ID", "Count", "Time", "Thread", "Type", "Text"]
    return Json([dict(zip(columns, r, strict=True)) for r in rows]) if fmt == "json" else Table.of(columns, rows)


@command("get error log", options=[FMT], remote=True, blocking=False, keywords=("log", "node info"),
         examples=["get error log", "get error log where format = json"])
def get_error_log(ctx: Context, format: str) -> Result:
    """Show the recent commands that failed, with the reason."""
    return _log_table(ctx.node.logs.errors.entries(), format)


@command("get event log", options=[FMT], remote=True, blocking=False, keywords=("log", "node info"),
         examples=["get event log", "get event log where format = json"])
def get_event_log(ctx: Context, format: str) -> Result:
    """Show the recent commands that succeeded and node events."""
    return _log_table(ctx.node.logs.events.entries(), format)


@command("reset error log", http="POST", keywords=("log",), examples=["reset error log"])
def reset_error_log(ctx: Context) -> Result:
    """Forget the entries of the error log."""
    ctx.node.logs.errors.clear()
    return Message("error log reset")


@command("get settings", options=[FMT], remote=True, blocking=False, keywords=("configuration", "node info"),
         examples=["get settings", "get settings where format = json"])
def get_settings(ctx: Context, format: str) -> Result:
    """Show the node's settings, each with where its value came from.

    Values come from the defaults, `<home>/anynode.cfg` (`key = value` lines),
    `ANYNODE_<KEY>` environment variables, in that order, and commands such as
    `set network key`; SIGHUP reloads them when the new ones validate. A
    secret setting shows `****` when it is set, never its value.
    """
    rows = ctx.node.settings.shown()
    if format == "json":
        return Json({name: {"value": value, "source": source} for name, value, source in rows})
    return Table.of(["Setting", "Value", "Source"], rows)


@command("create work directories", http="POST", keywords=("node info", "configuration"),
         examples=["create work directories"])
def create_work_directories(ctx: Context) -> Result:
    """Create the node's work directories (watch, archive, error, dbms, ...) under its home.

    The directory variables (`!watch_dir`, `!err_dir`, ...) name them; a
    script may point a variable elsewhere before running this command, or
    move them all under another root with `set anylog home PATH`.
    """
    from anynode.node import WORK_DIRS

    made = []
    for key in WORK_DIRS:
        path = ctx.node.get_var(key)
        if path:
            Path(path).mkdir(parents=True, exist_ok=True)
            made.append(path)
    root = ctx.node.get_var("anylog_home") or str(ctx.node.home)
    return Message(f"{len(made)} work directories ready under {root}")


@command("set debug", args=[Arg("mode", Choice("on", "off"))], keywords=("debug",),
         examples=["set debug on", "set debug off"])
def set_debug(ctx: Context, mode: str) -> Result:
    """Show full tracebacks for failing commands (on), or one-line errors (off)."""
    ctx.node.debug = mode == "on"
    return Message(f"debug {mode}")


@command("exit node", http="POST", keywords=("node info",), examples=["exit node"])
def exit_node(ctx: Context) -> Result:
    """Stop every service and end the node process; a script that runs it ends there."""
    ctx.node.request_exit()
    return Message("node is exiting")


def _not_leaving(word: str) -> CommandSyntaxError:
    return CommandSyntaxError(f"'{word}' alone does not end the node",
                              hint="type 'exit node' (or Ctrl-D at an empty prompt) to stop the node; "
                                   f"'exit <service>' stops one service: {', '.join(SERVICE_WORDS)}")


@command("exit", args=[Arg("service", Choice(*SERVICE_WORDS), required=False, help="the service to stop")],
         http="POST", keywords=("background processes",),
         examples=["exit tcp", "exit rest", "exit operator", "exit streamer"])
def exit_service(ctx: Context, service: str | None) -> Result:
    """Stop one background service (the others keep running); `exit node` ends the node."""
    if service is None:
        raise _not_leaving("exit")
    status = ctx.node.services.stop(SERVICE_WORDS[service])
    return Message(f"{status.name} stopped")


@command("quit", hidden=True, keywords=("node info",), examples=["quit"])
def quit_(ctx: Context) -> Result:
    """Say how to leave: `exit node` or Ctrl-D (quit itself ends nothing)."""
    raise _not_leaving("quit")
