"""Big results and long waits at the prompt: the row cap, the pager, the busy line.

* :func:`cap_rows`: a table longer than ``prompt_max_rows`` is cut, with a
  last line saying how many rows were not drawn (drawing 20,000 rows took
  17 s; no one reads them at a prompt). Pipes and ``-e`` are never capped.
* :func:`show`: text taller than the terminal goes through the pager
  (setting ``pager``, ``less -SRXF`` by default, pgcli's habit), only when
  the output is a terminal.
* :class:`Busy`: after a second of waiting, one line on the terminal says
  what runs, for how long, and that Ctrl-C cancels; it is erased when the
  command ends.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import subprocess
import sys
from typing import IO, Any

from anynode.results import Batch, Table

BUSY_AFTER = 1.0
"""Seconds a command runs before the busy line appears."""


def cap_rows(result: Any, limit: int) -> tuple[Any, int]:
    """``result`` with its table(s) cut to ``limit`` rows (0: no cap), and how many rows were cut."""
    if limit <= 0:
        return result, 0
    if isinstance(result, Table) and len(result.rows) > limit:
        return dataclasses.replace(result, rows=result.rows[:limit]), len(result.rows) - limit
    children = getattr(result, "results", None)
    if isinstance(result, Batch) and children is not None:
        capped = [cap_rows(child, limit) for child in children]
        cut = sum(n for _, n in capped)
        if cut:
            return dataclasses.replace(result, results=tuple(c for c, _ in capped)), cut
    return result, 0


def cut_note(cut: int, limit: int) -> str:
    """The line under a cut table."""
    return (f"{cut:,} more rows not shown (prompt_max_rows = {limit}); narrow the query, or run it with "
            "anynode -e '...' > file for every row")


def terminal_size() -> os.terminal_size:
    """The terminal's columns and lines (80x24 when unknown)."""
    return shutil.get_terminal_size((80, 24))


def show(text: str, out: IO[str], pager: str, lines: int | None = None) -> None:
    """Write ``text`` to ``out``, through ``pager`` when it is taller than the terminal and ``out`` is one."""
    height = lines if lines is not None else terminal_size().lines
    real = sys.__stdout__
    if (pager.strip() and real is not None and real.isatty() and _isatty(out)
            and text.count("\n") > height - 2):
        out.flush()
        try:
            _page(shlex.split(pager), text)
            return
        except (OSError, ValueError):
            pass  # no such pager: write the text as it is
    out.write(text)
    out.flush()


def _page(argv: list[str], text: str) -> None:
    """Run the pager on ``text`` until the person leaves it (Ctrl-C is the pager's to handle, not ours)."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, text=True)
    try:
        assert proc.stdin is not None
        try:
            proc.stdin.write(text)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the person left the pager before it read everything
    finally:
        while True:
            try:
                proc.wait()
                break
            except KeyboardInterrupt:
                continue


def _isatty(out: IO[str]) -> bool:
    try:
        return bool(out.isatty())
    except (AttributeError, ValueError):
        return False


class Busy:
    """The one line that says a command is still running (on a terminal only)."""

    def __init__(self, line: str, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.__stderr__
        self.line = line if len(line) <= 40 else line[:37] + "..."
        self.shown = False
        self.enabled = self.stream is not None and _isatty(self.stream)

    def tick(self, elapsed: float) -> None:
        """Redraw the line when the command has run longer than BUSY_AFTER."""
        if not self.enabled or elapsed < BUSY_AFTER or self.stream is None:
            return
        self.stream.write(f"\r\x1b[K{self.line}: running {elapsed:.0f} s (Ctrl-C cancels)")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Erase the line if it is shown."""
        if self.shown and self.stream is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def present(result: Any, fmt: str, *, color: bool, width: int | None, max_rows: int) -> str:
    """``result`` as the text a person at a prompt sees: tables capped at ``max_rows``, JSON whole."""
    import io

    from anynode.output.render import render

    capped, cut = (result, 0) if fmt == "json" else cap_rows(result, max_rows)
    buf = io.StringIO()
    render(capped, buf, fmt, color=color, width=width)
    if cut:
        buf.write(cut_note(cut, max_rows) + "\n")
    return buf.getvalue()
