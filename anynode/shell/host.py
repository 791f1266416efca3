"""The node on its host: ``set anylog home``, ``set internal ip with``, ``set cli``, ``get msg client``, ``thread``."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from anynode.cancel import Cancel
from anynode.errors import AnyNodeError, CommandSyntaxError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.types import TEXT, Choice, FilePath, Int
from anynode.node import WORK_DIRS, local_ip
from anynode.protocols import NodeView
from anynode.results import Message, Result
from anynode.services.base import RestartPolicy, Service

CONFIG = ("configuration", "node info")
# The node's own files stay in its home whatever `set anylog home` says (the log is open, the lock is held).
_OWN = ("log_dir",)
_SIOCGIFADDR = 0x8915  # Linux ioctl: the IPv4 address of an interface


@command("set anylog home", args=[Arg("path", FilePath(), help="an existing, writable directory")], http="POST",
         keywords=CONFIG, examples=["set anylog home /app", "set anylog home !anylog_path"])
def set_anylog_home(ctx: Context, path: str) -> Result:
    """Put the node's work directories under another root (AnyLog's home for its directories).

    The directory variables (`!watch_dir`, `!dbms_dir`, `!blockchain_file`,
    `!local_scripts` ...) move under PATH with anynode's layout (data/watch,
    data/dbms, blockchain/blockchain.json, scripts ...), and `!anylog_home`
    becomes PATH; `create work directories` then makes them there. The node's
    own files (settings, logs, the console socket) stay in its home
    (`!anynode_home`, the --home option), and databases connected before
    keep their place.
    """
    root = Path(os.path.expanduser(path)).resolve()
    if not root.is_dir():
        raise CommandSyntaxError(f"no directory '{path}' to use as the AnyLog home",
                                 hint="create it first, or give an existing directory")
    if not os.access(root, os.W_OK | os.X_OK):
        raise AnyNodeError(f"the directory '{root}' is not writable by this node",
                           hint="give a directory the node's user may write to")
    node = ctx.node
    for key, rel in WORK_DIRS.items():
        if key not in _OWN:
            node.set_var(key, str(root / rel))
    node.set_var("error_dir", str(root / WORK_DIRS["err_dir"]))
    node.set_var("blockchain_file", str(root / WORK_DIRS["blockchain_dir"] / "blockchain.json"))
    node.set_var("anylog_home", str(root))
    return Message(f"work directories are now under {root} (run 'create work directories' to make them)")


def _interfaces() -> list[str]:
    return sorted(name for _, name in socket.if_nameindex())


def _nic_ip(name: str) -> str:
    """The IPv4 address of the network interface ``name``."""
    import fcntl
    import struct

    if name not in _interfaces():
        raise CommandSyntaxError(f"no network interface '{name}' on this machine",
                                 hint=f"use one of {', '.join(_interfaces())}, or 'default'")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:
            raise AnyNodeError(f"the network interface '{name}' has no IPv4 address",
                               hint="choose an interface that is up with an address, or 'default'") from None
    return socket.inet_ntoa(packed[20:24])


@command("set internal ip with", args=[Arg("nic", TEXT, help="a network interface name (eth0, enp0s3 ...) or default")],
         http="POST", keywords=("configuration", "network"),
         examples=["set internal ip with eth0", "set internal ip with default"])
def set_internal_ip_with(ctx: Context, nic: str) -> Result:
    """Set `!ip`, the address the node reports and binds by default, to that of a network interface.

    `default` puts back the address of the machine's default route. Servers
    already running keep their address; start them after this command.
    """
    name = nic.strip().strip("\"'")
    if not name:
        raise CommandSyntaxError("'set internal ip with' needs an interface name",
                                 hint=f"use one of {', '.join(_interfaces())}, or 'default'")
    ip = local_ip() if name.lower() == "default" else _nic_ip(name)
    ctx.node.set_var("ip", ip)
    return Message(f"ip set to {ip}" + ("" if name.lower() == "default" else f" (interface {name})"))


@command("set cli", args=[Arg("mode", Choice("on", "off"))], http="POST", keywords=CONFIG,
         examples=["set cli off"])
def set_cli(ctx: Context, mode: str) -> Result:
    """Accepted for AnyLog scripts; anynode needs no switch to run without a terminal.

    AnyLog stops reading its terminal with `set cli off`. A node started
    with `anynode process FILE` never reads one and stays up while its
    services run (until `exit node` or SIGTERM); `anynode` at a terminal is
    the prompt. So this changes nothing.
    """
    return Message(f"cli {mode}: nothing to change ('anynode process' reads no terminal; 'anynode' is the prompt)")


@command("get msg client", options=[Opt("id", Int(min=1), help="one subscription"),
                                    Opt("broker", TEXT, help="subscriptions to this broker"),
                                    Opt("topic", TEXT, help="subscriptions to this topic")],
         remote=True, blocking=False, keywords=("background processes",),
         examples=["get msg client", "get msg client where id = 1"])
def get_msg_client(ctx: Context, id: int | None, broker: str | None, topic: str | None) -> Result:
    """List the message-broker subscriptions (`run msg client`): anynode has none, so the list is empty."""
    return Message("No message client subscriptions")


class ScriptThread(Service):
    """A script run by `thread FILE`: once, on its own thread, until it ends or the node stops."""

    restart_policy = RestartPolicy(restart=False)

    def __init__(self, node: NodeView, path: str, name: str) -> None:
        self.node = node
        self.path = path
        self.name = name
        self.cancel = Cancel()
        self.outcome = "running"

    def run(self, stop: threading.Event, ready: Callable[[], None]) -> None:
        """Run the script; a failing line ends it and is logged (AnyLog prints it)."""
        from anynode.script import run_script

        ready()
        try:
            run_script(self.node, self.path, cancel=self.cancel)
            self.outcome = "ended"
        except AnyNodeError as exc:
            if stop.is_set():  # the node stops: the script was cancelled before its next line
                self.outcome = "stopped"
                return
            self.outcome = f"failed: {exc.one_line()}"
            self.node.log.warning("thread %s %s", self.path, self.outcome)

    def wake(self) -> None:
        """Stop the script before its next line (and any query it waits on)."""
        self.cancel.cancel("the node stops")

    def details(self) -> str:
        """The script and how it is doing."""
        return f"{self.path}: {self.outcome}"


class _Threads:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0


@command("thread", args=[Arg("file", FilePath(), help="the script file")], keywords=("script",),
         examples=["thread !local_scripts/monitor.al", "thread scripts/load_data.al"])
def thread(ctx: Context, file: str) -> Result:
    """Run a script on a thread of its own and return at once; `process` runs it in place.

    `get processes` lists it as `Script N (file)` while it runs; a line
    that fails ends it (with `on error` rules as in any script) and is
    written to the error log. Stopping the node stops it before its next line.
    """
    if not Path(file).is_file():
        raise CommandSyntaxError(f"no script '{file}' to run", hint="give the path of a script file on this node")
    counter = ctx.node.part("script threads", _Threads)
    with counter.lock:
        counter.count += 1
        name = f"Script {counter.count} ({Path(file).name})"
    ctx.node.services.start(ScriptThread(ctx.node, file, name))
    return Message(f"{name} started")
