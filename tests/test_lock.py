"""HomeLock with a real second process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from anynode.errors import NodeLocked
from anynode.lock import HomeLock

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parent.parent

HOLDER = """
import sys, time
from anynode.lock import HomeLock
lock = HomeLock(sys.argv[1]).acquire()
print("locked", flush=True)
sys.stdin.readline()  # hold until told (or killed)
lock.release()
print("released", flush=True)
"""


def start_holder(home: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(home)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_process_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    holder = start_holder(tmp_path)
    try:
        with pytest.raises(NodeLocked) as info:
            HomeLock(tmp_path).acquire()
        assert info.value.message == f"node home {tmp_path} is in use by process {holder.pid}"
        assert info.value.hint == "stop that node or use another --home"
        assert info.value.exit_code == 75
        assert (tmp_path / "anynode.pid").read_text().strip() == str(holder.pid)
    finally:
        holder.kill()
        holder.wait(10)


def test_lock_is_free_after_the_holder_releases(tmp_path: Path) -> None:
    holder = start_holder(tmp_path)
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.write("\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "released"
    holder.wait(10)
    with HomeLock(tmp_path) as lock:
        assert lock.held
        assert (tmp_path / "anynode.pid").read_text().strip() == str(os.getpid())
    assert (tmp_path / "anynode.pid").read_text() == ""


def test_lock_is_free_after_the_holder_is_killed(tmp_path: Path) -> None:
    holder = start_holder(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    assert (tmp_path / "anynode.pid").read_text().strip() == str(holder.pid)  # stale file left behind
    lock = HomeLock(tmp_path).acquire()  # ... yet the OS released the lock
    try:
        assert (tmp_path / "anynode.pid").read_text().strip() == str(os.getpid())
    finally:
        lock.release()


def test_same_process_second_lock_is_refused_too(tmp_path: Path) -> None:
    with HomeLock(tmp_path), pytest.raises(NodeLocked, match=f"in use by process {os.getpid()}"):
        HomeLock(tmp_path).acquire()
    HomeLock(tmp_path).acquire().release()
