"""The bridge from the REST event loop to its worker pool.

A leaner path than ``loop.run_in_executor`` + ``asyncio.wait_for`` (one
asyncio future, one timer handle, one cross-thread wake-up): it is on the hot
path of every command. A command that times out keeps its worker until it
returns (a Python thread cannot be interrupted); its result is dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor, Future
from functools import partial
from typing import Any


class Expired(Exception):
    """The work outlasted its timeout."""


class PoolClosed(Exception):
    """The pool is shut down (the server is stopping)."""


async def offload(executor: Executor, work: Callable[[], Any], timeout: float | None) -> Any:
    """Run ``work`` on ``executor`` and await its result, at most ``timeout`` seconds.

    Raises:
        Expired: the timeout passed first (the job is cancelled if not started).
        PoolClosed: the executor no longer accepts work.
        Exception: whatever ``work`` raised.
    """
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    try:
        job = executor.submit(work)
    except RuntimeError:
        raise PoolClosed() from None
    job.add_done_callback(partial(_deliver, loop, waiter))
    timer = loop.call_later(timeout, _expire, waiter) if timeout else None
    try:
        return await waiter
    except (Expired, asyncio.CancelledError):
        job.cancel()
        raise
    finally:
        if timer is not None:
            timer.cancel()


def _deliver(loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[Any], job: Future[Any]) -> None:
    """Worker side: hand a finished job back to the event loop."""
    try:
        loop.call_soon_threadsafe(_settle, waiter, job)
    except RuntimeError:  # the loop is closed: the server stopped, nobody waits
        pass


def _settle(waiter: asyncio.Future[Any], job: Future[Any]) -> None:
    if waiter.done():
        return
    if job.cancelled():
        waiter.cancel()
        return
    exc = job.exception()
    if exc is not None:
        waiter.set_exception(exc)
    else:
        waiter.set_result(job.result())


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(Expired())
