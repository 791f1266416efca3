#!/usr/bin/env python3
"""Can idle strangers lock a keyed peer out of `run tcp server`? (issue 16, item 12)

Two nodes with the same network key in this process, on 127.0.0.1:

  idle    open --idle sockets to the server that never send a byte, then time
          `run client (server) get node name` from the other node three
          times, then wait until the server has closed every idle socket
  churn   one thread opens connections as fast as it can (holding up to
          3,000) for --churn seconds while the peer runs `run client` 30 times

It prints the server's limits, the peer's reply times and the server's
counters. Before the pending pool, 1,100 idle sockets took all 1,024 places
and every peer was refused until the 60 s idle timeout.

    python scripts/probe_tcp_idle.py [--idle 1100] [--churn 5] [--options "and max_pending = 64"]
"""

from __future__ import annotations

import argparse
import re
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anynode.assembly  # noqa: F401,E402  (declares every command)
from anynode.node import Node  # noqa: E402

KEY = "probe-key"
COUNTERS = ("connections", "active_connections", "pending_connections", "refused_connections",
            "evicted_connections", "first_frame_timeouts")


def keyed_node(home: Path, name: str) -> Node:
    node = Node(home, name=name)
    node.execute(f"set network key {KEY}")
    return node


def ask(home: Path, port: int) -> tuple[str, float]:
    """One `run client` from a fresh node (a new connection); its reply or error, and the seconds it took."""
    asker = keyed_node(home, "asker")
    began = time.monotonic()
    try:
        text = asker.execute(f"run client (127.0.0.1:{port}, timeout = 5) get node name").to_text().splitlines()[-1]
    except Exception as exc:  # the probe reports any failure as a line
        text = f"ERROR {exc}"
    took = time.monotonic() - began
    asker.close()
    return text, took


def counters(server: Node) -> dict[str, int]:
    stats = server.execute("get stats where service = tcp and format = json").to_json()["TCP"]
    return {k: stats[k] for k in COUNTERS}


def idle(server: Node, port: int, tmp: Path, count: int) -> None:
    began = time.monotonic()
    socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    opened = time.monotonic()
    print(f"idle: {count} sockets open in {opened - began:.2f} s")
    for i in range(3):
        text, took = ask(tmp / f"idle{i}", port)
        print(f"idle: run client #{i + 1}: {text!r} in {took * 1000:.1f} ms")
    print(f"idle: {counters(server)}")
    for sock in socks:
        sock.setblocking(False)
    still = set(range(count))
    while still and time.monotonic() - opened < 90:
        for i in list(still):
            try:
                if not socks[i].recv(65536):
                    still.discard(i)
            except BlockingIOError:
                pass
            except OSError:
                still.discard(i)
        time.sleep(0.05)
    print(f"idle: the server closed {count - len(still)} of {count} sockets within "
          f"{time.monotonic() - opened:.1f} s of the last connect")
    for sock in socks:
        sock.close()


def churn(server: Node, port: int, tmp: Path, seconds: float) -> None:
    stop, opened = threading.Event(), [0]

    def flood() -> None:
        held: list[socket.socket] = []
        while not stop.is_set():
            try:
                held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
                opened[0] += 1
            except OSError:
                pass
            if len(held) > 3000:
                held.pop(0).close()
        for sock in held:
            sock.close()

    thread = threading.Thread(target=flood, name="probe-flood")
    thread.start()
    results = []
    deadline = time.monotonic() + seconds
    for i in range(30):
        results.append(ask(tmp / f"churn{i}", port))
        stop.wait(max(0.0, min(0.1, deadline - time.monotonic())))
    stop.set()
    thread.join()
    failed = [text for text, _ in results if text.startswith("ERROR")]
    print(f"churn: {opened[0]} stranger connections; run client: {len(results) - len(failed)} answered, "
          f"{len(failed)} failed, slowest {max(t for _, t in results) * 1000:.0f} ms")
    for text in failed[:3]:
        print(f"churn: {text}")
    print(f"churn: {counters(server)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=int, default=1100, help="idle sockets to open (0: skip)")
    parser.add_argument("--churn", type=float, default=5.0, help="seconds of reconnecting stranger (0: skip)")
    parser.add_argument("--options", default="", help="more of `run tcp server where ...`, e.g. 'and max_pending = 64'")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="probe-tcp-"))
    server = keyed_node(tmp / "server", "server")
    try:
        msg = server.execute("run tcp server where internal_ip = 127.0.0.1 and internal_port = 0 and bind = true "
                             + args.options).to_text()
        print(msg)
        port = int(re.search(r"127\.0\.0\.1:(\d+)", msg).group(1))  # type: ignore[union-attr]
        if args.idle:
            idle(server, port, tmp, args.idle)
        if args.churn:
            churn(server, port, tmp, args.churn)
    finally:
        server.close()


if __name__ == "__main__":
    main()
