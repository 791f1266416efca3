"""``query status``: the network queries this node ran, each with a row per cluster asked."""

from __future__ import annotations

from typing import Any

from anynode.errors import CommandSyntaxError
from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.types import FORMAT, TEXT
from anynode.query.status import Job, query_log
from anynode.results import Json, Result, Table

KEYS = ("query", "network", "monitor")
COLUMNS = ["Job", "Status", "Run Time", "Operator", "Answered By", "Blocks", "Rows", "Command"]


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _rows(job: Job) -> list[tuple[Any, ...]]:
    head = (job.id, job.status, _clock(job.seconds()), "All", "", sum(s.blocks for s in job.shares.values()),
            job.rows, job.command if not job.error else f"{job.command} -- {job.error}")
    return [head] + [("", s.status, _clock((s.ended or job.ended or s.started) - s.started) if s.ended else "",
                      s.name, s.answered_by, s.blocks, s.rows, "") for s in job.shares.values()]


@command("query status", args=[Arg("which", TEXT, required=False, help="a job id, or all (default: the last)")],
         options=[Opt("format", FORMAT, default="table", help="table, or json for programs")],
         remote=True, aliases=["get query status"], keywords=KEYS,
         examples=["query status", "query status all", "query status 12", "get query status where format = json"])
def query_status(ctx: Context, which: str | None, format: str) -> Result:
    """Show network queries (run client () sql): the last one, one by id, or all kept (500).

    One row per job (Operator: All) and one per cluster or peer asked: its
    status (Sent, Receiving, Completed, Failed or Not answered), the member
    that answered, the frames (Blocks) and rows it sent, and how long it took.
    """
    jobs = query_log(ctx.node).jobs()
    if which is None:
        jobs = jobs[-1:]
    elif which.lower() != "all":
        if not which.isdigit():
            raise CommandSyntaxError(f"'{which}' is not a job id", hint="query status all, or query status <id>")
        jobs = [j for j in jobs if j.id == int(which)]
        if not jobs:
            raise CommandSyntaxError(f"no query {which} is kept", hint="query status all lists those kept")
    rows = [r for job in jobs for r in _rows(job)]
    if format == "json":
        return Json([dict(zip(COLUMNS, r, strict=True)) for r in rows])
    return Table.of(COLUMNS, rows, title="" if rows else "no network query yet")
