"""The body of a REST reply to a command, as AnyLog shapes it.

AnyLog answers a command over REST with what its prompt prints for it: a
sentence for ``get status``, a text table for ``get processes`` or ``sql ...
format = table``, JSON when the command was asked for JSON (``where format =
json``) or is JSON by nature (``blockchain get``, ``sql`` without a format).
:func:`anylog_body` gives that body and a content type that says what it is;
:func:`json_body` gives anynode's earlier form (every table, record and value
as JSON), which ``run rest server where replies = json`` keeps for clients
written against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from anynode.results import Batch, Empty, Json, Message, Record, Replies, Result, StreamedJson, Table

TEXT_PLAIN = b"text/plain; charset=utf-8"
JSON = b"application/json"
MODES = ("anylog", "json")
"""The reply forms ``run rest server where replies = ...`` accepts (the first is the default)."""


def dumps(value: Any) -> bytes:
    """Compact JSON, UTF-8, values JSON cannot hold as their text."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def is_json(result: Result) -> bool:
    """True when ``result`` is a JSON object or array (or peers' answers that all are, or a line of them)."""
    if isinstance(result, Json):
        return isinstance(result.value, (dict, list))
    if isinstance(result, Replies):
        return bool(result.replies) and all(r.result is None or is_json(r.result) for r in result.replies)
    if isinstance(result, Batch):
        return bool(result.results) and all(is_json(r) for r in result.results)
    return False


def prompt_text(result: Result) -> str:
    """What the prompt prints for ``result`` when its output is not a terminal (a pipe, ``anynode -e``).

    The same lines as :func:`anynode.output.render.render` writes there; a
    test holds the two equal.
    """
    if isinstance(result, Batch):
        return "".join(prompt_text(child) for child in result.results)
    if isinstance(result, Message):
        return result.text + "\n"
    if isinstance(result, Json):
        text = result.to_text()
        if isinstance(result.value, (list, dict)) and not text:
            text = json.dumps(result.value)
        return text + "\n"
    text = result.to_text()
    return text + "\n" if text or isinstance(result, (Table, Record)) else ""


def anylog_body(result: Result) -> tuple[bytes, bytes]:
    """(body, content type) as AnyLog answers: JSON for JSON, else the prompt's text.

    A one-line text comes without its newline, as AnyLog sends ``get
    status``; a longer one keeps its last newline, as AnyLog's tables do.
    No output is an empty body.
    """
    if isinstance(result, Message):  # the hot path (get status): the same as below, without the copies
        text = result.text
        return (text if "\n" not in text else text + "\n").encode(), TEXT_PLAIN
    if isinstance(result, Empty):
        return b"", TEXT_PLAIN
    if is_json(result):
        return dumps(result.to_json()), JSON
    text = prompt_text(result)
    if text.count("\n") == 1 and text.endswith("\n"):
        text = text[:-1]
    return text.encode(), TEXT_PLAIN


def json_body(result: Result) -> tuple[bytes, bytes]:
    """(body, content type) in anynode's earlier form: a message as text, everything else as JSON."""
    if isinstance(result, Message):
        return result.text.encode(), TEXT_PLAIN
    if isinstance(result, Empty):
        return b"", TEXT_PLAIN
    return dumps(result.to_json()), JSON


def body_of(result: Result, mode: str) -> tuple[bytes, bytes]:
    """(body, content type) of a command's result in the server's reply ``mode`` (one of :data:`MODES`)."""
    return json_body(result) if mode == "json" else anylog_body(result)


ROWS_KEY = "Query"


def streams(result: Result) -> bool:
    """True when ``result`` is a network query's JSON answer whose rows can go out as they arrive."""
    if not isinstance(result, StreamedJson):
        return False
    shell = result.shell()
    return isinstance(shell, dict) and shell.get(ROWS_KEY) == []


def json_pieces(result: StreamedJson) -> Iterator[bytes]:
    """The body of a streamed JSON answer in pieces, as the rows arrive: ``{"Query":[...],"Statistics":[...]}``.

    The same bytes as ``dumps(result.to_json())``, without ever holding
    every row: each chunk is encoded and sent, then dropped.
    """
    columns = result.columns
    yield b'{"' + ROWS_KEY.encode() + b'":['
    first = True
    for chunk in result.chunks():
        if not chunk:
            continue
        piece = b",".join(dumps(dict(zip(columns, row, strict=False))) for row in chunk)
        yield piece if first else b"," + piece
        first = False
    rest = {k: v for k, v in result.shell().items() if k != ROWS_KEY}  # the statistics, complete now
    yield b"]," + dumps(rest)[1:] if rest else b"]}"
