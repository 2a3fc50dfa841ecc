"""Bounded waits on a condition: the one way tests wait for something to happen.

A wait is a hang guard, not a timing assertion (tests/support/LAB.md; the repository's
rule "no timed assertions; every wait bounded"): the predicate is polled until it holds
or `timeout` seconds pass, and a timeout fails with a message naming what was awaited.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

__all__ = ["wait_until", "wait_until_sync"]

_POLL = 0.02


async def wait_until(
    predicate: Callable[[], object | Awaitable[object]],
    *,
    # not asyncio.timeout: a wait that runs out must say what it waited for
    timeout: float,  # noqa: ASYNC109
    what: str,
    poll: float = _POLL,
    detail: Callable[[], str] | None = None,
) -> None:
    """Poll `predicate` (sync or async) until truthy; AssertionError naming `what` after `timeout` s."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > end:
            extra = f"\n{detail()}" if detail is not None else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{extra}")
        await asyncio.sleep(poll)


def wait_until_sync(
    predicate: Callable[[], object],
    *,
    timeout: float,
    what: str,
    poll: float = _POLL,
) -> None:
    """The blocking twin of `wait_until`, for tests without an event loop."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll)
