"""The REST service: AnyLog's REST dialect on uvicorn (httptools, uvloop).

``run rest server`` starts a :class:`RestService`; the ServiceManager runs it
on the thread ``anynode:rest``, where uvicorn's event loop serves the ASGI
app of :mod:`anynode.rest.app`. The socket is bound before the
service reports ready, so ``run rest server`` answers "listening on ..." with
the real port (port 0 picks a free one) or a one-line error such as "address
already in use". Commands declared blocking (the default) run in a bounded
ThreadPoolExecutor (threads named ``anynode:rest-worker_N``), so the event
loop never blocks; those declared non-blocking (memory reads such as
``get status``) run on the loop itself. uvicorn does not
install signal handlers off the main thread; the node handles signals and
stops the service, which sets ``should_exit``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from anynode.errors import ServiceError
from anynode.protocols import NodeView
from anynode.rest.accept import Acceptor
from anynode.rest.app import CORS, AppSettings, RestApp
from anynode.rest.stats import RestStats
from anynode.services.base import Service

# uvicorn logs to "uvicorn.error"; without a handler Python's last-resort
# handler would print its warnings (e.g. for garbage requests) over the prompt.
logging.getLogger("uvicorn").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class RestConfig:
    """The options of ``run rest server`` (see the command for their meaning).

    The options have no default here: the command's declaration holds them.
    ``client_timeout`` and ``keep_alive`` are not options: their defaults are these.
    """

    internal_ip: str
    internal_port: int
    external_ip: str | None
    external_port: int | None
    bind: bool
    threads: int
    timeout: float
    ssl: bool
    cert_file: str | None
    key_file: str | None
    ca_file: str | None
    token: str | None
    user: str | None
    password: str | None
    max_body: int
    replies: str
    client_timeout: float = 10.0
    keep_alive: float = 5.0

    @property
    def listen_ip(self) -> str:
        """The address the socket binds: the internal IP with ``bind``, else every interface."""
        if self.bind:
            return self.internal_ip
        return "::" if ":" in self.internal_ip else "0.0.0.0"

    @property
    def every_interface(self) -> bool:
        """True when the socket listens on every interface (``bind = false``, AnyLog's default)."""
        return self.listen_ip in ("0.0.0.0", "::")


def _protocol_class(client_timeout: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol plus a deadline for request headers.

    uvicorn keeps a connection that sends half a request line forever; here
    the headers of each request must be complete within ``client_timeout``
    seconds of its first byte (or of connecting), else the client gets 408
    and the connection closes. A slow client never blocks others (the loop
    serves every connection), and it cannot hold its connection forever.
    The deadline is one timer per connection that re-arms itself, not a
    timer made and cancelled for every request.
    """
    body = b'{"error":"the request headers did not arrive in time","status":408,"err_code":26}'
    reply = b"".join([b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n",
                      b"content-length: ", str(len(body)).encode(), b"\r\nconnection: close\r\n",
                      *(name + b": " + value + b"\r\n" for name, value in CORS), b"\r\n", body])

    class Protocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None
        _began: float | None = None  # when the headers of the current request began to arrive
        _joined: _JoinedWrites | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._joined = _JoinedWrites(transport)
            self._began = self.loop.time()  # a silent connection is held to the same deadline
            self._deadline = self.loop.call_later(client_timeout, self._check)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._began is None:
                self._began = self.loop.time()

        def on_headers_complete(self) -> None:
            self._began = None
            super().on_headers_complete()
            cycle, joined = self.cycle, self._joined
            if (cycle is not None and joined is not None and cycle.transport is self.transport
                    and hasattr(cycle, "response_started")):  # uvicorn's cycle as we know it, else as is
                cycle.transport = joined  # type: ignore[assignment]
                joined.expect(cycle)

        def on_response_complete(self) -> None:
            if self._joined is not None:
                self._joined.flush()
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            if self._joined is not None:
                self._joined.forget()
            super().connection_lost(exc)

        def _check(self) -> None:
            """408 if the current request's headers are overdue, else wait
            until the next moment they could be."""
            self._deadline = None
            if self.transport.is_closing():
                return
            began = self._began
            wait = client_timeout if began is None else began + client_timeout - self.loop.time()
            if wait > 0:
                self._deadline = self.loop.call_later(wait, self._check)
                return
            self.transport.write(reply)
            self.transport.close()

    return Protocol


class _JoinedWrites:
    """The transport as a response cycle sees it: the status line and headers
    wait for the body and both leave in one write (one system call, one packet).

    uvicorn writes the head of a response as soon as the app sends
    ``http.response.start`` and the body on ``http.response.body``: two
    system calls per reply, and on loopback each costs about as much as all
    the Python work of a small request. The protocol calls :meth:`expect`
    with each new request's cycle; the first write after its response
    started is held, and goes out with the next write, on close, or when
    the response is complete (a HEAD reply has no body write). Other
    writes, such as ``100 Continue``, pass straight through.

    It keeps no reference to the protocol, and lets go of the cycle once the
    head is held: a reference cycle here would leave every closed connection
    to the garbage collector (measured: 40 times as many collections).
    """

    __slots__ = ("_cycle", "_held", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: bytes | None = None
        self._cycle: Any = None

    def expect(self, cycle: Any) -> None:
        """A new request: hold the head of its response."""
        self._cycle = cycle

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if len(data) < 65536:
                self._transport.write(held + data)
            else:  # no copy of a big body
                self._transport.writelines((held, data))
        elif self._cycle is not None and self._cycle.response_started:
            self._cycle = None
            self._held = data
        else:
            self._transport.write(data)

    def flush(self) -> None:
        """Send a held head now."""
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def forget(self) -> None:
        """The connection is gone: drop the cycle (and with it, any reference cycle)."""
        self._cycle = None
        self._held = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Server(uvicorn.Server):
    """uvicorn's server that reports ready once listening and watches the stop event."""

    def __init__(self, config: uvicorn.Config, stop: threading.Event, on_ready: Callable[[], None],
                 app: RestApp) -> None:
        super().__init__(config)
        self._stop = stop
        self._on_ready = on_ready
        self._app = app

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's startup for the sockets given, with an :class:`Acceptor` on each
        instead of ``loop.create_server`` (which accepts one connection per loop turn)."""
        assert sockets, "the REST service binds its socket before it starts uvicorn"
        await self.lifespan.startup()
        config = self.config

        def create_protocol() -> asyncio.Protocol:
            return config.http_protocol_class(config=config, server_state=self.server_state,  # type: ignore[call-arg]
                                              app_state=self.lifespan.state)

        loop = asyncio.get_running_loop()
        self.servers = [Acceptor(loop, sock, create_protocol, tls=config.ssl,  # type: ignore[misc]
                                 handshake_timeout=self._app.settings.client_timeout) for sock in sockets]
        self.started = True
        self._app.accepting = True
        self._on_ready()

    async def on_tick(self, counter: int) -> bool:
        if self._stop.is_set():
            self.should_exit = True
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._app.accepting = False
        await super().shutdown(sockets)


class RestService(Service):
    """The REST server as a node service (``get processes`` row "REST").

    Args:
        node: the node whose commands the server runs.
        config: the options of ``run rest server``.
    """

    name = "REST"

    def __init__(self, node: NodeView, config: RestConfig) -> None:
        self.node = node
        self.config = config
        self.stats = RestStats()
        self.port = config.internal_port
        self.started_at: float | None = None
        self._server: _Server | None = None
        self._executor: ThreadPoolExecutor | None = None

    # -- the service contract ----------------------------------------------
    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        """Bind, serve until ``stop`` is set, then close the pool."""
        cfg = self.config
        sock = self._bind()
        executor = ThreadPoolExecutor(max_workers=cfg.threads, thread_name_prefix="anynode:rest-worker")
        try:
            from anynode.rest.openapi import openapi

            app = RestApp(self.node, AppSettings(timeout=cfg.timeout or None, max_body=cfg.max_body,
                                                 client_timeout=cfg.client_timeout, token=cfg.token,
                                                 user=cfg.user, password=cfg.password,
                                                 replies=cfg.replies),
                          executor, self.stats, openapi=lambda: openapi(self.node.registry, cfg))
            server = _Server(self._uvicorn_config(app), stop, ready, app)
            self._executor, self._server = executor, server
            if stop.is_set():
                return
            self.started_at = time.time()
            self.node.log.info("REST server listening on %s%s", self.listening_on(),
                               " (every interface)" if cfg.every_interface else "")
            server.run(sockets=[sock])
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            sock.close()
            self._server = None

    def wake(self) -> None:
        """Ask uvicorn to exit (it checks every 0.1 s)."""
        server = self._server
        if server is not None:
            server.should_exit = True

    def details(self) -> str:
        """AnyLog's Details column: the address the socket binds, pool, timeout, SSL."""
        cfg = self.config
        return (f"Listening on: {self.listening_on()}, Threads Pool: {cfg.threads}, "
                f"Timeout: {cfg.timeout:g}, SSL: {cfg.ssl}")

    def info(self) -> dict[str, Any]:
        """Settings and counters, for ``get rest server info``."""
        cfg = self.config
        auth = [a for a, on in (("bearer token", cfg.token), ("basic", cfg.user is not None)) if on]
        return {
            "Listening on": self.listening_on() + (" (every interface)" if cfg.every_interface else ""),
            "Internal address": self.addresses()[1], "External address": self.addresses()[0],
            "Bind": cfg.bind, "Threads Pool": cfg.threads,
            "Timeout": f"{cfg.timeout:g} s" if cfg.timeout else "none",
            "SSL": cfg.ssl, "Authentication": ", ".join(auth) or "none",
            "Body limit": cfg.max_body, "Client timeout": f"{cfg.client_timeout:g} s", "Replies": cfg.replies,
            "Requests served": self.stats.total,
            "Up since": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started_at))
            if self.started_at else "",
        }

    # -- addresses -----------------------------------------------------------
    def listening_on(self) -> str:
        """``ip:port`` the socket really binds, with the real port: ``0.0.0.0:port`` (every
        interface) unless ``bind = true`` (then the internal IP)."""
        return _address(self.config.listen_ip, self.port)

    def reachable_at(self) -> str:
        """``ip:port`` a client on this machine or network uses: the internal IP, with the real port."""
        return _address(self.config.internal_ip, self.port)

    def addresses(self) -> tuple[str, str, str]:
        """(external, internal, bind) addresses, as ``get connections`` shows them."""
        cfg = self.config
        external = _address(cfg.external_ip or cfg.internal_ip, cfg.external_port or self.port)
        return external, self.reachable_at(), self.listening_on()

    connection_addresses = addresses

    # -- helpers ---------------------------------------------------------------
    def _bind(self) -> socket.socket:
        cfg = self.config
        host = cfg.listen_ip
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, cfg.internal_port))
            sock.listen(2048)
        except OSError as exc:
            sock.close()
            reason = (exc.strerror or str(exc)).lower()
            raise ServiceError(f"cannot listen on {host}:{cfg.internal_port}: {reason}",
                               hint="choose another port, or stop the process that uses it") from None
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        return sock

    def _uvicorn_config(self, app: RestApp) -> uvicorn.Config:
        cfg = self.config
        tls: dict[str, Any] = {}
        if cfg.ssl:
            for what, path in (("certificate", cfg.cert_file), ("key", cfg.key_file), ("CA", cfg.ca_file)):
                if path and not os.path.isfile(path):
                    raise ServiceError(f"the TLS {what} file {path} does not exist",
                                       hint="give cert_file and key_file paths (or ca_org/server_org in !pem_dir)")
            tls = {"ssl_certfile": cfg.cert_file, "ssl_keyfile": cfg.key_file, "ssl_ca_certs": cfg.ca_file,
                   "ssl_cert_reqs": ssl.CERT_OPTIONAL if cfg.ca_file else ssl.CERT_NONE}
        # log_level: uvicorn's loggers at WARNING (their output goes nowhere below that; see the NullHandler
        # above). With no level set, each connection formats and logs two TRACE lines.
        config = uvicorn.Config(app, loop="uvloop", http=_protocol_class(cfg.client_timeout), lifespan="off",
                                log_config=None, log_level="warning", access_log=False, server_header=False,
                                proxy_headers=False,
                                timeout_keep_alive=cfg.keep_alive, timeout_graceful_shutdown=0.5,  # type: ignore[arg-type]
                                limit_concurrency=10_000, **tls)
        try:
            config.load()
        except (OSError, ssl.SSLError) as exc:
            raise ServiceError(f"cannot use the TLS certificate {cfg.cert_file}: {exc}",
                               hint="check that cert_file and key_file are a matching PEM pair") from None
        return config


def _address(ip: str, port: int) -> str:
    """``ip:port``, with an IPv6 address in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
