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
        table = RichTable(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        for key, value in result.values.items():
            table.add_row(str(key), "" if value is None else str(value))
        return table
    table = RichTable(header_style="bold", show_lines=False)
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
        # An empty list or object shows as such ([]), even when its plain text (what an assignment stores) is empty.
        text = result.to_text()
        out.write((text or json.dumps(result.value) if isinstance(result.value, (list, dict)) else text) + "\n")
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

    if result.title:  # its own line: as a table's title it wraps to the width of a narrow table
        out.write(result.title + "\n")
    if width is not None:
        Console(file=out, highlight=False, soft_wrap=False, width=width, force_terminal=bool(color)).print(
            _rich_table(result))
        return
    Console(file=out, highlight=False, soft_wrap=False).print(_rich_table(result))


_RED, _YELLOW, _BOLD, _RESET = "\x1b[31m", "\x1b[33m", "\x1b[1m", "\x1b[0m"


def wants_color(stream: IO[str]) -> bool:
    """True when ``stream`` is a terminal and the user did not ask for no colour (NO_COLOR, TERM=dumb)."""
    import os

    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", None) and stream.isatty())


def error_text(exc: BaseException, line: str | None = None, debug: bool = False, color: bool = False) -> str:
    """An error as the lines a user sees: message, the word it is about, the hint.

    With ``debug``, the traceback comes first. Errors that are not
    AnyNodeError are bugs: they say so, in one line, unless ``debug``.
    ``color`` paints ``error:`` and the caret red and the hint yellow (for a terminal).
    """
    red, yellow, bold, reset = (_RED + _BOLD, _YELLOW, _BOLD, _RESET) if color else ("", "", "", "")
    parts: list[str] = []
    if debug:
        parts.append("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip())
    if not isinstance(exc, AnyNodeError):
        parts.append(f"{red}error:{reset} internal error {type(exc).__name__}: {exc} (run with --debug or "
                     "'set debug on' for the traceback, and please report it)")
        return "\n".join(parts)
    parts.append(f"{red}error:{reset} {bold}{exc.message}{reset}")
    offset = exc.offset
    hint = f" {yellow}{exc.hint}{reset}" if exc.hint else ""
    if line is not None and offset is not None and 0 <= offset <= len(line) and "\n" not in line:
        parts.append(f"  {line}")
        parts.append("  " + " " * offset + f"{red}^{reset}" + hint)
    elif exc.hint:
        parts.append(f"  {yellow}{exc.hint}{reset}")
    return "\n".join(parts)


def error_object(exc: BaseException) -> dict[str, Any]:
    """An error as the JSON object a REST client gets (AnyLog's err_code/err_text/local_msg, then anynode's fields)."""
    from anynode.codes import Code

    if not isinstance(exc, AnyNodeError):
        text = f"internal error: {type(exc).__name__}: {exc}"
        return {"err_code": int(Code.PROCESS_FAILURE), "err_text": text, "local_msg": text, "error": text,
                "kind": "InternalError", "status": 500, "code": int(Code.PROCESS_FAILURE)}
    return {"err_code": int(exc.anylog_code), "err_text": exc.one_line(), "local_msg": exc.message, **exc.to_wire()}


def write_error(exc: BaseException, err: IO[str], line: str | None = None, debug: bool = False,
                fmt: str = "table") -> None:
    """Write ``exc`` to ``err``: one JSON object with ``fmt`` json, else lines for people, coloured on a terminal."""
    if fmt == "json":
        err.write(json.dumps(error_object(exc), ensure_ascii=False) + "\n")
    else:
        err.write(error_text(exc, line, debug, color=wants_color(err)) + "\n")
    err.flush()
