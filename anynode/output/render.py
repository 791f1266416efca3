"""Rendering results and errors for people and programs.

The only module that knows rich. Plain messages are written without
importing rich, so one-shot commands start fast; tables use rich when the
output is a terminal and aligned plain text otherwise.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import IO, Any

from anynode.errors import AnyNodeError
from anynode.results import Json, Message, Record, Result, Table


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


def to_json_text(result: Result) -> str:
    """The JSON a program gets for ``result`` (same object as the REST reply)."""
    return _dumps(result.to_json())


def _rich_table(result: Table | Record) -> Any:
    from rich.table import Table as RichTable

    if isinstance(result, Record):
        table = RichTable(title=result.title or None, show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        for key, value in result.values.items():
            table.add_row(str(key), "" if value is None else str(value))
        return table
    table = RichTable(title=result.title or None, header_style="bold", show_lines=False)
    for col in result.columns:
        table.add_column(str(col), overflow="fold")
    for row in result.rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    return table


def render(result: Result, out: IO[str] | None = None, fmt: str = "table", color: bool | None = None,
           width: int | None = None) -> None:
    """Write ``result`` to ``out`` (stdout): JSON when ``fmt`` is json, else for people.

    ``width`` draws tables for a terminal of that many columns (a buffer
    shown later on a terminal: the pager, a console client).
    """
    out = out or sys.stdout
    if fmt == "json":
        out.write(to_json_text(result) + "\n")
        return
    children = getattr(result, "results", None)
    if children is not None:
        for child in children:
            render(child, out, fmt, color, width)
        return
    if isinstance(result, Message):
        out.write(result.text + "\n")
        return
    if isinstance(result, Json):
        out.write(result.to_text() + "\n")
        return
    if not isinstance(result, (Table, Record)):
        text = result.to_text()
        if text:
            out.write(text + "\n")
        return
    is_tty = color if color is not None else (hasattr(out, "isatty") and out.isatty())
    if not is_tty:
        out.write(result.to_text() + "\n")
        return
    from rich.console import Console

    if width is not None:
        Console(file=out, highlight=False, soft_wrap=False, width=width, force_terminal=bool(color)).print(
            _rich_table(result))
        return
    Console(file=out, highlight=False, soft_wrap=False).print(_rich_table(result))


def error_text(exc: BaseException, line: str | None = None, debug: bool = False) -> str:
    """An error as the lines a user sees: message, the word it is about, the hint.

    With ``debug``, the traceback comes first. Errors that are not
    AnyNodeError are bugs: they say so, in one line, unless ``debug``.
    """
    parts: list[str] = []
    if debug:
        parts.append("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip())
    if not isinstance(exc, AnyNodeError):
        parts.append(f"error: internal error {type(exc).__name__}: {exc} (run with --debug or 'set debug on' "
                     "for the traceback, and please report it)")
        return "\n".join(parts)
    parts.append(f"error: {exc.message}")
    offset = exc.offset
    if line is not None and offset is not None and 0 <= offset <= len(line) and "\n" not in line:
        parts.append(f"  {line}")
        parts.append("  " + " " * offset + "^" + (f" {exc.hint}" if exc.hint else ""))
    elif exc.hint:
        parts.append(f"  {exc.hint}")
    return "\n".join(parts)
