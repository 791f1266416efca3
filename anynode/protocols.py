"""The node as commands and services see it: typed protocols, so a type checker follows every use.

:class:`anynode.node.Node` is the one implementation; the grammar (``Context.node``),
the services and the commands name these protocols instead, because the node
module imports them (a command cannot import the node that runs it without
closing a circle) and because most of them need only part of it:
:class:`Variables` for the language, :class:`NodeView` for everything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from anynode.cancel import Cancel
from anynode.grammar.session import Session, Source
from anynode.results import Result
from anynode.secret import Secrets

if TYPE_CHECKING:  # only for the annotations: none of these is needed to run a command
    from anynode.grammar.registry import Registry
    from anynode.logs import NodeLogs
    from anynode.net.auth import Authenticator
    from anynode.net.client import NetClient
    from anynode.services.manager import ServiceManager
    from anynode.settings import Settings
    from anynode.store.catalog import DatabaseCatalog

T = TypeVar("T")


class Variables(Protocol):
    """A node's variables (AnyLog's dictionary): what ``!name`` reads and ``name = value`` sets."""

    def get_var(self, name: str) -> str | None:
        """The value of ``name``, or None when it is not set."""

    def set_var(self, name: str, value: str) -> None:
        """Set ``name``."""

    def del_var(self, name: str) -> None:
        """Remove ``name`` (no error when it is not set)."""

    def variables(self) -> dict[str, str]:
        """A copy of every variable."""


class NodeView(Variables, Protocol):
    """What commands and services use of a node: its parts, its settings and running commands."""

    home: Path
    settings: Settings
    secrets: Secrets
    registry: Registry
    services: ServiceManager
    logs: NodeLogs
    log: logging.Logger
    session: Session
    emit: Callable[[Result], None]
    exit_event: threading.Event
    network_key: str
    started: float
    debug: bool
    log_tracebacks: bool
    fmt: str

    @property
    def name(self) -> str:
        """The node name."""

    @property
    def catalog(self) -> DatabaseCatalog:
        """The node's connected databases."""

    def execute(self, line: str, source: Source = Source.CLI, frame: Session | None = None,
                peer: str | None = None, cancel: Cancel | None = None, fmt: str | None = None) -> Result:
        """Run one command line as ``source``; raises AnyNodeError for the caller to render."""

    def redact(self, line: str) -> str:
        """``line`` with secrets masked, as it may be written down."""

    def part(self, key: str, make: Callable[[], T]) -> T:
        """The object a capability keeps for this node under ``key``."""

    def client(self) -> NetClient:
        """The node's client to its peers."""

    def authenticator(self) -> Authenticator | None:
        """The frame signer for the network key, or None."""

    def set_network_key(self, key: str) -> None:
        """Sign every frame with ``key`` from now on."""

    def user_services(self) -> list[str]:
        """Running services, less the node's own housekeeping."""

    def on_exit(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` when the node is asked to exit."""

    def request_exit(self) -> None:
        """Ask the process that owns this node to stop."""
