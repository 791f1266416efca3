"""AnyLog's REST dialect, without the HTTP plumbing.

What a request means (which command, which method it needs, which timeout,
where it goes) and what an error reply looks like (AnyLog-shaped error bodies
with a real HTTP status; the body of a command's reply is
:mod:`anynode.rest.bodies`). The
ASGI app in :mod:`anynode.rest.app` calls these; they are plain
functions so they can be tested and reused without a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from anynode.codes import Code
from anynode.errors import AnyNodeError, ValidationError
from anynode.grammar.registry import Registry
from anynode.grammar.tokens import split_commands
from anynode.grammar.types import SECONDS
from anynode.protocols import NodeView
from anynode.rest.bodies import dumps
from anynode.results import Result


# -- errors that only the REST edge raises -----------------------------------
class WrongMethod(AnyNodeError):
    """A command sent with the HTTP method AnyLog does not allow for it (AnyLog 156)."""

    anylog_code = Code.WRONG_HTTP_METHOD


class BadRequest(AnyNodeError):
    """A request the dialect cannot read: a missing header, a bad value (AnyLog 2)."""

    anylog_code = Code.COMMAND_STRUCTURE


class Unauthorized(AnyNodeError):
    """Missing or wrong credentials when the server requires them."""

    http_status = 401
    anylog_code = Code.PROCESS_FAILURE


class BodyTooLarge(AnyNodeError):
    """A request body over the server's limit."""

    http_status = 413


class ClientTooSlow(AnyNodeError):
    """A client that stopped sending its request half way."""

    http_status = 408
    anylog_code = Code.TIMEOUT


class CommandTimeout(AnyNodeError):
    """A command that did not finish within the request's timeout (AnyLog 26)."""

    http_status = 504
    anylog_code = Code.TIMEOUT


class NotAvailable(AnyNodeError):
    """A dialect feature this node cannot serve yet (501)."""

    http_status = 501
    anylog_code = Code.NETWORK_ERROR


class InternalError(AnyNodeError):
    """An unexpected failure inside the node; logged with its traceback."""

    http_status = 500


# -- reading requests ---------------------------------------------------------
def caller_product(user_agent: str) -> str:
    """The product part of a User-Agent (``AnyLog/1.23`` -> ``anylog``), for stats.

    Every product is served: EdgeLake answers unknown agents with an empty
    200 (its bug #9); anynode runs the command for any client.
    """
    product = user_agent.split("/", 1)[0].strip().lower()
    return product or "unknown"


def query_headers(query: str) -> dict[str, str]:
    """Headers given on the URL, for clients that cannot set headers.

    Accepts ``?command=get%20status&destination=...`` and AnyLog's form
    ``?User-Agent=AnyLog/1.23?command=get%20status`` (pairs split by ``?``).
    Keys are lower-cased; values are URL-decoded as forms are (``+`` is a
    space; a plus sign is ``%2B``).
    """
    out: dict[str, str] = {}
    for part in query.replace("&", "?").split("?"):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            out[unquote_plus(key).strip().lower()] = unquote_plus(value).strip()
    return out


def parse_timeout(text: str | None, default: float | None) -> float | None:
    """The timeout header (``10``, ``10 seconds``, ``2 minutes``); 0 means none.

    Raises:
        BadRequest: the value is not a duration.
    """
    if text is None or not text.strip():
        return default
    try:
        seconds = float(SECONDS.convert(text))
    except ValidationError:
        raise BadRequest(f"timeout header '{text}' is not a duration",
                         hint="send e.g. 'timeout: 30' or 'timeout: 2 minutes'") from None
    return seconds or None


JSON_BY_DEFAULT = frozenset({"sql"})
"""Commands whose reply is JSON over REST unless they ask for another format, as in AnyLog (``sql``:
``{"Query": [...], "Statistics": [...]}``), whatever the prompt shows by default."""


@dataclass(frozen=True)
class LineKind:
    """What the method rule found out about a command line."""

    inline: bool
    """Every command on it is declared non-blocking: it may run on the event loop."""
    json_default: bool
    """Every command on it answers JSON by default over REST (:data:`JSON_BY_DEFAULT`)."""


class MethodRule:
    """AnyLog's per-command HTTP method rule, read from each CommandSpec.http.

    GET is for commands that read, POST for commands that change the node;
    a declaration may allow both with ``http="GET|POST"``. Unknown commands
    pass: running them produces the "unknown command" error with its hint, and
    so do commands a REST client may not run at all (403 over GET and POST alike).
    :meth:`check` also says whether the line may run on the event loop: only
    when every command on it is declared non-blocking (``blocking = False``
    on its CommandSpec); everything else goes to
    the worker pool. Answers are cached per command text (hot path).
    """

    def __init__(self, registry: Registry, cache_size: int = 2048) -> None:
        self.registry = registry
        self._cache: dict[str, tuple[tuple[str, str] | None, LineKind]] = {}
        self._size = cache_size

    def check(self, method: str, line: str) -> LineKind:
        """Raise WrongMethod when ``line`` needs another method than ``method``;
        else say how the line runs (inline or not, JSON by default or not)."""
        key = method + " " + line
        found = self._cache.get(key)
        if found is None:
            found = self._judge(method, line)
            if len(self._cache) >= self._size:
                self._cache.clear()
            self._cache[key] = found
        wrong, kind = found
        if wrong is not None:
            name, needed = wrong
            raise WrongMethod(f"wrong HTTP method: '{name}' is sent with {needed}, not {method}",
                              hint=f"send it with {needed}")
        return kind

    def _judge(self, method: str, line: str) -> tuple[tuple[str, str] | None, LineKind]:
        inline = True
        json_default = True
        for text, _ in split_commands(line):
            words: list[str] = []
            for word in text.split():
                if word.lower() == "where" or not word[:1].isalpha():
                    break
                words.append(word)
            found = self.registry.match(words) if words else None
            if found is None:
                inline = json_default = False
                continue
            spec = found[0]
            inline = inline and not spec.blocking
            json_default = json_default and spec.name in JSON_BY_DEFAULT
            if not spec.remote:
                continue  # refused whatever the method (403, saying why), not sent to try the other one
            allowed = spec.http.upper().split("|")
            if method not in allowed:
                return (spec.name, " or ".join(allowed)), LineKind(False, False)
        return None, LineKind(inline, json_default)


def forward_command(node: NodeView, command: str, destination: str, timeout: float | None, subset: bool,
                    fmt: str = "json") -> Result:
    """Run ``command`` on the peers named by a ``destination`` header (``ip:port, ip:port``).

    Same as ``run client (<destination>) <command>``: the peers run it in
    parallel and the reply holds each one's answer or error. It runs in the
    worker pool and the HTTP reply is sent only after it returns, so a
    failure gets a real status code (EdgeLake sends 200 before the work; its
    bug #8). A metadata query names the peers as in ``run client``
    (``destination: blockchain get operator bring.ip_port``). An ``sql``
    command is answered as one database by the operators that hold its table
    (``destination: network``) or by the named peers.
    """
    from anynode.grammar.tokens import tokenize
    from anynode.grammar.types import parse_destinations
    from anynode.net.peers import ask_peers

    words = tokenize(command)
    is_sql = bool(words) and words[0].is_word("sql")
    network = destination.strip().lower() == "network"
    if network and not is_sql:
        raise NotAvailable("destination 'network' takes its operators from an sql query's table",
                           hint="send an sql command, or name the peers: destination: ip:port, ip:port")
    dests = parse_destinations("()" if network else destination)
    peers, given = list(dests.dests), dests.timeout
    if dests.query:  # the peers the metadata names, as run client takes them
        from anynode.grammar.session import Source
        from anynode.metadata.destinations import resolve

        found = resolve(node, lambda line: node.execute(line, Source.REST), dests.query, dests.subset or subset)
        peers, given = list(found.dests), found.timeout or given
    elif not dests.dests and not is_sql:
        raise NotAvailable(f"destination '{destination}' takes its operators from an sql query's table",
                           hint="send an sql command, or name the peers: destination: ip:port, ip:port")
    limit = timeout or given or float(node.settings["remote_timeout"])
    if is_sql:
        from anynode.query.netsql import metadata_routes, network_sql

        return network_sql(node, fmt, words, peers, dests.subset or subset, limit, metadata_routes(node),
                           stream=True)
    return ask_peers(node.client(), peers, command, limit)


def is_local(destination: str | None) -> bool:
    """True when a destination header means "this node"."""
    return destination is None or destination.strip().lower() in ("", "local")


# -- writing replies ----------------------------------------------------------
def json_reply(value: Any) -> bytes:
    """A compact JSON body."""
    return dumps(value)


def error_reply(exc: AnyNodeError, method: str, client: str) -> bytes:
    """An AnyLog-shaped error body that also carries anynode's error object.

    AnyLog clients read ``err_code``, ``err_text`` and ``local_msg`` (the
    detail); anynode clients read ``error``/``hint``/``kind`` (the same
    object the TCP server sends).
    """
    body: dict[str, Any] = {"method": method.lower(), "node": client, "err_code": int(exc.anylog_code),
                            "err_text": exc.one_line(), "local_msg": exc.message}
    body.update(exc.to_wire())
    return dumps(body)
