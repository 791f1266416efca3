"""The Node: the only application state.

One Node is one anynode node: its home directory, its name, its variables
(AnyLog's "dictionary"), its command registry, its services and its logs.
Everything a handler touches hangs off the Node, so two nodes can live in
one process (the network tests start several).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from anynode import __version__
from anynode.cancel import Cancel
from anynode.errors import AnyNodeError
from anynode.grammar.dispatch import Context, ControlFlow, Session, Source, execute
from anynode.grammar.registry import Registry
from anynode.results import Result
from anynode.secret import Secrets
from anynode.settings import Settings

if TYPE_CHECKING:  # made on first use (below), typed here
    from anynode.net.auth import Authenticator
    from anynode.net.client import NetClient
    from anynode.store.catalog import DatabaseCatalog

DEFAULT_HOME = "~/.anynode"
NODE_OWN_SERVICES = ("Housekeeping", "Console")
"""Services a node process runs for itself: they neither keep ``anynode process`` up nor show in the toolbar."""

# Commands from these sources are logged at DEBUG: a busy REST client must not flood root.log.
_QUIET_SOURCES = (Source.REST, Source.REMOTE, Source.SCHEDULER)
T = TypeVar("T")

# AnyLog's directory variables and where they live under the node home.
WORK_DIRS = {
    "watch_dir": "data/watch", "bkup_dir": "data/bkup", "err_dir": "data/error",
    "archive_dir": "data/archive", "dbms_dir": "data/dbms", "prep_dir": "data/prep",
    "distr_dir": "data/distr", "tmp_dir": "data/tmp", "blobs_dir": "data/blobs",
    "test_dir": "data/test", "pem_dir": "pem", "blockchain_dir": "blockchain",
    "local_scripts": "scripts", "log_dir": "logs",
}


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The node home: ``home`` if given, else ``$ANYNODE_HOME``, else ``~/.anynode``."""
    chosen = home or os.environ.get("ANYNODE_HOME") or DEFAULT_HOME
    return Path(os.path.expanduser(str(chosen))).resolve()


def local_ip() -> str:
    """This machine's address on its default route, or 127.0.0.1 (no traffic is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"


class Node:
    """One node: state shared by the prompt, scripts, services and peers.

    Args:
        home: the node home directory (created if missing).
        name: the node name; defaults to the ``node_name`` variable or "anynode".
        lock: hold the home's lock, so a second node process on it fails at once.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None, name: str | None = None,
                 lock: bool = False) -> None:
        from anynode.lock import HomeLock
        from anynode.logs import NodeLogs
        from anynode.services.manager import ServiceManager

        self.home = resolve_home(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.settings = Settings.load(self.home)
        self.secrets = Secrets()
        self.secrets.add_environment(os.environ)
        self._remember_secret_settings(self.settings)
        self._lock = HomeLock(self.home).acquire() if lock else None
        self.registry = Registry.default()
        self.started = time.time()
        self.debug = False
        self.log_tracebacks = False  # `set exception traceback on`: failed commands' tracebacks go into root.log
        self.fmt = "table"
        self.exit_event = threading.Event()
        self._exit_listeners: list[Callable[[], None]] = []
        self._vars: dict[str, str] = {}
        self._vars_lock = threading.RLock()
        self.session = Session()
        self.emit: Callable[[Result], None] = lambda result: None
        self._seed_dictionary()
        self.set_var("node_name", name or self.settings["node_name"])
        self.logs = NodeLogs.from_settings(self.home, self.settings, secrets=self.secrets)
        self.log = self.logs.logger
        self.services = ServiceManager(logger=self.log.getChild("services"))
        self.network_key: str = self.settings["network_key"]
        self._client: NetClient | None = None
        self._client_lock = threading.Lock()
        self._catalog: DatabaseCatalog | None = None
        self._parts: dict[str, Any] = {}
        self._parts_lock = threading.Lock()

    # -- the dictionary -------------------------------------------------
    def _seed_dictionary(self) -> None:
        home = str(self.home)
        ip = local_ip()  # AnyLog asks an internet service for external_ip; anynode sends nothing out and uses ip
        seed = {"anynode_home": home, "anylog_home": home,
                "hostname": socket.gethostname(), "ip": ip, "external_ip": ip, "version": __version__,
                "blockchain_file": str(self.home / "blockchain" / "blockchain.json")}
        for key, rel in WORK_DIRS.items():
            seed[key] = str(self.home / rel)
        seed["error_dir"] = seed["err_dir"]
        self._vars.update(seed)

    def get_var(self, name: str) -> str | None:
        """A node variable, or None when it is not set.

        No lock: one dict read is atomic, and commands read variables on every
        request (the lock serializes the writers and the copy).
        """
        return self._vars.get(name)

    def set_var(self, name: str, value: str) -> None:
        """Set a node variable (the value of a secret variable is masked while it holds it)."""
        with self._vars_lock:
            self._vars[name] = value
            self.secrets.hold(name, value)

    def del_var(self, name: str) -> None:
        """Remove a node variable (no error when it is not set)."""
        with self._vars_lock:
            self._vars.pop(name, None)
            self.secrets.forget(name)

    def variables(self) -> dict[str, str]:
        """A copy of every node variable."""
        with self._vars_lock:
            return dict(self._vars)

    @property
    def name(self) -> str:
        """The node name (``set node name``)."""
        return self.get_var("node_name") or "anynode"

    # -- running commands -----------------------------------------------
    def context(self, source: Source = Source.CLI, frame: Session | None = None, peer: str | None = None,
                cancel: Cancel | None = None, fmt: str | None = None) -> Context:
        """A context for running commands from ``source``.

        Local commands answer in the node's output format (``--format json``
        makes commands with a ``format`` option answer in JSON unless the line
        chose otherwise); peers choose their own (``fmt``: json for REST's
        plain JSON endpoint). ``fmt`` overrides the node's format for one
        local command (a console client's ``--format``).
        """
        if source.external:
            return Context(self, source, frame or Session(), peer, fmt or "table", cancel=cancel)
        return Context(self, source, frame or self.session, peer, fmt or self.fmt, cancel=cancel)

    def execute(self, line: str, source: Source = Source.CLI, frame: Session | None = None,
                peer: str | None = None, cancel: Cancel | None = None, fmt: str | None = None) -> Result:
        """Run one command line and record it in the event or error log; ``cancel`` stops its queries.

        A peer's or REST client's reply (result or error) has every known
        secret value masked; the log lines are masked by name and value.

        Raises:
            AnyNodeError: the command failed; the caller renders it.
        """
        level = logging.DEBUG if source in _QUIET_SOURCES else logging.INFO
        try:
            result = execute(self.context(source, frame, peer, cancel, fmt), line)
        except ControlFlow:
            if self.log.isEnabledFor(level):
                self.log.log(level, "(ok) %s", self.registry.redact(line))
            raise
        except AnyNodeError as exc:
            self.log.warning("(Failed: %s) %s", exc.one_line(), self.registry.redact(line),
                             exc_info=exc if self.log_tracebacks else None)
            if source.external and self.secrets:
                self.secrets.mask_error(exc, keep=line)
            raise
        except Exception:
            self.log.exception("(Failed: internal error) %s", self.registry.redact(line))
            raise
        if self.log.isEnabledFor(level):
            self.log.log(level, "(ok) %s", self.registry.redact(line))
        if source.external and self.secrets:
            return self.secrets.mask_result(result, keep=line)
        return result

    def redact(self, line: str) -> str:
        """``line`` as it may be written down (logs, history): secrets masked by name and by value."""
        return self.secrets.mask(self.registry.redact(line))

    # -- databases -------------------------------------------------------
    @property
    def catalog(self) -> DatabaseCatalog:
        """The node's connected databases (a DatabaseCatalog under ``!dbms_dir``), made on first use."""
        with self._client_lock:
            if self._catalog is None:
                from anynode.store.catalog import DatabaseCatalog

                self._catalog = DatabaseCatalog(self.get_var("dbms_dir") or self.home / "data" / "dbms")
            return self._catalog

    # -- capabilities' own state ----------------------------------------
    def part(self, key: str, make: Callable[[], T]) -> T:
        """The object a capability keeps for this node under ``key``, made by ``make`` on first use.

        A capability package (the scheduler's task table ...) keeps its
        per-node state here: no global, and the Node never imports it.
        """
        with self._parts_lock:
            if key not in self._parts:
                self._parts[key] = make()
            return self._parts[key]

    # -- the network -----------------------------------------------------
    def authenticator(self) -> Authenticator | None:
        """The frame signer for the network key, or None when no key is set."""
        from anynode.net import make_authenticator

        return make_authenticator(self.network_key or None)

    def set_network_key(self, key: str) -> None:
        """Use ``key`` for every frame from now on (client and TCP server); ``get settings`` says it is set."""
        self.secrets.add(key)
        self.settings = self.settings.with_value("network_key", key, "set network key")
        self.network_key = key
        auth = self.authenticator()
        with self._client_lock:
            if self._client is not None:
                self._client.codec.auth = auth
        tcp = self.services.get("TCP")
        if tcp is not None and hasattr(tcp, "set_auth"):
            tcp.set_auth(auth)

    def client(self) -> NetClient:
        """The node's NetClient (pooled connections to peers), made on first use."""
        with self._client_lock:
            if self._client is None:
                from anynode.net import NetClient

                ctx = None
                if self.settings["tls_ca_file"]:
                    from anynode.net.tls import client_ssl_context

                    ctx = client_ssl_context(self.settings["tls_ca_file"])
                self._client = NetClient(auth=self.authenticator(), ssl_context=ctx,
                                         timeout=float(self.settings["remote_timeout"]))
            return self._client

    # -- lifecycle -------------------------------------------------------
    def on_exit(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from any thread) when the node is asked to exit."""
        self._exit_listeners.append(listener)

    def request_exit(self) -> None:
        """Ask the process that owns this node to stop (``exit node``, SIGTERM); its exit listeners run."""
        self.exit_event.set()
        for listener in list(self._exit_listeners):
            listener()

    def apply_settings(self, new: Settings) -> None:
        """Install settings that validated (a SIGHUP reload)."""
        self._remember_secret_settings(new)
        self.settings = new

    def _remember_secret_settings(self, settings: Settings) -> None:
        for value in settings.secret_values():
            self.secrets.add(value)

    def user_services(self) -> list[str]:
        """Running services, less the node's own housekeeping."""
        return [n for n in self.services.running() if n not in NODE_OWN_SERVICES]

    def start_housekeeping(self) -> None:
        """Start the node's own periodic jobs for a long-running node.

        That is the system scheduler (``run scheduler 0``: integrity check,
        staging cleaner, stats log, retention) when the command is declared,
        else the stats log alone.
        """
        if self.registry.get("run scheduler") is not None:
            self.execute("run scheduler 0", Source.SCHEDULER)
            return
        from anynode.logs import service_stats
        from anynode.services.periodic import PeriodicService

        task = self.logs.stats_task(service_stats(self.services), float(self.settings["stats_interval"]))
        self.services.start(PeriodicService("Housekeeping", [task]))

    def close(self) -> list[str]:
        """Stop every service still running in reverse start order, then close logs and the home lock.

        The stop is ``ServiceManager.shutdown``, the node's one stop (a service
        an earlier shutdown left busy is not waited for twice). Returns the
        names of the services that were stopped.
        """
        stopped, _ = self.services.shutdown(float(self.settings["shutdown_timeout"]))
        if stopped:
            self.log.info("stopped: %s", ", ".join(stopped))
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            catalog, self._catalog = self._catalog, None
        if catalog is not None:
            catalog.close()
        self.logs.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        return stopped
