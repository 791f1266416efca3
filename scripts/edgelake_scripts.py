#!/usr/bin/env python3
"""Run EdgeLake's deployment scripts on anynode: a master, an operator and a query node on 127.0.0.1.

Given a checkout of EdgeLake/deployment-scripts and one of EdgeLake/docker-compose,
it reads each node type's env files as docker compose does (KEY=value lines, no
shell), moves the ports to free ones, points ANYLOG_PATH and LOCAL_SCRIPTS at the
checkout and a work directory, and starts three ``anynode process main.al``
processes, each with its own home. Then it checks ``get processes`` on each
(``anynode --home H -e ...`` attaches to the running node), drops a JSON file
into the operator's watch directory and asks the query node
``run client () sql ...`` for it. It stops only the processes it started.

    .venv/bin/python scripts/edgelake_scripts.py --scripts ~/src/deployment-scripts \\
        --compose ~/src/docker-compose [--work /tmp/el-run] [--keep] [--timeout 120]

Exit status 0 when every check passed, 1 otherwise (the checks are printed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

NODE_TYPES = ("master", "operator", "query")
# What `get processes` must show running on each node once main.al has run.
EXPECTED = {
    "master": ("TCP", "REST", "Blockchain Sync", "Scheduler"),
    "operator": ("TCP", "REST", "Operator", "Blockchain Sync", "Scheduler", "Streamer"),
    "query": ("TCP", "REST", "Blockchain Sync", "Scheduler"),
}
# Services the default env files leave off; set explicitly so a changed default cannot turn them on.
OFF = {"ENABLE_MQTT": "false", "ENABLE_HA": "false", "NODE_MONITORING": "false", "SYSLOG_MONITORING": "false",
       "DOCKER_MONITORING": "false", "ENABLE_MCP": "false", "ENABLE_VIDEO_STREAMING": "false"}
# An error line of a node or of the scripts ("error: ...", "Error: ...", "Failed to ...").
ERROR_LINE = re.compile(r"^error:|\bError:|\bFailed\b")
ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=value lines as docker compose reads an env_file: no shell, quotes around a value dropped, # comments."""
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = ENV_LINE.match(line)
        if not m:
            continue
        key, value = m.group(1), m.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        else:
            value = re.sub(r"\s+#.*$", "", value)
        env[key] = value
    return env


def node_env(compose: Path, node_type: str) -> dict[str, str]:
    """The env of one node type: base_configs.env, then advance_configs.env over it."""
    folder = compose / "docker-makefiles" / f"{node_type}-configs"
    env: dict[str, str] = {}
    for name in ("base_configs.env", "advance_configs.env"):
        path = folder / name
        if path.is_file():
            env.update(parse_env_file(path.read_text(encoding="utf-8")))
    if not env:
        raise SystemExit(f"no env files in {folder} (expected base_configs.env, advance_configs.env)")
    return env


def free_port() -> int:
    """A TCP port nothing listens on now (bound on 127.0.0.1 port 0, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def plan(compose: Path, scripts: Path, work: Path, move_ports: bool = True) -> dict[str, dict[str, str]]:
    """The environment each node process gets: the env files, the ports (moved to free ones unless
    ``move_ports`` is false), the paths, the services left off."""
    envs = {t: node_env(compose, t) for t in NODE_TYPES}
    if move_ports:
        ports = {t: (str(free_port()), str(free_port())) for t in NODE_TYPES}
    else:
        ports = {t: (envs[t].get("ANYLOG_SERVER_PORT", ""), envs[t].get("ANYLOG_REST_PORT", "")) for t in NODE_TYPES}
    # set_params.al ignores a LEDGER_CONN on 127.0.0.1 and falls back to port 32048: "localhost" is the same
    # address under another spelling, so the master's moved port reaches every node.
    ledger = f"localhost:{ports['master'][0]}"
    for t, env in envs.items():
        env.update(OFF)
        env.update(ANYLOG_SERVER_PORT=ports[t][0], ANYLOG_REST_PORT=ports[t][1], LEDGER_CONN=ledger,
                   ANYLOG_PATH=str(work / t), LOCAL_SCRIPTS=str(scripts), TEST_DIR=str(scripts / "tests"))
    return envs


def exports(env: Mapping[str, str]) -> str:
    """``export KEY=value`` lines a shell reads back to the same values (for ``eval``)."""
    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())


class Runner:
    """The three node processes, their homes and logs; stops only what it started."""

    def __init__(self, scripts: Path, work: Path, envs: Mapping[str, Mapping[str, str]]) -> None:
        self.scripts, self.work, self.envs = scripts, work, envs
        self.anynode = [sys.executable, "-m", "anynode"]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

        self.round = 1  # 2 after a restart on the same homes

    def home(self, node_type: str) -> Path:
        return self.work / f"home-{node_type}"

    def log(self, node_type: str) -> Path:
        return self.work / (f"{node_type}.log" if self.round == 1 else f"{node_type}.{self.round}.log")

    def start(self, node_type: str) -> None:
        """Start ``anynode --home H process main.al`` with the node type's env (and PATH/PYTHONPATH of ours)."""
        (self.work / node_type).mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "HOME", "LANG", "TMPDIR")}
        env.update(self.envs[node_type], PYTHONUNBUFFERED="1")
        main = self.scripts / "node-deployment" / "main.al"
        log = open(self.log(node_type), "wb")  # noqa: SIM115 - the child writes to it until it ends
        self.procs[node_type] = subprocess.Popen(
            [*self.anynode, "--home", str(self.home(node_type)), "process", str(main)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def ask(self, node_type: str, command: str, timeout: float = 30) -> tuple[int, str]:
        """Run one command on the running node (attached through its console); exit code and output."""
        try:
            done = subprocess.run([*self.anynode, "--home", str(self.home(node_type)), "-e", command],
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return 124, f"(no answer within {timeout:g} s)"
        return done.returncode, (done.stdout + done.stderr).strip()

    def alive(self, node_type: str) -> bool:
        return self.procs[node_type].poll() is None

    def stop(self) -> None:
        """SIGTERM each process we started (by its pid), then SIGKILL what is still there after 15 s."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def running(table: str) -> set[str]:
    """The names `get processes` shows as running (a row whose status says Running)."""
    names = set()
    for line in table.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) >= 2 and cells[1].lower().startswith("running"):
            names.add(cells[0])
    return names


def wait_for(check, timeout: float, every: float = 1.0):  # type: ignore[no-untyped-def]
    """Call check() until it returns something true or the timeout passes; its last answer."""
    deadline = time.monotonic() + timeout
    answer = check()
    while not answer and time.monotonic() < deadline:
        time.sleep(every)
        answer = check()
    return answer


Check = Callable[[bool, str, str], None]


def bring_up(runner: Runner, timeout: float, check: Check) -> None:
    """Start the master, then the operator and the query node; check each one's `get processes`."""
    runner.start("master")
    wait_for(lambda: runner.ask("master", "get processes")[1].count("Running") >= 2, timeout)
    runner.start("operator")
    runner.start("query")
    for t in NODE_TYPES:
        def shown(t: str = t) -> str:
            out = runner.ask(t, "get processes")[1]
            return out if set(EXPECTED[t]) <= running(out) else ""
        last = wait_for(shown, timeout, every=2) or runner.ask(t, "get processes")[1]
        missing = sorted(set(EXPECTED[t]) - running(last))
        check(not missing, f"{t}: get processes shows {', '.join(EXPECTED[t])} running",
              f"  missing: {missing}\n{last}")


def check_master_ledger(runner: Runner, timeout: float, check: Check) -> None:
    """Issue 9: the policy each node published is on the master, once."""
    for t in NODE_TYPES:
        name = runner.envs[t].get("NODE_NAME", "")

        def ids_of(t: str = t, name: str = name) -> str:
            # the master's own copy is refreshed by its sync (BLOCKCHAIN_SYNC, 30 seconds in the env files)
            code, out = runner.ask("master", f'blockchain get {t} where name = "{name}" bring [*][id] separator = ,')
            return out.strip() if code == 0 else ""
        ids = wait_for(ids_of, timeout, every=2)
        check(bool(ids) and "," not in ids, f"master's ledger holds the {t} policy of {name}, once", ids)


def check_query(runner: Runner, work: Path, table: str, timeout: float, check: Check) -> None:
    """Drop a JSON file into the operator's watch directory; the query node must answer for its rows."""
    dbms = runner.envs["operator"].get("DEFAULT_DBMS") or "new_company"
    code, watch = runner.ask("operator", "!watch_dir")  # `echo` may go to the echo queue (set echo queue on)
    watch_dir = Path(watch.splitlines()[-1].strip()) if code == 0 and watch else None
    check(bool(watch_dir and watch_dir.is_dir()), f"operator's watch directory is {watch_dir}", watch)
    if not watch_dir or not watch_dir.is_dir():
        return
    rows = [{"timestamp": f"2026-01-01 00:{i:02d}:00", "value": i} for i in range(20)]
    temp = work / f"{dbms}.{table}.0.json"
    temp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    shutil.move(str(temp), watch_dir / temp.name)
    sql = f'run client () sql {dbms} format = json "select count(*) as n from {table}"'

    def answered() -> str:
        out = runner.ask("query", sql)[1]
        return out if re.search(r'"n":\s*20\b', out) else ""
    check(bool(wait_for(answered, timeout, every=2)),
          f"query node answers run client () sql for the rows dropped on the operator ({table})",
          runner.ask("query", sql)[1])


def check_quiet(runner: Runner, check: Check) -> None:
    """Every process alive, and no error line in any echo queue (main.al turns the queue on)."""
    for t in NODE_TYPES:
        check(runner.alive(t), f"{t} process still running", "")
        code, queued = runner.ask(t, "get echo queue")
        if code == 0:
            bad = [line for line in queued.splitlines() if ERROR_LINE.search(line)]
            check(not bad, f"{t}: no error line in its echo queue", "\n".join(bad[:20]))


def check_logs(runner: Runner, check: Check) -> None:
    """No error line in what each process printed."""
    for t in NODE_TYPES:
        lines = runner.log(t).read_text(errors="replace").splitlines()
        errors = [line for line in lines if ERROR_LINE.search(line)]
        check(not errors, f"{t}: no error line in {runner.log(t).name}", "\n".join(errors[:20]))


def check_scripts(runner: Runner, scripts: Path, check: Check) -> None:
    """`anynode check` over node-deployment/: no unknown command (a label named without goto is the script's slip)."""
    scripts_al = sorted(str(f) for f in (scripts / "node-deployment").rglob("*.al"))
    checked = subprocess.run([*runner.anynode, "check", *scripts_al], capture_output=True, text=True)
    unknown = []
    for line in (checked.stdout + checked.stderr).splitlines():
        if "is a label, not a command" in line:  # check names the slip itself
            print(f"note: {line}: a slip in the script", flush=True)
        elif "unknown command" in line:
            unknown.append(line)
    check(not unknown, f"anynode check: no unknown command in the {len(scripts_al)} .al files of node-deployment/",
          "\n".join(unknown))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripts", type=Path, required=True, help="checkout of EdgeLake/deployment-scripts")
    parser.add_argument("--compose", type=Path, required=True, help="checkout of EdgeLake/docker-compose")
    parser.add_argument("--work", type=Path, help="work directory (homes, logs); default a new temporary one")
    parser.add_argument("--timeout", type=float, default=120, help="seconds each check may take (default 120)")
    parser.add_argument("--keep", action="store_true", help="leave the nodes running (print their pids)")
    parser.add_argument("--restart", action="store_true",
                        help="then stop the three and start them again on the same homes and ports, and check again")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a variable for all three nodes, over the env files (repeatable), "
                             "e.g. --set 'COMPANY_NAME=Acme Inc'")
    parser.add_argument("--print-env", choices=NODE_TYPES, metavar="TYPE",
                        help="only print the env of one node type as shell exports, with the env files' own ports "
                             "(for eval; start the node yourself)")
    args = parser.parse_args()
    scripts, compose = args.scripts.resolve(), args.compose.resolve()
    if not (scripts / "node-deployment" / "main.al").is_file():
        raise SystemExit(f"{scripts} is not a deployment-scripts checkout (no node-deployment/main.al)")
    extra = parse_env_file("\n".join(args.set))
    if len(extra) != len(args.set):
        raise SystemExit(f"--set takes KEY=VALUE, not {args.set}")
    if args.print_env:
        work = (args.work or Path("edgelake-run")).resolve()
        print(exports({**plan(compose, scripts, work, move_ports=False)[args.print_env], **extra}), end="")
        return 0
    work = (args.work or Path(tempfile.mkdtemp(prefix="edgelake-run-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    envs = plan(compose, scripts, work)
    for env in envs.values():
        env.update(extra)
    runner = Runner(scripts, work, envs)
    failed: list[str] = []

    def check(ok: bool, what: str, detail: str = "") -> None:
        print(f"{'ok  ' if ok else 'FAIL'} {what}" + (f"\n{detail}" if detail and not ok else ""), flush=True)
        if not ok:
            failed.append(what)

    check_scripts(runner, scripts, check)
    print(f"work directory: {work}")
    for t in NODE_TYPES:
        print(f"{t}: TCP {envs[t]['ANYLOG_SERVER_PORT']}, REST {envs[t]['ANYLOG_REST_PORT']}, log {runner.log(t)}")
    try:
        bring_up(runner, args.timeout, check)
        check_master_ledger(runner, args.timeout, check)
        check_query(runner, work, "edgelake_check", args.timeout, check)
        check_quiet(runner, check)
        if args.restart:
            runner.stop()
            check_logs(runner, check)
            runner.round = 2
            print("restarting the three nodes on the same homes and ports", flush=True)
            bring_up(runner, args.timeout, check)
            check_master_ledger(runner, args.timeout, check)
            check_query(runner, work, "edgelake_again", args.timeout, check)
            check_quiet(runner, check)
    finally:
        if args.keep:
            print("left running: " + ", ".join(f"{t} pid {p.pid}" for t, p in runner.procs.items()))
        else:
            runner.stop()
    check_logs(runner, check)
    print("all checks passed" if not failed else f"{len(failed)} check(s) failed")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
