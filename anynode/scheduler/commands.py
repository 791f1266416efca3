"""The scheduler's commands: run/exit scheduler, schedule, get scheduler, task ..., get integrity.

AnyLog's syntax: ``schedule [time = N unit] [and name = X] [and scheduler = id]
[and start = +1d|date] task <command>``, ``task stop|resume|remove|init|run
where [scheduler = id and] name = X|id = N``. ``scheduler`` defaults to 1 in
every command (EdgeLake requires it in ``task``). The command after ``task``
is kept as typed and its variables are resolved at each run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from anynode.errors import CommandSyntaxError
from anynode.grammar.dispatch import Context, Session, Source
from anynode.grammar.parser import parse
from anynode.grammar.registry import Registry, command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.tokens import OP, WORD, Token, join_tokens, tokenize
from anynode.grammar.types import FORMAT, SECONDS, TEXT, Int
from anynode.protocols import NodeView
from anynode.results import Batch, Json, Message, Record, Result, Table
from anynode.scheduler.service import start_scheduler, stop_scheduler
from anynode.scheduler.tasks import COLUMNS, MAX_SCHEDULER, SYSTEM, Task, TaskBook, book_of
from anynode.scheduler.when import Start, StartTime, local_text, repeat_text

KEYS = ("scheduler", "background processes")
FMT = Opt("format", FORMAT, default="table", help="table, or json for programs")
SCHEDULER_ID = Int(0, MAX_SCHEDULER)
WHICH = [Opt("scheduler", SCHEDULER_ID, default=1, help="the scheduler of the task (default 1)"),
         Opt("name", TEXT, help="the task's name"), Opt("id", Int(1), help="the task's id ('get scheduler' shows it)")]


# ------------------------------------------------------------------ helpers
def _bind(ctx: Context, words: str, tokens: list[Token]) -> dict[str, Any]:
    """Bind the ``k = v and ...`` tokens of a raw command by its declared options.

    ``start +1d`` (no '=', as AnyLog's documentation writes it) is read as ``start = +1d``.
    """
    spec = ctx.node.registry.get(words)
    if spec is None:  # a table made without this module's own commands
        raise ctx.node.registry.not_found(words.split())
    shadow = replace(spec, raw=False, args=())
    toks = [t for t in tokens]
    if toks and toks[0].is_word("where"):
        toks = toks[1:]
    fixed: list[Token] = []
    for i, tok in enumerate(toks):
        fixed.append(tok)
        if tok.is_word("start") and i + 1 < len(toks) and toks[i + 1].is_op("+"):
            fixed.append(Token("=", OP, tok.end, tok.end))
    head = [Token(w, WORD, 0, 0) for w in shadow.words] + ([Token("where", WORD, 0, 0)] if fixed else [])
    return parse(head + fixed, Registry({shadow.words: shadow})).kwargs


def _check_command(ctx: Context, text: str) -> None:
    """Refuse a task whose command is unknown now (a typo), not at every run."""
    tokens = tokenize(text)
    if not tokens or (len(tokens) >= 2 and tokens[1].is_op("=")):
        return  # an assignment: its value may be a command or text
    if tokens[0].is_word("set") and len(tokens) >= 3 and tokens[2].is_op("="):
        return
    words = [t.text for t in tokens if t.kind == WORD][:8]
    if tokens[0].kind == WORD and tokens[0].text[:1] in "!$":
        return  # a variable that holds the command
    if ctx.node.registry.match(words) is None:
        raise ctx.node.registry.not_found(words or [tokens[0].text])


def _runner(node: NodeView) -> Any:
    def execute(line: str, cancel: Any) -> Result:
        return node.execute(line, Source.SCHEDULER, frame=Session(), cancel=cancel)
    return execute


def _task(book: TaskBook, scheduler: int, name: str | None, id: int | None) -> Task:
    if name is None and id is None:
        raise CommandSyntaxError("which task? give name = <task name> or id = <task id>",
                                 hint="'get scheduler' lists the tasks with their ids")
    return book.find(scheduler, name=name, tid=id)


def _state(ctx: Context, scheduler: int) -> str:
    book = book_of(ctx.node)
    service = "Housekeeping" if scheduler == SYSTEM else "Scheduler"
    running = scheduler in book.running and service in ctx.node.services.running()
    return "Running" if running else "Not running"


# ----------------------------------------------------------------- commands
@command("run scheduler", args=[Arg("id", SCHEDULER_ID, required=False, default=1,
                                    help="the scheduler: 1 (default) and up for users, 0 the system's")],
         http="POST", keywords=KEYS, examples=["run scheduler", "run scheduler 1", "run scheduler 2"])
def run_scheduler(ctx: Context, id: int) -> Result:
    """Start a scheduler: its tasks run on time, side by side on a small pool of workers.

    Scheduler 0 is the node's own housekeeping (integrity check, staging
    cleaner, stats log, retention); it starts with the node. Tasks may be
    added before or after the scheduler starts; `exit scheduler` and then
    `run scheduler` again works.
    """
    text = start_scheduler(ctx.node, id)
    return Message(text)


@command("exit scheduler", args=[Arg("id", SCHEDULER_ID, required=False,
                                     help="one scheduler; without it every user scheduler (not 0)")],
         http="POST", keywords=KEYS, examples=["exit scheduler", "exit scheduler 1", "exit scheduler 0"])
def exit_scheduler(ctx: Context, id: int | None) -> Result:
    """Stop one scheduler, or every user scheduler; their tasks are kept for the next `run scheduler`.

    Runs in progress are asked to stop and end on their own. The system
    scheduler 0 stops only when named (`exit scheduler 0`).
    """
    return Message(stop_scheduler(ctx.node, id))


@command("schedule", raw=True,
         syntax="time = <period> [and name = <name> and scheduler = <n> and start = <time> "
                "and soft_timeout = <period>] task <command>",
         http="POST", keywords=KEYS, options=[
    Opt("time", SECONDS, required=True, help="the period: 30 seconds, 5 minutes, 1 day ... (not rounded)"),
    Opt("name", TEXT, help="a name, unique in its scheduler"),
    Opt("scheduler", SCHEDULER_ID, default=1, help="the scheduler (default 1)"),
    Opt("start", StartTime(), help="first run: now(), +1d, start of day, or a date (default: now)"),
    Opt("soft_timeout", SECONDS, help="a run longer than this is reported and asked to stop "
        "(default: the task_soft_timeout setting)"),
], examples=[
    'schedule time = 10 seconds and name = "say hi" task echo hi from task',
    'schedule time = 1 day and name = "Sync Devices" and start = "start of day" task process !local_scripts/sync.al',
    'schedule time = 5 minutes and name = "Summary" task sql demo "select count(*) from readings '
    'where timestamp >= TIME(PREVIOUS) and timestamp < TIME(CURRENT)"',
    "schedule time = 30 seconds and scheduler = 2 and soft_timeout = 10 seconds task get processes",
])
def schedule(ctx: Context, tokens: list[Token]) -> Result:
    """Add a task: schedule <options> task <command>; the command runs every `time`, first at `start`.

    The command is kept as typed: its variables are resolved at each run.
    In it, TIME(PREVIOUS) and TIME(CURRENT) become the end of the last
    successful run's window and now, as quoted UTC times, so a scheduled
    query reads only what arrived since. A run that fails is recorded and
    the task runs again at its next time; a task never overlaps itself.
    """
    typed = ctx.raw_rest if len(ctx.raw_rest) == len(tokens) else tokens
    split = next((i for i, t in enumerate(tokens) if t.is_word("task")), None)
    if split is None:
        raise CommandSyntaxError("'schedule' needs 'task <command>' after its options",
                                 hint='write: schedule time = 10 seconds and name = "hi" task echo hi')
    options = tokens[:split]
    if options and options[-1].is_word("and"):
        options = options[:-1]
    text = join_tokens(list(typed[split + 1:]))
    if not text.strip():
        raise CommandSyntaxError("'task' is not followed by a command", hint="write: ... task echo hi")
    values = _bind(ctx, "schedule", options)
    every, name, scheduler = values["time"], values["name"] or "", values["scheduler"]
    if every <= 0:
        raise CommandSyntaxError("time must be more than 0 seconds", hint="e.g. time = 30 seconds")
    _check_command(ctx, text)
    node, book = ctx.node, book_of(ctx.node)
    start: Start | None = values["start"]
    soft = values["soft_timeout"] or float(node.settings["task_soft_timeout"])
    task = book.add(scheduler, name, lambda tid: Task(
        tid, name, scheduler, every, clock=book.clock, command=text, execute=_runner(node), soft_timeout=soft,
        start=start.resolve(book.clock.time()) if start else None, logger=node.log.getChild("scheduler")))
    first = "now" if task.start <= book.clock.time() else local_text(task.start)
    note = "" if _state(ctx, scheduler) == "Running" else f"; start the scheduler with: run scheduler {scheduler}"
    named = f" ('{task.name}')" if task.name else ""
    return Message(f"task {task.id}{named} added to scheduler {scheduler}: every {repeat_text(every)}, "
                   f"first run {first}{note}")


@command("get scheduler", args=[Arg("id", SCHEDULER_ID, required=False, help="one scheduler (default: all)")],
         options=[FMT], remote=True, keywords=KEYS,
         examples=["get scheduler", "get scheduler 1", "get scheduler 0", "get scheduler where format = json"])
def get_scheduler(ctx: Context, id: int | None, format: str) -> Result:
    """Show each scheduler's tasks: id, mode, name, runs, last status, duration, start, repeat time, command.

    A run in progress shows how long it has taken; the JSON form adds the
    failures, soft-timeout overruns, next run and last output of each task.
    """
    node, book = ctx.node, book_of(ctx.node)
    ids = [id] if id is not None else book.schedulers()
    if format == "json":
        return Json([{"Scheduler": s, "Status": _state(ctx, s), "System": s == SYSTEM,
                      "Tasks": [t.info(node.redact) for t in book.tasks([s])]} for s in ids])
    tables = [Table.of(COLUMNS, [t.row(node.redact) for t in book.tasks([s])],
                       title=f"Scheduler {s}{' (system)' if s == SYSTEM else ''}: {_state(ctx, s)}") for s in ids]
    if not tables:
        return Message("no scheduler runs and no task is scheduled (add one with: schedule ... task <command>)")
    return tables[0] if len(tables) == 1 else Batch(tuple(tables))


@command("task stop", options=WHICH, http="POST", keywords=KEYS,
         examples=['task stop where name = "say hi"', "task stop where scheduler = 1 and id = 2"])
def task_stop(ctx: Context, scheduler: int, name: str | None, id: int | None) -> Result:
    """Stop a task: it stays in its scheduler without running until `task resume`."""
    task = _task(book_of(ctx.node), scheduler, name, id)
    task.stop()
    return Message(f"task {task.label()} of scheduler {scheduler} stopped")


@command("task resume", options=WHICH, http="POST", keywords=KEYS,
         examples=['task resume where name = "say hi"', "task resume where scheduler = 1 and id = 2"])
def task_resume(ctx: Context, scheduler: int, name: str | None, id: int | None) -> Result:
    """Resume a stopped task: it runs again on its schedule (at once if a run was missed)."""
    book = book_of(ctx.node)
    task = _task(book, scheduler, name, id)
    task.resume()
    book.notify()
    return Message(f"task {task.label()} of scheduler {scheduler} resumed")


@command("task remove", options=WHICH, http="POST", keywords=KEYS,
         examples=['task remove where name = "say hi"', "task remove where scheduler = 2 and id = 1"])
def task_remove(ctx: Context, scheduler: int, name: str | None, id: int | None) -> Result:
    """Remove a task from its scheduler (a run in progress ends normally)."""
    book = book_of(ctx.node)
    task = _task(book, scheduler, name, id)
    book.remove(task)
    return Message(f"task {task.label()} removed from scheduler {scheduler}")


@command("task init", raw=True, options=[*WHICH, Opt("start", StartTime(), help="the new first run (default: now)")],
         http="POST", keywords=KEYS,
         examples=['task init where name = "Monitor Space" and start = +1d',
                   "task init where scheduler = 1 and id = 3 and start = +2h",
                   'task init where name = "Monitor Space" and start +1d'])
def task_init(ctx: Context, tokens: list[Token]) -> Result:
    """Give a task a new start time: it waits until then (Paused), then runs on its period.

    `start +1d` (without '=') is accepted as AnyLog's documentation writes it.
    Used after an alert, so that it does not fire again at every run.
    """
    values = _bind(ctx, "task init", tokens)
    book = book_of(ctx.node)
    task = _task(book, values["scheduler"], values["name"], values["id"])
    start: Start | None = values["start"]
    task.init(start.resolve(book.clock.time()) if start else book.clock.time())
    book.notify()
    return Message(f"task {task.label()} of scheduler {task.scheduler} starts at {local_text(task.start)}")


@command("task run", options=WHICH, http="POST", keywords=KEYS,
         examples=['task run where name = "say hi"', "task run where scheduler = 0 and name = \"Integrity check\""])
def task_run(ctx: Context, scheduler: int, name: str | None, id: int | None) -> Result:
    """Run a task now, here, and answer with its result (to test it); it counts as a run.

    Its schedule is unchanged. A task whose run is in progress is not
    started twice.
    """
    book = book_of(ctx.node)
    task = _task(book, scheduler, name, id)
    result = task.run()
    book.notify()
    if result is not None:
        return result
    return Message(f"task {task.label()}: {task.last_status}")


@command("get integrity", options=[FMT], remote=True, keywords=KEYS + ("data",),
         examples=["get integrity", "get integrity where format = json"])
def get_integrity(ctx: Context, format: str) -> Result:
    """Show what the integrity check of the archive found: the last pass and every corrupt file.

    A corrupt file gave another MD5 than the one recorded at ingest (or
    could not be read back); Count says how many passes found it.
    """
    from anynode.scheduler.integrity import state_of

    state = state_of(ctx.node)
    last = dict(state.last_pass)
    for key in ("started", "finished"):
        if key in last:
            last[key] = local_text(last[key])
    rows = [(c.path, c.expected, c.found, c.count, local_text(c.first_seen), local_text(c.last_seen))
            for c in sorted(state.corrupt.values(), key=lambda c: c.path)]
    columns = ["File", "Expected MD5", "Found", "Count", "First seen", "Last seen"]
    summary = {"passes": state.passes, "files checked": state.checked, "mismatches": state.mismatches,
               "corrupt files": len(state.corrupt), "last pass": last, "in progress": state.progress()}
    if format == "json":
        return Json({**summary, "corrupt": [dict(zip(columns, r, strict=True)) for r in rows]})
    head = Record({k: v for k, v in summary.items() if k not in ("last pass", "in progress")} |
                  {"last pass": state.summary()}, title="Integrity check of the archive")
    return Batch((head, Table.of(columns, rows, title="Corrupt files"))) if rows else head
