"""Helpers shared by the tests (no tests here): waiting, counting rows, the operator's folders, ports.

Test modules import helpers from here (or from the *_helpers modules of one
area), never from another test module. A wait that fails says what it waited
for and the last error the check raised, so a real error never shows as a
bare time-out.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from anynode.script import parse_script

INGEST_WAIT = 30.0
"""Seconds to wait for rows the operator ingests (generous: the test machines are small and shared)."""


def wait_until(check: Callable[[], Any], timeout: float = 10.0, what: str = "the condition") -> Any:
    """Poll ``check`` until it returns something true, and return that.

    An exception from ``check`` counts as "not yet" (a table not created yet),
    but when time runs out the failure names the last one.
    """
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            value = check()
        except Exception as exc:  # noqa: BLE001 - kept and reported if the wait fails
            last = exc
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            message = f"timed out after {timeout:g} s waiting for {what}"
            if last is not None:
                raise AssertionError(f"{message}; the check last failed with {type(last).__name__}: {last}") from last
            raise AssertionError(message)
        time.sleep(0.02)


def count_rows(node: Any, dbms: str, table: str, missing: int = -1) -> int:
    """Rows in ``dbms.table`` through the ``sql`` command; ``missing`` when the table does not exist (yet).

    Any other failure (the database not connected, a query error) is raised.
    """
    if table.lower() not in node.catalog.tables(dbms):
        return missing
    return int(node.execute(f'sql {dbms} "select count(*) from {table}"').rows[0][0])


def wait_for_rows(node: Any, dbms: str, table: str, rows: int, timeout: float = INGEST_WAIT) -> None:
    """Wait until ``dbms.table`` holds exactly ``rows`` rows; the failure says how many it held."""
    seen: list[int] = []

    def check() -> bool:
        seen.append(count_rows(node, dbms, table))
        return seen[-1] == rows

    try:
        wait_until(check, timeout, f"{rows} rows in {dbms}.{table}")
    except AssertionError as exc:
        if not seen:
            raise
        raise AssertionError(f"{exc} (it held {seen[-1]})") from exc.__cause__


def sqlite_rows(db: Path, table: str) -> int:
    """Rows of ``table`` in an SQLite file another process writes; 0 while the file or the table does not exist."""
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        if conn.execute("select 1 from sqlite_master where type = 'table' and name = ?", (table,)).fetchone() is None:
            return 0
        return int(conn.execute(f"select count(*) from {table}").fetchone()[0])


# -- the operator's folders ------------------------------------------------------
def watch(node: Any) -> Path:
    """The node's watch directory."""
    return Path(node.get_var("watch_dir") or "")


def errors(node: Any) -> list[str]:
    """The names in the node's error directory, sorted."""
    return sorted(os.listdir(node.get_var("err_dir") or ""))


def drop(directory: Path, name: str, data: bytes) -> None:
    """Publish a file the way writers should: write aside, then rename in."""
    tmp = directory / (name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, directory / name)


# -- the network -------------------------------------------------------------------
def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (nothing listens there)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dead_address() -> str:
    """``127.0.0.1:<port>`` where nothing listens (connection refused)."""
    return f"127.0.0.1:{free_port()}"


def start_tcp(node: Any, extra: str = "") -> str:
    """Start the node's TCP server on 127.0.0.1, a free port; its ``ip:port``."""
    msg = node.execute(f"run tcp server where internal_ip = 127.0.0.1 and internal_port = 0 and bind = true{extra}")
    port = re.search(r"127\.0\.0\.1:(\d+)", msg.to_text())
    assert port, msg.to_text()
    return f"127.0.0.1:{port.group(1)}"


def start_node_process(home: Path, script: Path, stderr: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    """``anynode process SCRIPT`` in a new process on ``home``; stdout is discarded, stderr goes to ``stderr``."""
    env = dict(os.environ, ANYNODE_HOME=str(home))
    return subprocess.Popen([sys.executable, "-m", "anynode", "process", str(script)], env=env,
                            stdout=subprocess.DEVNULL, stderr=stderr)


def logical(entry: dict[str, Any]) -> str:
    """A corpus entry's line as the script loader hands it to the node (tests/data/anylog_lines.py)."""
    if entry.get("script"):
        (line,) = parse_script(entry["line"]).lines
        return line.text
    return entry["line"]
