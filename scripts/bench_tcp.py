#!/usr/bin/env python3
"""Round trips per second of a small command frame, against the raw limit.

Each server runs in its own process (as a peer node would), the callers in
this one. Measured, each for a few seconds:

  raw        plain blocking sockets, 4-byte length + bytes, thread per
             connection, echo: the simplest possible ping-pong (the limit)
  bare       anynode frames on a toy threaded server (thread per connection,
             handler inline, no timeouts, limits or counters): what the
             guarantees of FrameServer cost
  server     FrameServer, what `run tcp server` uses (thread per connection,
             handler inline under the `threads` bound, read/idle timeouts)

The callers are NetClient (pooled connections) for the frame servers and a
matching raw client for the raw server; sequential and 8 concurrent callers.
Then each frame server holds idle keep-alive connections, to show what they
cost in threads and memory.

History: FrameServer was an asyncio server (uvloop, handler on a worker pool)
until 2026-11-30, when this benchmark measured it at 0.35 of raw sequentially
and 0.30 with 8 callers (0.28 and 0.21 on asyncio's own loop), against 0.89
and 0.49 for the toy threaded server; it was replaced by the threaded design
and the asyncio variant removed.

    python scripts/bench_tcp.py [--seconds 2] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from anynode.net.client import NetClient
from anynode.net.protocol import FrameCodec
from anynode.net.server import FrameServer

LEN = struct.Struct("!I")
LABELS = {"raw": "raw server", "bare": "bare threaded server", "server": "FrameServer"}
COMMAND = "get status where format = json"


def echo(header: dict[str, Any], payload: bytes) -> tuple[dict[str, Any], bytes]:
    """The benchmark handler: answer with the command text."""
    return {"result": {"type": "message", "text": header.get("command", "")}}, payload


# -- servers (each runs in a child process) -----------------------------------

def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def _raw_conn(sock: socket.socket) -> None:
    with sock:
        try:
            while True:
                (n,) = LEN.unpack(_recv_exact(sock, 4))
                sock.sendall(LEN.pack(n) + _recv_exact(sock, n))
        except (ConnectionError, OSError):
            return


def _frames_conn(sock: socket.socket) -> None:
    codec = FrameCodec()
    with sock:
        try:
            while True:
                frame = codec.read(sock)
                if frame is None:
                    return
                header, payload = echo(frame.header, frame.payload)
                codec.write(sock, dict(header, kind="reply", id=frame.id, ok=True), payload)
        except (ConnectionError, OSError):
            return


def _threaded_server(conn_handler: Callable[[socket.socket], None], port_out: Any) -> None:
    lsock = socket.create_server(("127.0.0.1", 0), backlog=64)
    port_out.send(lsock.getsockname()[1])
    while True:
        sock, _ = lsock.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=conn_handler, args=(sock,), daemon=True).start()


def serve(kind: str, port_out: Any) -> None:
    """Child process entry: run one kind of server until terminated."""
    if kind == "raw":
        _threaded_server(_raw_conn, port_out)
    elif kind == "bare":
        _threaded_server(_frames_conn, port_out)
    else:
        server = FrameServer(echo, "127.0.0.1", 0, threads=4)
        server.serve(threading.Event(), lambda: port_out.send(server.port))


# -- callers --------------------------------------------------------------------

def raw_caller(port: int) -> Callable[[], Callable[[], None]]:
    """A factory of raw ping-pong callers, one connection each."""
    def make() -> Callable[[], None]:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        msg = COMMAND.encode()
        frame = LEN.pack(len(msg)) + msg

        def call() -> None:
            sock.sendall(frame)
            (n,) = LEN.unpack(_recv_exact(sock, 4))
            _recv_exact(sock, n)
        return call
    return make


def client_caller(client: NetClient, port: int) -> Callable[[], Callable[[], None]]:
    """A factory of NetClient callers sharing one pooled client."""
    dest = f"127.0.0.1:{port}"

    def make() -> Callable[[], None]:
        return lambda: client.send_command(dest, COMMAND, timeout=5)
    return make


def measure(make: Callable[[], Callable[[], None]], callers: int, seconds: float) -> float:
    """Round trips per second with ``callers`` threads for ``seconds``."""
    counts = [0] * callers
    start, stop = threading.Barrier(callers + 1), threading.Event()

    def run(i: int) -> None:
        call = make()
        call()  # connect and warm up
        start.wait()
        n = 0
        while not stop.is_set():
            call()
            n += 1
        counts[i] = n

    threads = [threading.Thread(target=run, args=(i,)) for i in range(callers)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - began)


def start_server(kind: str) -> tuple[Any, int]:
    """Start one kind of server in its own process; return (process, port)."""
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=serve, args=(kind, theirs), daemon=True)
    proc.start()
    if not ours.poll(10):
        proc.terminate()
        raise RuntimeError(f"{kind} server did not start")
    return proc, ours.recv()


def bench(kind: str, port: int, callers: int, seconds: float) -> float:
    """One measurement of ``kind`` with ``callers`` concurrent callers."""
    if kind == "raw":
        return measure(raw_caller(port), callers, seconds)
    with NetClient(max_idle_per_peer=callers) as client:
        return measure(client_caller(client, port), callers, seconds)


def proc_status(pid: int) -> tuple[int, int]:
    """(threads, resident kB) of a process, from /proc."""
    fields = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            fields[key] = value.split()[0] if value.split() else "0"
    return int(fields["Threads"]), int(fields["VmRSS"])


def hold_idle(port: int, count: int) -> list[socket.socket]:
    """Open ``count`` keep-alive connections that each made one request."""
    codec = FrameCodec()
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        codec.write(sock, {"kind": "command", "id": 1, "command": COMMAND})
        codec.read(sock, time.monotonic() + 5)
        socks.append(sock)
    return socks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best is kept")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--idle", type=int, default=300, help="idle keep-alive connections held")
    args = parser.parse_args()
    kinds = ["raw", "bare", "server"]
    servers = {kind: start_server(kind) for kind in kinds}
    results: dict[tuple[str, int], float] = {}
    try:
        for _ in range(args.rounds):  # interleaved, so load from elsewhere hits every variant alike
            for callers in (1, args.concurrency):
                for kind in kinds:
                    rate = bench(kind, servers[kind][1], callers, args.seconds)
                    results[kind, callers] = max(rate, results.get((kind, callers), 0.0))
        held = {}
        for kind in ("bare", "server"):  # what idle keep-alive peers cost each design
            proc, port = servers[kind]
            before = proc_status(proc.pid)
            socks = hold_idle(port, args.idle)
            time.sleep(0.3)  # let the server settle before sampling /proc
            after = proc_status(proc.pid)
            rate = bench(kind, port, 1, args.seconds)
            held[kind] = (before, after, rate)
            for sock in socks:
                sock.close()
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.join(5)
    print(f"round trips/s, {len(COMMAND)}-byte command, 127.0.0.1, {os.cpu_count()} CPUs, best of "
          f"{args.rounds} x {args.seconds:g} s; each server in its own process")
    print(f"{'server':<10} {'sequential':>12} {'vs raw':>7} {f'{args.concurrency} callers':>12} {'vs raw':>7}")
    for kind in kinds:
        seq, par = results[kind, 1], results[kind, args.concurrency]
        print(f"{kind:<10} {seq:>12,.0f} {seq / results['raw', 1]:>7.2f} "
              f"{par:>12,.0f} {par / results['raw', args.concurrency]:>7.2f}")
    for callers in (1, args.concurrency):
        ours, bare = results["server", callers], results["bare", callers]
        print(f"{callers} caller(s): FrameServer = {ours / bare:.2f}x the bare threaded server")
    for kind, (before, after, rate) in held.items():
        print(f"{LABELS[kind]} holding {args.idle} idle keep-alive connections: threads {before[0]} -> "
              f"{after[0]}, RSS {before[1] / 1024:.0f} -> {after[1] / 1024:.0f} MiB; "
              f"one caller meanwhile: {rate:,.0f} rt/s")


if __name__ == "__main__":
    main()
