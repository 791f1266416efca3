#!/usr/bin/env python3
"""REST throughput and latency of a command: anynode beside a bare uvicorn app.

    scripts/bench_rest.py [--duration 3] [--concurrency 1 8 64 256] [--runs 1] [--command 'get status']

Starts three servers as subprocesses on 127.0.0.1 ephemeral ports: anynode's
REST server (`run rest server`) as shipped, the same with the command
declared the other way (blocking: run in the worker pool, or not: run on the
event loop), and a minimal ASGI app on stock uvicorn (httptools, uvloop, its
own listening server) answering a fixed body of the same size. Each is
measured with wrk at each concurrency, with keep-alive and with a new
connection per request (a wrk Lua script sends `Connection: close`). Prints
requests/s, p50 and p99 for each and anynode's share of the bare app's
throughput. With --runs N the three take turns N times per cell and the best
of each figure over the runs is printed (highest req/s, lowest p50 and p99,
each on its own), with the spread of anynode's ratio over the runs (the
machine is shared: one run is noisy). Targets: >= 0.7 of the bare app, p99 < 10 ms at concurrency 8,
p99 within 2x of the bare app's at concurrency 256. The command is `get status`
unless --command says otherwise (the node has a SQLite database `demo`, so
`--command 'sql demo "select 1"'` works). wrk's p99 corrects for coordinated
omission: a few requests that wait long (e.g. connections accepted late)
weigh on it. The servers are stopped by PID at the end. Needs wrk (apt-get
install wrk).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AGENT = ["-H", "User-Agent: AnyLog/1.23"]
CLOSE_LUA = 'wrk.headers["Connection"] = "close"\n'


def _spec(registry, command: str):  # type: ignore[no-untyped-def]
    words = []
    for word in command.split():
        if not word[:1].isalpha() or word.lower() == "where":
            break
        words.append(word)
    found = registry.match(words)
    if found is None:
        raise SystemExit(f"no command matches {command!r}")
    return found[0]


def serve_anynode(flip: bool, command: str) -> None:
    """Child process: an anynode node with its REST server and a SQLite database `demo`; prints its port.

    ``flip`` declares the command the other way (in this process only), to
    measure what the declaration buys: non-blocking runs on the event loop,
    blocking takes the hop to the worker pool and back.
    """
    sys.path.insert(0, str(ROOT))
    import anynode.assembly  # noqa: F401  (declares every command)
    from anynode.node import Node

    node = Node(tempfile.mkdtemp(prefix="bench-rest-"))
    node.execute("connect dbms demo where type = sqlite")
    if flip:
        spec = _spec(node.registry, command)
        object.__setattr__(spec, "blocking", not spec.blocking)
    reply = node.execute("run rest server where ip = 127.0.0.1 and port = 0 and bind = true").to_text()
    print("PORT", reply.rsplit(":", 1)[1], flush=True)
    try:
        node.exit_event.wait()
    except KeyboardInterrupt:
        pass
    finally:
        node.close()


def serve_minimal(size: int) -> None:
    """Child process: the bare limit, a fixed body from the same uvicorn stack; prints its port."""
    import socket

    import uvicorn

    body = b"x" * size

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    print("PORT", sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, loop="uvloop", http="httptools", lifespan="off", log_config=None,
                            access_log=False, server_header=False)
    uvicorn.Server(config).run(sockets=[sock])


def _start(kind: str, size: int, command: str) -> tuple[subprocess.Popen[str], int]:
    args = [sys.executable, __file__, f"--serve-{kind.split('-')[0]}", "--size", str(size), "--command", command]
    if kind.endswith("-flip"):
        args.append("--flip")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("PORT"):
        proc.kill()
        raise SystemExit(f"{kind} server did not start: {line!r}")
    return proc, int(line.split()[1])


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if found is None:
        raise ValueError(f"cannot read wrk latency {text!r}")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(port: int, conns: int, close: bool, duration: int, lua: str, command: str) -> dict[str, float]:
    """One wrk run; requests/s, p50, p99 (ms) and errors."""
    cmd = ["wrk", f"-t{min(conns, 2)}", f"-c{conns}", f"-d{duration}s", "--latency", "-H", f"command: {command}",
           *AGENT]
    if close:
        cmd += ["-s", lua]
    out = subprocess.run(cmd + [f"http://127.0.0.1:{port}/"], capture_output=True, text=True,
                         timeout=duration + 30, check=False).stdout
    if "Requests/sec" not in out:
        raise SystemExit(f"wrk failed: {out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    n_err = (int(bad.group(1)) if bad else 0) + (sum(int(g) for g in errors.groups()) if errors else 0)
    return {"rps": rps, "p50": p50, "p99": p99, "errors": n_err}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64, 256])
    parser.add_argument("--command", default="get status", help="the command measured (default: get status)")
    parser.add_argument("--runs", type=int, default=1, help="turns per cell; the best of each is shown")
    parser.add_argument("--serve-anynode", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-minimal", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--flip", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_anynode:
        serve_anynode(args.flip, args.command)
        return 0
    if args.serve_minimal:
        serve_minimal(args.size)
        return 0
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2

    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        lua = os.path.join(tmp, "close.lua")
        Path(lua).write_text(CLOSE_LUA)
        try:
            command = args.command
            anynode, a_port = _start("anynode", 0, command)
            procs.append(anynode)
            import urllib.request

            req = urllib.request.Request(f"http://127.0.0.1:{a_port}/", headers={"command": command})
            size = len(urllib.request.urlopen(req, timeout=5).read())
            minimal, m_port = _start("minimal", size, command)
            procs.append(minimal)
            flipped, i_port = _start("anynode-flip", size, command)
            procs.append(flipped)
            sys.path.insert(0, str(ROOT))
            import anynode.assembly  # noqa: F401
            from anynode.grammar.registry import Registry

            spec = _spec(Registry.default(), command)
            shipped = "non-blocking" if not spec.blocking else "blocking"
            other = "pool" if shipped == "non-blocking" else "inline"
            print(f"{command} over REST, {args.duration} s per wrk run, body {size} bytes, {os.cpu_count()} CPUs"
                  + (f", best of {args.runs} runs (each figure on its own)" if args.runs > 1 else ""))
            print(f"anynode: as shipped ({spec.name} declared {shipped}); {other}: declared the other way")
            print(f"{'connections':<12}{'c':>4} | {'bare req/s':>10} {'p50':>6} {'p99':>7} | "
                  f"{'anynode':>7} {'p50':>6} {'p99':>7} {'ratio':>5} | {other:>7} {'p50':>6} {'p99':>7} {'ratio':>5}"
                  + (" | anynode ratio over runs" if args.runs > 1 else ""))
            verdict = []
            for close in (True, False):
                for conns in args.concurrency:
                    turns = [tuple(wrk(port, conns, close, args.duration, lua, command)
                                   for port in (m_port, a_port, i_port)) for _ in range(args.runs)]
                    m, a, i = ({"rps": max(t[k]["rps"] for t in turns), "p50": min(t[k]["p50"] for t in turns),
                                "p99": min(t[k]["p99"] for t in turns)} for k in range(3))
                    ra = a["rps"] / m["rps"] if m["rps"] else 0.0
                    ri = i["rps"] / m["rps"] if m["rps"] else 0.0
                    each = sorted(t[1]["rps"] / t[0]["rps"] for t in turns if t[0]["rps"])
                    label = "new per req" if close else "keep-alive"
                    errs = sum(x["errors"] for t in turns for x in t)
                    print(f"{label:<12}{conns:>4} | {m['rps']:>10.0f} {m['p50']:>6.2f} {m['p99']:>7.2f} | "
                          f"{a['rps']:>7.0f} {a['p50']:>6.2f} {a['p99']:>7.2f} {ra:>5.2f} | "
                          f"{i['rps']:>7.0f} {i['p50']:>6.2f} {i['p99']:>7.2f} {ri:>5.2f}"
                          + (f" | {each[0]:.2f}-{each[-1]:.2f}" if args.runs > 1 and each else "")
                          + (f"  ({errs:.0f} errors)" if errs else ""))
                    if conns == 8:
                        verdict.append(f"target at c=8, {label}: "
                                       f"ratio {ra:.2f} >= 0.7 {'met' if ra >= 0.7 else 'MISSED'}, "
                                       f"p99 {a['p99']:.2f} ms < 10 ms {'met' if a['p99'] < 10 else 'MISSED'}")
                    if conns == 256:
                        tail = a["p99"] / m["p99"] if m["p99"] else 0.0
                        verdict.append(f"target at c=256, {label}: p99 {a['p99']:.2f} ms within 2x of the bare app's "
                                       f"{m['p99']:.2f} ms ({tail:.2f}x) {'met' if tail <= 2 else 'MISSED'}")
            print("latencies in ms")
            for line in verdict:
                print(line)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
