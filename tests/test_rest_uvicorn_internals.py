"""The parts of uvicorn the REST server relies on beyond its public API are still there, in the shape it uses.

anynode/rest/server.py subclasses ``uvicorn.Server`` (startup, on_tick, shutdown) and uvicorn's httptools
protocol, puts an :class:`~anynode.rest.accept.Acceptor` where uvicorn keeps its ``asyncio.Server``
objects, and swaps the transport of each response cycle for one that sends head and body in one write.
Some of that would fail silently if uvicorn moved it (an override nobody calls, a swap that no longer
happens). setup.cfg keeps uvicorn below 1.0; a release within that range that moves one of these parts
fails here, with a message that says what moved and what to do.
"""

from __future__ import annotations

import inspect
import signal
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from anynode.node import Node
from anynode.rest.accept import Acceptor
from anynode.rest.app import AppSettings, RestApp
from anynode.rest.server import RestService, _JoinedWrites, _protocol_class, _Server
from anynode.rest.stats import RestStats
from tests.rest_helpers import port_of, read_response, rest_config, start

pytestmark = pytest.mark.timeout(30)


def moved(what: str, user: str = "anynode/rest/server.py") -> str:
    """The failure message: what changed, who relies on it, what to do."""
    return (f"uvicorn {uvicorn.__version__} changed {what}, which {user} relies on. Read this uvicorn's "
            f"source and adapt {user} (and this test), or keep uvicorn below this version in setup.cfg.")


def params(function: Any) -> list[str]:
    """The parameter names of ``function``, in order."""
    return list(inspect.signature(function).parameters)


def own_methods(cls: type) -> list[str]:
    """The public methods ``cls`` defines itself: each must override one of its base, or uvicorn never calls it."""
    return [name for name, value in vars(cls).items() if inspect.isfunction(value) and not name.startswith("_")]


def test_the_server_methods_we_override_are_uvicorns_with_the_same_parameters() -> None:
    overridden = own_methods(_Server)
    assert set(overridden) == {"startup", "on_tick", "shutdown"}, "update this test with _Server's overrides"
    for name in overridden:
        base = getattr(uvicorn.Server, name, None)
        assert base is not None, moved(f"Server.{name} (gone: _Server.{name} is never called)")
        assert inspect.iscoroutinefunction(base), moved(f"Server.{name} (no longer a coroutine)")
        assert params(base) == params(getattr(_Server, name)), moved(f"the parameters of Server.{name}")
    assert params(uvicorn.Server.__init__) == ["self", "config"], moved("Server(config)")


def test_a_server_has_the_attributes_we_read_and_set() -> None:
    server = uvicorn.Server(uvicorn.Config(app=None, lifespan="off"))
    for name, expected in (("config", uvicorn.Config), ("should_exit", bool), ("started", bool)):
        assert isinstance(getattr(server, name, None), expected), moved(f"Server.{name}")
    assert isinstance(getattr(server.server_state, "connections", None), set), moved("Server.server_state")
    config = server.config
    config.load()
    lifespan = config.lifespan_class(config)  # what Server._serve makes before it calls startup
    assert isinstance(getattr(lifespan, "state", None), dict), moved("the lifespan's state (passed as app_state)")
    assert inspect.iscoroutinefunction(getattr(lifespan, "startup", None)), moved("the lifespan's startup()")


def test_the_protocol_methods_we_override_are_uvicorns_with_the_same_parameters() -> None:
    ours = _protocol_class(10.0)
    overridden = own_methods(ours)
    assert {"connection_made", "on_headers_complete", "on_response_complete"} <= set(overridden)
    for name in overridden:
        base = getattr(HttpToolsProtocol, name, None)
        assert base is not None, moved(f"HttpToolsProtocol.{name} (gone: our override is never called)")
        assert params(base) == params(getattr(ours, name)), moved(f"the parameters of HttpToolsProtocol.{name}")
    assert {"config", "server_state", "app_state"} <= set(params(HttpToolsProtocol.__init__)), \
        moved("HttpToolsProtocol(config=, server_state=, app_state=), which _Server.startup calls")


def test_the_config_takes_every_option_we_pass_and_keeps_our_protocol(node: Node) -> None:
    with ThreadPoolExecutor(max_workers=1) as executor:
        rest = rest_config(node, internal_ip="127.0.0.1", internal_port=0, keep_alive=2.5)
        app = RestApp(node, AppSettings(rest.timeout, rest.max_body, rest.client_timeout, None, None, None,
                                        rest.replies),
                      executor, RestStats())
        try:
            config = RestService(node, rest)._uvicorn_config(app)
        except TypeError as exc:  # a keyword uvicorn.Config no longer takes
            pytest.fail(moved(f"uvicorn.Config's keywords ({exc})"))
    assert config.loaded, moved("Config.load()")
    assert issubclass(config.http_protocol_class, HttpToolsProtocol), \
        moved("Config.http_protocol_class (a protocol class given as http= is no longer used as is)")
    assert config.ssl is None, moved("Config.ssl (None without TLS; handed to each Acceptor)")
    assert config.timeout_keep_alive == 2.5, moved("Config.timeout_keep_alive")


def test_a_served_request_goes_through_our_acceptor_protocol_and_joined_writes(node: Node) -> None:
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    port = port_of(start(node))
    service = node.services.get("REST")
    assert isinstance(service, RestService)
    server = service._server
    assert server is not None
    assert handlers == {sig: signal.getsignal(sig) for sig in handlers}, \
        moved("Server.capture_signals (it took the node's signal handlers from a thread that is not the main one)")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: AnyLog/1.23\r\ncommand: get status\r\n\r\n")
        status, _, body = read_response(sock)
        assert status == 200 and b"running" in body.lower()
        acceptors = list(server.servers)
        assert acceptors and all(isinstance(a, Acceptor) for a in acceptors), moved("Server.servers")
        protocols = list(server.server_state.connections)
        assert len(protocols) == 1, moved("Server.server_state.connections")
        protocol = protocols[0]
        assert type(protocol) is server.config.http_protocol_class, \
            moved("how a connection's protocol is made (Config.http_protocol_class)")
        cycle = getattr(protocol, "cycle", None)
        assert cycle is not None and hasattr(cycle, "response_started"), \
            moved("HttpToolsProtocol.cycle or its response_started (the head is no longer joined to the body)")
        assert isinstance(getattr(cycle, "transport", None), _JoinedWrites), \
            moved("RequestResponseCycle.transport (the head and body of a reply leave in two writes again)")
        assert node.execute("exit rest").to_text() == "REST stopped"
    assert all(a._closed for a in acceptors), \
        moved("Server.shutdown (it no longer closes what Server.servers holds)", "anynode/rest/accept.py")

