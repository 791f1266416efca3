"""The language's own commands: output, conditions and script flow."""

from __future__ import annotations

import time

from anynode import safejson
from anynode.errors import CommandSyntaxError, QueryCancelled
from anynode.grammar.conditions import evaluate
from anynode.grammar.dispatch import Context, ControlFlow, Flow, OnError
from anynode.grammar.parser import Rest
from anynode.grammar.registry import command
from anynode.grammar.spec import Arg, Opt
from anynode.grammar.tokens import Token
from anynode.grammar.types import FORMAT, TEXT, FilePath, Words
from anynode.results import Empty, Json, Message, Result, Table

SCRIPT = ("script",)


@command("echo", args=[Arg("text", Words(), required=False, help="words to show; !variables are replaced")],
         remote=True, blocking=False, keywords=("cli", "script"),
         examples=["echo hello world", "echo node !node_name is up"])
def echo(ctx: Context, text: Rest) -> Result:
    """Show a line of text (into the echo queue instead while `set echo queue on`).

    Undefined variables show as nothing (EdgeLake drops the whole line when
    any word is empty; we keep the rest of it).
    """
    from anynode.shell.echo_queue import echo_queue

    if not ctx.source.external and echo_queue(ctx.node).add(text.text):
        return Empty()
    return Message(text.text)


@command("print", args=[Arg("text", Words(), required=False, help="words to show")],
         keywords=("cli", "script"), examples=["print 'Hello from' !node_name"])
def print_(ctx: Context, text: Rest) -> Result:
    """Show a line of text; single quotes around a word are removed."""
    return Message(" ".join(t.text[1:-1] if t.text[:1] == t.text[-1:] == "'" and len(t.text) > 1 else t.text
                            for t in text))


def _split_then(tokens: list[Token]) -> tuple[list[Token], list[Token] | None, list[Token] | None]:
    then = next((i for i, t in enumerate(tokens) if t.is_word("then")), None)
    if then is None:
        return tokens, None, None
    action = tokens[then + 1:]
    other = next((i for i, t in enumerate(action) if t.is_word("else")), None)
    if other is None:
        return tokens[:then], action, None
    return tokens[:then], action[:other], action[other + 1:]


@command("if", raw=True,
         syntax="<condition> [then <command> [else <command>]]",
         keywords=SCRIPT,
         examples=["if !count > 10 then echo many", "if !name == op1 then goto op1 else goto other",
                   "if not !ledger_conn then echo no master", "ok = if !x.int >= 3"])
def if_(ctx: Context, tokens: list[Token]) -> Result:
    """Run a command when a condition holds: if <condition> then <command> [else <command>].

    Conditions compare with ==, !=, <, <=, >, >=, contains, startswith,
    endswith; join with and/or; `not X` negates; a bare value is true when it
    is not empty, false or 0. Both sides numbers: numeric comparison (so
    10 > 3 even for text values). Without `then` the outcome (true/false) is
    returned and kept for following `do` and `else` lines.
    """
    typed = ctx.raw_rest if len(ctx.raw_rest) == len(tokens) else tokens
    cond, then, other = _split_then(tokens)
    if not cond:
        raise CommandSyntaxError("'if' needs a condition", hint="write: if !x == 5 then echo five")
    outcome = evaluate(cond)
    ctx.frame.last_if = outcome
    if then is None:
        return Message("true" if outcome else "false")
    chosen = then if outcome else other
    if not chosen:
        return Empty()
    start = len(cond) + 1 if outcome else len(tokens) - len(chosen)  # the same words as typed, for `python`
    return ctx.run_tokens(chosen, typed[start:start + len(chosen)])


def _after_if(ctx: Context, word: str, tokens: list[Token], when: bool) -> Result:
    if ctx.frame.last_if is None:
        raise CommandSyntaxError(f"'{word}' without an 'if' before it", hint="write an 'if <condition>' line first")
    if not tokens:
        raise CommandSyntaxError(f"'{word}' needs a command", hint=f"write: {word} echo something")
    typed = ctx.raw_rest if len(ctx.raw_rest) == len(tokens) else None
    return ctx.run_tokens(tokens, typed) if ctx.frame.last_if is when else Empty()


@command("do", raw=True,
         syntax="<command>",
         keywords=SCRIPT, examples=["do echo the condition held"])
def do(ctx: Context, tokens: list[Token]) -> Result:
    """Run a command when the last `if` was true."""
    return _after_if(ctx, "do", tokens, True)


@command("else", raw=True,
         syntax="<command>",
         keywords=SCRIPT, examples=["else echo the condition did not hold"])
def else_(ctx: Context, tokens: list[Token]) -> Result:
    """Run a command when the last `if` was false."""
    return _after_if(ctx, "else", tokens, False)


def _in_script(ctx: Context, word: str) -> None:
    if ctx.frame.script is None:
        raise CommandSyntaxError(f"'{word}' works only inside a script", hint="use it in a file run with 'process'")


@command("process", args=[Arg("file", FilePath(), help="the script file")], keywords=SCRIPT,
         examples=["process !local_scripts/start.al", "process commands/standalone.al"])
def process(ctx: Context, file: str) -> Result:
    """Run a script file: one command per line (see the script rules in the docs).

    An error stops the script with FILE:LINE: message unless the script set
    `on error`. Scripts may run other scripts.
    """
    from anynode.script import run_script

    depth = ctx.frame.script.depth + 1 if ctx.frame.script is not None else 0
    return run_script(ctx.node, file, depth=depth, cancel=ctx.cancel)


@command("goto", args=[Arg("label", TEXT, help="a label written :name: in the script")], keywords=SCRIPT,
         examples=["goto end-of-script"])
def goto(ctx: Context, label: str) -> Result:
    """Continue the script at a label."""
    _in_script(ctx, "goto")
    raise ControlFlow(Flow.GOTO, label)


@command("call", args=[Arg("label", TEXT, help="a label written :name: in the script")], keywords=SCRIPT,
         examples=["call set-defaults"])
def call(ctx: Context, label: str) -> Result:
    """Run the script from a label until `return`, then continue after the call."""
    _in_script(ctx, "call")
    raise ControlFlow(Flow.CALL, label)


@command("return", keywords=SCRIPT, examples=["return"])
def return_(ctx: Context) -> Result:
    """Go back to the line after the last `call` (at top level: end the script)."""
    _in_script(ctx, "return")
    raise ControlFlow(Flow.RETURN)


@command("end script", keywords=SCRIPT, examples=["end script"])
def end_script(ctx: Context) -> Result:
    """End this script; the script that called it continues."""
    _in_script(ctx, "end script")
    raise ControlFlow(Flow.END)


@command("exit scripts", keywords=SCRIPT, examples=["exit scripts"])
def exit_scripts(ctx: Context) -> Result:
    """End this script and every script that called it."""
    _in_script(ctx, "exit scripts")
    raise ControlFlow(Flow.EXIT_SCRIPTS)


@command("on error", raw=True,
         syntax="goto <label> | call <label> | ignore | end script",
         keywords=SCRIPT,
         examples=["on error goto config-error", "on error call report-error", "on error ignore",
                   "on error end script"])
def on_error(ctx: Context, tokens: list[Token]) -> Result:
    """Choose what a later error in this script does: goto <label>, call <label>, ignore, or end script.

    Without `on error`, an error stops the script with FILE:LINE: message.
    """
    words = [t.text.lower() for t in tokens]
    if words in (["ignore"], ["end", "script"], ["stop"]):
        arg = OnError(words[0]).value
    elif len(words) == 2 and words[0] in (OnError.GOTO, OnError.CALL):
        arg = f"{OnError(words[0]).value} {tokens[1].text}"
    else:
        raise CommandSyntaxError("'on error' needs goto <label>, call <label>, ignore or end script",
                                 hint="write e.g. on error goto failed")
    _in_script(ctx, "on error")
    raise ControlFlow(Flow.ON_ERROR, arg)


@command("incr", args=[Arg("value", TEXT, help="a whole number (usually !name)"),
                       Arg("step", TEXT, required=False, help="what to add (default 1)")],
         remote=True, blocking=False, keywords=SCRIPT, examples=["count = incr !count", "next = incr !count 5"])
def incr(ctx: Context, value: str, step: str | None) -> Result:
    """Add to a whole number: `count = incr !count` (start the count with `count = 0`)."""
    try:
        return Message(str(int(value) + int(step or "1")))
    except ValueError:
        raise CommandSyntaxError(f"incr needs whole numbers, not '{value}' and '{step or 1}'",
                                 hint="write: count = incr !count 1") from None


@command("wait", raw=True,
         syntax="<seconds> [for <condition>]",
         keywords=SCRIPT,
         examples=["wait 5", "wait 10 for !ready == true", "ok = wait 3 for !count.int > 2", "wait 10 for sync"])
def wait(ctx: Context, tokens: list[Token]) -> Result:
    """Pause for some seconds, or until a condition holds: wait <seconds> [for <condition>].

    With a condition the answer is true when it held within the time, else
    false; the condition is checked again every 100 ms with fresh variable
    values. `wait N for sync` waits for the ledger sync (`run blockchain
    sync`) asked for last, or the next one. Stopping the node ends the wait;
    Ctrl-C cancels it.
    """
    if not tokens:
        raise CommandSyntaxError("'wait' needs a number of seconds", hint="write: wait 5  or  wait 10 for !x == 1")
    try:
        seconds = float(tokens[0].text)
    except ValueError:
        raise CommandSyntaxError(f"'{tokens[0].text}' is not a number of seconds", offset=tokens[0].start,
                                 hint="write: wait 5") from None
    if len(tokens) > 1 and not tokens[1].is_word("for"):
        raise CommandSyntaxError(f"unexpected '{tokens[1].text}' after the seconds", offset=tokens[1].start,
                                 hint="write: wait 10 for <condition>")
    condition = tokens[2:]
    if len(condition) == 1 and condition[0].is_word("sync"):  # AnyLog's `wait N for sync`: the next good sync
        return ctx.run(f"wait for sync {seconds:g}")
    if len(tokens) > 1 and not condition:
        raise CommandSyntaxError("'wait ... for' needs a condition", hint="write: wait 10 for !x == 1")
    typed = ctx.raw_rest[2:] or condition  # as typed, so each check reads the variables afresh
    deadline = time.monotonic() + seconds
    while True:
        if condition and evaluate(ctx.expand(typed)):
            return Message("true")
        left = deadline - time.monotonic()
        if left <= 0 or ctx.node.exit_event.wait(min(left, 0.1)):
            return Message("false") if condition else Empty()
        if ctx.cancel is not None and ctx.cancel.cancelled:
            raise QueryCancelled(f"wait cancelled: {ctx.cancel.reason}")



@command("json", args=[Arg("value", Words(), help="JSON text (a {...} or [...] word, or !name); add 'test' to check")],
         remote=True, blocking=False, keywords=SCRIPT,
         examples=['json {"name": "op1", "port": 32148}', "json !policy test", "policy = json !policy"])
def json(ctx: Context, value: Rest) -> Result:
    """Check and normalise JSON: the value as compact JSON, or with `test`, true/false.

    An error names the position where the JSON stops being valid.
    """
    import json as _json

    words = list(value)
    test = bool(words) and words[-1].is_word("test")
    text = " ".join(t.text for t in (words[:-1] if test else words))
    if not text.strip():
        raise CommandSyntaxError("'json' needs a JSON value", hint='write: json {"key": "value"}')
    try:
        parsed = safejson.loads(text)
    except ValueError as exc:
        if test:
            return Message("false")
        raise CommandSyntaxError(f"not valid JSON: {exc}", hint="check quotes, commas and brackets there") from None
    return Message("true") if test else Message(_json.dumps(parsed, separators=(", ", ": ")))


@command("get env var", args=[Arg("name", TEXT, required=False, help="only variables whose name contains this")],
         options=[Opt("format", FORMAT, default="table")], keywords=("node info", "script"),
         examples=["get env var", "get env var ANYLOG", "get env var where format = json"])
def get_env_var(ctx: Context, name: str | None, format: str) -> Result:
    """List the environment variables of the node process (local only: they may hold secrets)."""
    import os

    items = sorted((k, v) for k, v in os.environ.items() if not name or name.lower() in k.lower())
    return Json(dict(items)) if format == "json" else Table.of(["Variable", "Value"], items)
