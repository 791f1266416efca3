"""Configuring a node from a policy: the servers its keys describe, then its script lines.

``config from policy where id = X`` (``config_commands.py``) finds the policy
(any type) in the local ledger and hands its body here. Values such as
``"!anylog_rest_port.int"`` are resolved from the node's variables as a
command line would resolve them, so a policy published once serves every
node that defines those variables. A key whose variable is not defined is
left out (AnyLog does the same), and the outcome says so.

Servers are started through their own commands (``run tcp server``, ``run
rest server``) with the values passed as quoted tokens, so a value can never
add an option; one already running on the same addresses is left alone, one
running elsewhere is stopped through the service manager and started again.
Each outcome is kept per node for ``get config policies``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from anynode.codes import Code
from anynode.errors import AnyNodeError
from anynode.grammar.dispatch import Context, ControlFlow, Session, Source
from anynode.grammar.tokens import OP, STRING, WORD, Token
from anynode.metadata.build import expander
from anynode.metadata.policy import PolicyError, policy_id_of, policy_type
from anynode.results import Empty
from anynode.services.status import ServiceState

#: Keys ``config from policy`` reads; a policy with none of them has nothing to configure.
USED_KEYS = ("ip", "port", "local_ip", "local_port", "rest_port", "rest_ip", "broker_port", "broker_ip", "script")


@dataclass
class ConfigOutcome:
    """What one ``config from policy`` did: shown by ``get config policies``."""

    id: str
    name: str
    kind: str
    servers: list[str] = field(default_factory=list)
    lines_run: int = 0
    lines: int = 0
    status: str = "running"
    error: str = ""
    when: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        """The outcome as ``get config policies where format = json`` shows it."""
        return {"id": self.id, "name": self.name, "type": self.kind, "servers": list(self.servers),
                "lines_run": self.lines_run, "lines": self.lines, "status": self.status, "error": self.error,
                "time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.when))}


class Outcomes:
    """The outcomes of this node's ``config from policy`` runs, the latest per policy id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, ConfigOutcome] = {}

    def record(self, outcome: ConfigOutcome) -> None:
        """Keep ``outcome`` as the latest for its policy (a re-run replaces the earlier one)."""
        with self._lock:
            self._by_id.pop(outcome.id, None)
            self._by_id[outcome.id] = outcome

    def all(self) -> list[ConfigOutcome]:
        """Every outcome, oldest policy first."""
        with self._lock:
            return list(self._by_id.values())


def outcomes(ctx: Context) -> Outcomes:
    """This node's record of config policies."""
    return ctx.node.part("metadata.config_policies", Outcomes)


class PolicyScriptError(AnyNodeError):
    """A script line of a config policy failed: names the policy, the line number and the line."""

    anylog_code = Code.SCRIPT_ERROR

    def __init__(self, policy_id: str, lineno: int, line: str, cause: AnyNodeError | str) -> None:
        text = cause.one_line() if isinstance(cause, AnyNodeError) else cause
        super().__init__(f"script from policy {policy_id} failed at line #{lineno} ({line}): {text}",
                         hint="fix the line in the policy (or what it needs), then run config from policy again")
        if isinstance(cause, AnyNodeError):
            self.exit_code = cause.exit_code


class ServerFromPolicyError(AnyNodeError):
    """A server of a config policy did not start: names the server and the policy, keeps the cause's codes."""

    def __init__(self, server: str, policy_id: str, cause: AnyNodeError) -> None:
        super().__init__(f"{server} server from policy {policy_id}: {cause.message}", cause.hint)
        self.anylog_code = cause.anylog_code
        self.http_status = cause.http_status
        self.exit_code = cause.exit_code


@dataclass
class Values:
    """A policy body's values, resolved from the node's variables on demand."""

    ctx: Context
    pid: str
    body: dict[str, Any]
    skipped: list[str] = field(default_factory=list)

    def get(self, key: str) -> Any:
        """The value of ``key``: None when absent, empty, or a variable the node does not define."""
        value = self.body.get(key)
        if isinstance(value, str) and value[:1] in ("!", "$") and len(value) > 1:
            text, missing, typed = expander(self.ctx)(value)
            if missing:
                self.skipped.append(f"{key} ({', '.join(missing)})")
                return None
            if typed == "bool":
                return text.lower() == "true"
            if typed in ("int", "float") and not text:
                raise PolicyError(Code.WRONG_POLICY, f"policy {self.pid}: {key} is {value!r}, and that variable "
                                  "does not hold a number", hint=f"set the variable {value} names to a number")
            value = text
        if value is None or value == "":
            return None
        return value

    def flag(self, key: str) -> bool | None:
        """A true/false key (``tcp_bind``): None when not given."""
        value = self.get(key)
        if value is None:
            return None
        return value if isinstance(value, bool) else str(value).lower() == "true"

    def port(self, key: str) -> int | None:
        """A port key as a number.

        Raises:
            PolicyError: the value is not a whole number from 0 to 65535.
        """
        value = self.get(key)
        if value is None:
            return None
        try:
            port = int(value) if not isinstance(value, bool) else -1
        except (TypeError, ValueError):
            port = -1
        if not 0 <= port <= 65535:
            raise PolicyError(Code.WRONG_POLICY, f"policy {self.pid}: {key} is {value!r}, not a port number",
                              hint=f"give {key} a number from 0 to 65535, or !name.int of a variable holding one")
        return port

    def text(self, key: str) -> str | None:
        """A key as text (addresses), None when not given."""
        value = self.get(key)
        return None if value is None else str(value)


@dataclass(frozen=True)
class Server:
    """A server the policy asks for: its addresses, whether it binds, and the options of its run command."""

    name: str  # the service name: TCP, REST
    command: tuple[str, ...]
    external_ip: str
    internal_ip: str
    port: int
    internal_port: int
    bind: bool
    options: tuple[tuple[str, str], ...] = ()

    def addresses(self) -> tuple[str, str, str]:
        """(external, internal, listening) as ``get connections`` shows them."""
        every = "::" if self.name == "REST" and ":" in self.internal_ip else "0.0.0.0"
        listen = self.internal_ip if self.bind else every
        return (f"{self.external_ip}:{self.port}", f"{self.internal_ip}:{self.internal_port}",
                f"{listen}:{self.internal_port}")

    def tokens(self) -> list[Token]:
        """``run ... server where k = "v" and ...``: every value one quoted token, so none adds an option."""
        words = [*self.command, "where"]
        toks = [Token(w, WORD, 0, 0) for w in words]
        pairs = (("external_ip", self.external_ip), ("external_port", str(self.port)),
                 ("internal_ip", self.internal_ip), ("internal_port", str(self.internal_port)),
                 ("bind", "true" if self.bind else "false"), *self.options)
        for n, (key, value) in enumerate(pairs):
            if n:
                toks.append(Token("and", WORD, 0, 0))
            toks += [Token(key, WORD, 0, 0), Token("=", OP, 0, 0), Token(value, STRING, 0, 0)]
        return toks


def tcp_server(values: Values) -> Server | None:
    """The TCP server of the policy: ip/port (advertised) and local_ip/local_port (this machine's network)."""
    ip, port = values.text("ip"), values.port("port")
    local_ip, local_port = values.text("local_ip"), values.port("local_port")
    if not ((ip and port is not None) or (local_ip and local_port is not None)):
        return None
    bind = values.flag("tcp_bind")
    if bind is None:
        bind = not (ip and local_ip)  # one address given: listen on it only
    external_ip = ip or local_ip or ""
    internal_ip = local_ip or ip or ""
    main = port if port is not None else local_port
    assert main is not None
    second = local_port if local_port is not None else main
    threads = values.get("tcp_threads")
    options = (("threads", str(threads)),) if threads is not None else ()
    return Server("TCP", ("run", "tcp", "server"), external_ip, internal_ip, main, second, bind, options)


def rest_server(values: Values) -> Server | None:
    """The REST server: rest_port on rest_ip (listening there only), else on ip (every interface)."""
    port = values.port("rest_port")
    if port is None:
        return None
    rest_ip = values.text("rest_ip")
    ip = rest_ip or values.text("ip") or values.text("local_ip")
    if not ip:
        raise PolicyError(Code.WRONG_POLICY, f"policy {values.pid} has rest_port but no address for it",
                          hint="add rest_ip (or ip) to the policy")
    bind = values.flag("rest_bind")
    if bind is None:
        bind = bool(rest_ip)
    options = tuple((opt, str(v)) for opt, key in (("threads", "rest_threads"), ("timeout", "rest_timeout"))
                    if (v := values.get(key)) is not None)
    return Server("REST", ("run", "rest", "server"), ip, ip, port, port, bind, options)


def broker_note(values: Values) -> str | None:
    """A one-line warning when the policy asks for a message broker, which anynode does not have."""
    port = values.port("broker_port")
    if port is None:
        return None
    return f"warning: message broker on port {port} not started: anynode has no message broker service"


def _same(wanted: tuple[str, str, str], running: tuple[str, str, str], port: int) -> bool:
    if port:
        return wanted == running
    return all(w.rpartition(":")[0] == r.rpartition(":")[0] for w, r in zip(wanted, running, strict=True))


def start(ctx: Context, server: Server, policy_id: str) -> str:
    """Start ``server``, restart it on new addresses, or leave it running; say which."""
    node = ctx.node
    where = server.addresses()[0]
    service = node.services.get(server.name)
    running = service is not None and node.services.status(server.name).state == ServiceState.RUNNING
    verb = "started"
    if running:
        hook = getattr(service, "connection_addresses", None)
        current = hook() if hook else None
        if current is not None and _same(server.addresses(), current, server.port):
            return f"{server.name} left running on {current[0]}"
        node.services.stop(server.name, float(node.settings["start_timeout"]))
        verb = f"restarted (was {current[0]})" if current else "restarted"
    try:
        ctx.run_tokens(server.tokens())
    except AnyNodeError as exc:  # the values came from the policy: no column of the typed line to point at
        raise ServerFromPolicyError(server.name, policy_id, exc) from exc
    after = node.services.get(server.name)
    hook = getattr(after, "connection_addresses", None)
    if hook is not None:
        where = hook()[0]
    return f"{server.name} {verb} on {where}"


def script_lines(pid: str, value: Any) -> list[str]:
    """The script entries of a policy, as lines.

    Raises:
        PolicyError: the script is not a list of texts.
    """
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text[:1] == "[" and text[-1:] == "]":
            try:
                value = json.loads(text)
            except ValueError:
                value = text[1:-1].split(",")  # AnyLog's unquoted list
        else:
            value = [text]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(Code.WRONG_POLICY, f"policy {pid}: 'script' must be a list of command lines",
                          hint='write it as "script": ["run scheduler 1", "process !local_scripts/x.al"]')
    return list(value)


def run_script_lines(ctx: Context, outcome: ConfigOutcome, lines: list[str]) -> None:
    """Run each line as a line of a local script would run, stopping at the first that fails.

    Raises:
        PolicyScriptError: a line failed (its number counts every entry, from 1).
    """
    node = ctx.node
    for n, entry in enumerate(lines, 1):
        line = entry.strip()
        if len(line) > 1 and line[0] == line[-1] == "'":
            line = line[1:-1].strip()
        if not line:
            continue
        try:
            result = node.execute(line, Source.SCRIPT, Session())
        except ControlFlow:
            raise PolicyScriptError(outcome.id, n, line, "goto, call, return, end script and exit scripts "
                                    "work only in a script file (put them in a file and process it)") from None
        except AnyNodeError as exc:
            raise PolicyScriptError(outcome.id, n, line, exc) from exc
        outcome.lines_run += 1
        if not isinstance(result, Empty):
            node.emit(result)


def configure(ctx: Context, policy_id: str) -> str:
    """Configure the node from the policy with ``policy_id``: servers, then script; the outcome in one text.

    Raises:
        PolicyError: no such policy, several, or nothing usable in it.
        PolicyScriptError: a script line failed.
    """
    from anynode.metadata.ledger import ledger

    found = [p for p in ledger(ctx.node).snapshot().policies if policy_id_of(p) == policy_id]
    if not found:
        raise PolicyError(Code.POLICY_NOT_AVAILABLE, f"no policy with id {policy_id} in the local ledger",
                          hint="check the id (blockchain get * where id = ...), or insert or sync the policy first")
    if len(found) > 1:
        raise PolicyError(Code.NON_UNIQUE_POLICY, f"{len(found)} policies have the id {policy_id}",
                          hint="blockchain test lists the ledger's problems")
    kind = policy_type(found[0])
    body = dict(found[0][kind])
    if not any(k in body for k in USED_KEYS):
        raise PolicyError(Code.WRONG_POLICY, f"{kind} policy {policy_id} has nothing to configure",
                          hint="a config policy has ip and port, rest_port, broker_port or script")
    outcome = ConfigOutcome(policy_id, str(body.get("name", "")), kind)
    values = Values(ctx, policy_id, body)
    try:
        servers = [s for s in (tcp_server(values), rest_server(values)) if s is not None]
        broker = broker_note(values)
        lines = script_lines(policy_id, body.get("script"))
        outcome.lines = len(lines)
        if not servers and broker is None and not lines:
            left = "; ".join(values.skipped) or "no key has a value"
            raise PolicyError(Code.WRONG_POLICY, f"{kind} policy {policy_id} has nothing usable to configure: "
                              f"variables not defined: {left}",
                              hint="define the variables its values name (e.g. anylog_server_port), then retry")
        for server in servers:
            outcome.servers.append(start(ctx, server, policy_id))
        if broker is not None:
            outcome.servers.append(broker)
        run_script_lines(ctx, outcome, lines)
    except AnyNodeError as exc:
        outcome.status, outcome.error = "failed", exc.message
        outcomes(ctx).record(outcome)
        raise
    outcome.status = "processed"
    outcomes(ctx).record(outcome)
    parts = [*outcome.servers]
    if values.skipped:
        parts.append("left out (variable not defined): " + ", ".join(values.skipped))
    parts.append(f"script: {outcome.lines_run} of {outcome.lines} lines run" if lines else "no script")
    return f"config from {kind} policy {policy_id} processed: " + "; ".join(parts)
