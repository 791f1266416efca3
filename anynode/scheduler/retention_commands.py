"""`delete archive where days = N`: the archive's retention by hand or on a schedule (AnyLog's command).

EdgeLake's deployment scripts schedule it daily:
`schedule name = remove_archive and time = 1 day and task delete archive where days = !archive_delete`.
The same deletion runs in system scheduler 0 when `archive_retention_days` is set.
"""

from __future__ import annotations

import time

from anynode.grammar.dispatch import Context
from anynode.grammar.registry import command
from anynode.grammar.spec import Opt
from anynode.grammar.types import Int
from anynode.results import Message, Result
from anynode.scheduler.housekeeping import archive_dir, delete_archive_days


@command("delete archive", options=[Opt("days", Int(0), required=True,
                                        help="keep the files archived on this many most recent days (UTC)")],
         http="POST", keywords=("data", "retention", "scheduler"),
         examples=["delete archive where days = 60", "delete archive where days = !archive_delete"])
def delete_archive(ctx: Context, days: int) -> Result:
    """Delete archived data files (archive_dir/YY/MM/DD) of days older than `days` days before today.

    A day's directory goes as a whole once the whole day is older than the
    limit; days = 0 keeps today's files only. Keep a backup first: the files
    are what the integrity check and peers' recovery read.
    """
    root = archive_dir(ctx.node)
    removed, files = delete_archive_days(root, days, time.time(), ctx.node.log.getChild("retention"))
    if not removed:
        return Message(f"No archived day older than {days} day(s) in {root}")
    return Message(f"Deleted {files} archived file(s) of {removed} day(s) older than {days} day(s) from {root}")
