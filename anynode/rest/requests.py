"""Reading a REST request's body: bounded in size and in time, and JSON objects with a clear refusal."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from anynode import safejson
from anynode.rest.dialect import BadRequest, BodyTooLarge, ClientTooSlow

Receive = Callable[[], Awaitable[dict[str, Any]]]


class Gone(Exception):
    """The client disconnected before its request was complete."""


async def read_body(headers: dict[bytes, bytes], receive: Receive, limit: int, client_timeout: float) -> bytes:
    """The request body, refused past ``limit`` bytes (413) or when the client stalls past ``client_timeout`` (408).

    Raises:
        Gone: the client went away before the body's end.
    """
    declared = headers.get(b"content-length", b"")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is {int(declared)} bytes; this server accepts at most {limit}",
                           hint="send the rows in smaller parts")
    parts: list[bytes] = []
    size = 0
    while True:
        try:
            message = await asyncio.wait_for(receive(), client_timeout)
        except TimeoutError:
            raise ClientTooSlow(f"the body did not arrive within {client_timeout:g} s",
                                hint="send the whole request at once") from None
        if message["type"] == "http.disconnect":
            raise Gone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"the body is over {limit} bytes, the most this server accepts",
                               hint="send the rows in smaller parts")
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


def json_object(body: bytes, what: str) -> dict[str, Any]:
    """``body`` as a JSON object; a 400 that says what was sent and what is expected otherwise."""
    try:
        obj = safejson.loads(body) if body.strip() else None
    except ValueError as exc:
        raise BadRequest(f"{what}: the body is not JSON ({exc})", hint='send e.g. {"command": "get status"}') \
            from None
    if not isinstance(obj, dict):
        raise BadRequest(f"{what} needs a JSON object body", hint='send e.g. {"command": "get status"}')
    return obj
