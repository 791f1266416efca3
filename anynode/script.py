"""Scripts: ``process FILE`` runs a file of commands.

A script is read into logical lines first (so errors name the first physical
line of each), then run line by line on the calling thread:

* empty lines and ``#`` comments are skipped;
* ``<`` starts a block that ends at a line ending with ``>``; its lines are
  joined with single spaces;
* a line whose quotes or ``{``/``[`` brackets are still open continues on
  the next lines (JSON policies written over several lines);
* ``:name:`` is a label for ``goto`` and ``call``. A line such as ``:name``
  (no closing colon) is not a label: EdgeLake skips it silently and a later
  ``goto name`` fails without saying why; we skip it too, and a ``goto`` to
  it names the line and the right spelling.

Flow commands raise :class:`ControlFlow`, which only the runner handles. An
error stops the script with ``FILE:LINE: message`` unless ``on error``
said otherwise. An error in the lines an ``on error goto|call`` handler runs
(before the handler's next goto, call, return or on error) stops the script:
handling it again would jump back to the same failing line for ever.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from anynode.cancel import Cancel
from anynode.errors import AnyNodeError, QueryCancelled, ScriptError
from anynode.grammar.conditions import evaluate
from anynode.grammar.dispatch import ControlFlow, Flow, OnError, Session, Source, check_assigned_command
from anynode.grammar.parser import parse
from anynode.grammar.tokens import WORD, Token, is_complete, split_commands, tokenize
from anynode.grammar.variables import expand_tokens
from anynode.protocols import NodeView
from anynode.results import Empty, Result

_LABEL = re.compile(r"^:([A-Za-z0-9_.\-]+):$")
MAX_SCRIPT_DEPTH = 32


@dataclass(frozen=True)
class ScriptLine:
    """One logical line of a script and the physical line it starts on."""

    lineno: int
    text: str


@dataclass
class Script:
    """A loaded script: its lines, labels, and near-labels (``:name`` lines).

    ``more`` reads further lines into it when it comes from a stream (a pipe):
    it returns False once the stream has ended.
    """

    path: str
    lines: list[ScriptLine]
    labels: dict[str, int]
    near_labels: dict[str, int] = field(default_factory=dict)
    more: Callable[[], bool] | None = None


@dataclass
class ScriptState:
    """What a running script keeps between lines."""

    script: Script
    depth: int = 0
    calls: list[int] = field(default_factory=list)
    on_error: tuple[OnError, str] = (OnError.STOP, "")
    in_handler: bool = False  # running the lines an error jumped to, until the next jump


class _Reader:
    """Turns physical lines, one at a time, into a Script's logical lines and labels."""

    def __init__(self, path: str) -> None:
        self.script = Script(path, [], {})
        self.label_at: dict[str, int] = {}
        self.pending: list[str] = []
        self.start = 0
        self.in_block = False

    def feed(self, n: int, physical: str) -> None:
        """Read physical line ``n``.

        Raises:
            ScriptError: a label defined twice.
        """
        script, line = self.script, physical.strip()
        if not self.pending:
            if not line or line.startswith("#"):
                return
            self.start = n
            if line.startswith(":"):
                m = _LABEL.match(line)
                if m:
                    name = m.group(1)
                    if name in script.labels:
                        raise ScriptError(script.path, n, f"label '{name}' is defined twice "
                                                          f"(first at line {self.label_at[name]})")
                    script.labels[name] = len(script.lines)
                    self.label_at[name] = n
                else:
                    script.near_labels[line.strip(":;").strip()] = n
                return
            self.in_block = line.startswith("<")
            if self.in_block:
                line = line[1:]
        if self.in_block:
            done = line.endswith(">")
            self.pending.append(line[:-1] if done else line)
            if done:
                self.in_block = False
                script.lines.append(ScriptLine(self.start, " ".join(p.strip() for p in self.pending if p.strip())))
                self.pending = []
            return
        self.pending.append(line)
        joined = " ".join(self.pending)
        if is_complete(joined):
            script.lines.append(ScriptLine(self.start, joined))
            self.pending = []

    def finish(self) -> Script:
        """The script, once every line is read.

        Raises:
            ScriptError: a block or bracket never closed.
        """
        if self.pending:
            what = ("block started with '<' is never closed with '>'" if self.in_block
                    else "quote or bracket is never closed")
            self.pending = []
            raise ScriptError(self.script.path, self.start, f"the {what}")
        return self.script


def parse_script(text: str, path: str = "<script>") -> Script:
    """Split script text into logical lines and labels.

    Raises:
        ScriptError: a label defined twice, or a block or bracket never closed.
    """
    reader = _Reader(path)
    for n, physical in enumerate(text.splitlines(), 1):
        reader.feed(n, physical)
    return reader.finish()


def stream_script(stream: IO[str], path: str = "<stdin>", stop: Callable[[], bool] | None = None) -> Script:
    """A script read from ``stream`` as it runs: a line runs as soon as it is complete (a pipe
    answers line by line), and a ``goto`` to a label further on reads ahead to it.
    ``stop`` ends the reading early (the node is exiting)."""
    reader = _Reader(path)
    lineno = 0

    def more() -> bool:
        nonlocal lineno
        physical = stream.readline() if not (stop and stop()) else ""
        if not physical:
            reader.script.more = None
            reader.finish()
            return False
        lineno += 1
        reader.feed(lineno, physical)
        return True

    reader.script.more = more
    return reader.script


def _has_line(script: Script, pc: int) -> bool:
    """True when line ``pc`` exists, reading further lines of a streamed script to find out."""
    while pc >= len(script.lines):
        if script.more is None or not script.more():
            return False
    return True


def load_script(path: str | Path) -> Script:
    """Read and parse a script file.

    Raises:
        ScriptError: the file cannot be read or does not parse.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScriptError(str(path), 0, "no such script file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError(str(path), 0, f"cannot read the script: {exc}") from None
    return parse_script(text, str(path))


def _jump(state: ScriptState, label: str, lineno: int) -> int:
    script = state.script
    while label not in script.labels and script.more is not None and script.more():
        pass  # a streamed script: read on to the label
    if label in script.labels:
        return script.labels[label]
    if label in script.near_labels:
        raise ScriptError(script.path, lineno, f"no label '{label}': line {script.near_labels[label]} "
                                               f"is not a label; write it as ':{label}:'")
    raise ScriptError(script.path, lineno, f"no label '{label}' in this script")


def run_script(node: NodeView, path: str | Path, emit: Callable[[Result], None] | None = None,
               source: Source = Source.SCRIPT, depth: int = 0, cancel: Cancel | None = None) -> Result:
    """Run a script on the calling thread; each command's result goes to ``emit``.

    ``cancel`` (Ctrl-C at the prompt) is passed to every line and stops the
    script before its next line.

    Raises:
        ScriptError: a line failed and the script did not handle it.
        ControlFlow: ``exit scripts`` (only for nested scripts; depth > 0).
    """
    if depth > MAX_SCRIPT_DEPTH:
        raise ScriptError(str(path), 0, f"scripts nest deeper than {MAX_SCRIPT_DEPTH} (does a script process itself?)")
    return run_loaded(node, load_script(path), emit, source, depth, cancel=cancel)


def run_loaded(node: NodeView, script: Script, emit: Callable[[Result], None] | None = None,
               source: Source = Source.SCRIPT, depth: int = 0,
               on_failure: Callable[[ScriptError], None] | None = None, cancel: Cancel | None = None) -> Result:
    """Run a loaded (or streamed) script; see :func:`run_script`.

    ``on_failure`` takes the error of a line the script does not handle
    (no ``on error``) and the script goes on with the next line, as a pipe of
    commands does; without it the error stops the script.
    """
    state = ScriptState(script, depth)
    frame = Session(script=state)
    out = emit or node.emit
    pc = 0
    while _has_line(script, pc):
        line = script.lines[pc]
        pc += 1
        if node.exit_event.is_set():  # `exit node` (or a signal): no further line of any script runs
            return Empty()
        if cancel is not None and cancel.cancelled:
            raise ScriptError(script.path, line.lineno, QueryCancelled(f"script cancelled: {cancel.reason}"))
        try:
            result = node.execute(line.text, source, frame, cancel=cancel)
        except ControlFlow as flow:
            state.in_handler = False
            if flow.kind in (Flow.GOTO, Flow.CALL):
                if flow.kind is Flow.CALL:
                    state.calls.append(pc)
                pc = _jump(state, flow.arg, line.lineno)
            elif flow.kind is Flow.RETURN:
                if not state.calls:
                    return Empty()
                pc = state.calls.pop()
            elif flow.kind is Flow.END:
                return Empty()
            elif flow.kind is Flow.EXIT_SCRIPTS:
                if depth:
                    raise
                return Empty()
            elif flow.kind is Flow.ON_ERROR:
                mode, _, label = flow.arg.partition(" ")
                state.on_error = (OnError(mode), label)
            else:  # a Flow member added without its handling here
                raise AssertionError(f"script runner does not handle {flow.kind!r}") from flow
            continue
        except AnyNodeError as exc:
            mode, label = state.on_error
            if mode is OnError.IGNORE:
                continue
            if mode is OnError.END:
                return Empty()
            if mode in (OnError.GOTO, OnError.CALL) and not state.in_handler:
                if mode is OnError.CALL:
                    state.calls.append(pc)
                pc = _jump(state, label, line.lineno)
                state.in_handler = True
                continue
            if mode in (OnError.GOTO, OnError.CALL):
                # The handler failed itself: handling it again would loop for ever.
                raise ScriptError(script.path, line.lineno,
                                  f"{exc.one_line()} (in the 'on error {mode} {label}' handler)") from exc
            if isinstance(exc, ScriptError) and exc.line == 0:
                # A script this line processes could not start (missing, unreadable,
                # nested too deep): name this line, then the script it names.
                raise ScriptError(script.path, line.lineno, f"{exc.path}: {exc.cause_text}") from exc
            if on_failure is None:
                if isinstance(exc, ScriptError) and exc.path == script.path:
                    raise
                raise ScriptError(script.path, line.lineno, exc) from exc
            if isinstance(exc, ScriptError) and exc.path == script.path:
                on_failure(exc)
            else:
                on_failure(ScriptError(script.path, line.lineno, exc))
            continue
        if not isinstance(result, Empty):
            out(result)
    return Empty()


def check_script(node: NodeView, path: str | Path) -> list[str]:
    """Parse every line of a script against the registry without running it.

    Returns ``FILE:LINE: reason`` for each line that would fail to parse, for
    gotos and calls to labels that do not exist, and for ``:name`` lines that
    look like labels but are not. Values that come from variables are not
    type-checked (they are only known when the script runs).
    """
    try:
        script = load_script(path)
    except ScriptError as exc:
        return [exc.message]
    problems = [f"{script.path}:{n}: ':{label}' is not a label; write ':{label}:'"
                for label, n in script.near_labels.items()]
    for line in script.lines:
        try:
            for text, _ in split_commands(line.text):
                _check_tokens(node, tokenize(text), script, line.lineno)
        except AnyNodeError as exc:
            problems.append(exc.message if isinstance(exc, ScriptError) else
                            f"{script.path}:{line.lineno}: {exc.one_line()}")
    return problems


def _leading_words(toks: list[Token]) -> list[str]:
    words = []
    for tok in toks:
        if tok.kind != WORD:
            break
        words.append(tok.text)
    return words


def _from_variable(toks: list[Token], i: int) -> bool:
    """True when token ``i`` (as written) refers to a variable."""
    return i < len(toks) and toks[i].kind == WORD and ("!" in toks[i].text or "$" in toks[i].text)


class _AnyValue(dict[str, str]):
    """Every variable and environment variable, standing for one value (the checker knows none)."""

    def get(self, name: str, default: object = None) -> str:
        return "0"


_ANY_VALUE = _AnyValue()


def _check_tokens(node: NodeView, toks: list[Token], script: Script, lineno: int) -> None:
    """Check one command's tokens, following assignments, ``if`` and ``do``/``else``."""
    if not toks:
        return
    assignment = False
    if len(toks) >= 2 and toks[1].is_op("="):
        toks, assignment = toks[2:], True
    elif len(toks) >= 4 and toks[0].is_word("set") and toks[2].is_op("="):
        toks, assignment = toks[3:], True
    elif (len(toks) == 1 and toks[0].text[:1] in "!$") or (len(toks) >= 3 and toks[1].is_op("+")):
        return
    if not assignment and len(toks) == 1 and toks[0].kind == WORD and toks[0].text in script.labels \
            and not node.registry.match([toks[0].text]):
        # EdgeLake's main.al has `... then edgelake-error`: a label run as a command fails when it is reached.
        raise ScriptError(script.path, lineno, f"'{toks[0].text}' is a label, not a command: "
                                               f"write 'goto {toks[0].text}'")
    if not toks or (assignment and not node.registry.match(_leading_words(toks) or [""])):
        if assignment:
            check_assigned_command(node.registry, toks)  # `x = blockchain gte ...` fails as running it does
        return
    inv = parse(expand_tokens(toks, lambda name: None, {}), node.registry, lenient=True)
    name = inv.spec.name
    # A label that comes from a variable (goto !next) is known only when the script runs.
    if name in ("goto", "call") and inv.kwargs.get("label") and not _from_variable(toks, 1):
        _jump(ScriptState(script), str(inv.kwargs["label"]), lineno)
    elif name == "on error" and len(inv.rest) == 2 and inv.rest[0].is_word("goto", "call") \
            and inv.rest[1].text and not _from_variable(toks, 3):
        _jump(ScriptState(script), inv.rest[1].text, lineno)
    elif name == "if":
        rest = toks[len(toks) - len(inv.rest):]  # as written: each part is expanded again where it is checked
        then = next((i for i, t in enumerate(rest) if t.is_word("then")), None)
        # The check running it does, with every variable standing for a value.
        evaluate(expand_tokens(rest[:then] if then is not None else rest, _ANY_VALUE.get, _ANY_VALUE), every=True)
        if then is not None:
            action = rest[then + 1:]
            other = next((i for i, t in enumerate(action) if t.is_word("else")), None)
            _check_tokens(node, action[:other] if other is not None else action, script, lineno)
            if other is not None:
                _check_tokens(node, action[other + 1:], script, lineno)
    elif name in ("do", "else"):
        _check_tokens(node, inv.rest, script, lineno)
