"""The console socket is its owner's only: modes 0700/0600, and another uid is refused even when they are loosened.

The tests run as root; the other user is ``nobody``: a forked child drops to
its uid (os.setuid) before it touches the socket.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from anynode.console import client
from anynode.errors import AnyNodeError
from tests.console_helpers import cli, held_home

NOBODY = 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")



def as_nobody(probe: Callable[[], str]) -> str:
    """Run ``probe`` in a forked child that dropped to uid/gid nobody; what it returned."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            text = probe()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            text = f"probe raised {type(exc).__name__}: {exc}"
        os.write(write, text.encode())
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


def raw_probe(path: Path) -> Callable[[], str]:
    """Connect to the socket, ask for the node's status, say what came back."""

    def probe() -> str:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(str(path))
        except OSError as exc:
            return f"connect failed: {type(exc).__name__}"
        s.sendall(b'{"op": "run", "line": "get status", "source": "cli"}\n')
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return "answer: " + data.decode().strip()

    return probe


@pytest.fixture(scope="module")
def open_parent() -> Iterator[Path]:
    """A directory every user may traverse (pytest's tmp directories are root's only)."""
    path = Path(tempfile.mkdtemp(prefix="anynode-console-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_console_is_owner_only_and_refuses_another_uid_even_with_loosened_modes(open_parent: Path) -> None:
    home = open_parent / "home"
    home.mkdir(mode=0o755)
    with held_home(open_parent, name="guarded", home=home):
        sock = home / "run" / "console.sock"
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        assert stat.S_ISSOCK(sock.stat().st_mode)

        assert as_nobody(raw_probe(sock)) == "connect failed: PermissionError"

        sock.parent.chmod(0o777)  # an administrator loosens the modes: the uid check still holds
        sock.chmod(0o666)
        answer = as_nobody(raw_probe(sock))
        assert answer.startswith("answer:") and '"refused"' in answer and "uid 0" in answer, answer
        assert "guarded@" not in answer

        log = (home / "logs" / "root.log").read_text()
        assert f"console: refused a connection from uid {NOBODY}" in log
        assert cli(home, "-e", "get status").stdout.startswith("guarded@")  # its owner still gets in


def test_another_user_attaching_is_told_the_console_is_not_theirs(open_parent: Path) -> None:
    home = open_parent / "home2"
    home.mkdir(mode=0o755)
    with held_home(open_parent, name="guarded2", home=home):

        def attach() -> str:
            try:
                client.connect(home)
            except AnyNodeError as exc:
                return f"{type(exc).__name__}: {exc.one_line()}"
            return "attached"

        said = as_nobody(attach)
        assert said.startswith("NotPermitted: the console of the node on"), said
        assert "belongs to another user" in said
        (home / "run").chmod(0o777)
        (home / "run" / "console.sock").chmod(0o666)
        said = as_nobody(attach)
        assert said.startswith("NotPermitted: the node refused the console connection"), said
