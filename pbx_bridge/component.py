"""The shape every long-running part of the daemon has, so ``service.py`` can start, stop and report them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(slots=True)
class Health:
    ok: bool
    detail: str = ""
    data: dict[str, object] = field(default_factory=dict)


def all_of(*checks: Callable[[], Health]) -> Callable[[], Health]:
    """One readiness check made of several: ready when all are, the failing ones' details first."""

    def check() -> Health:
        results = [c() for c in checks]
        failing = [h.detail for h in results if not h.ok]
        if failing:
            return Health(False, "; ".join(failing))
        return Health(True, "; ".join(h.detail for h in results if h.detail))

    return check


@runtime_checkable
class Component(Protocol):
    name: str

    async def start(self) -> None:
        """Start serving; return once ready (or once the first attempt failed and retries are scheduled)."""

    async def stop(self, deadline: float) -> None:
        """Drain in-flight work until ``deadline`` (loop.time()), then stop."""

    def health(self) -> Health:
        """Cheap, synchronous: for /readyz and metrics."""


async def cancel_task(task: asyncio.Task[object] | None, deadline: float) -> None:
    """Stop a component's background loop: cancel it and wait for it to unwind, at most until
    ``deadline`` (loop.time(); at least 0.1 s). Whatever the loop raises while unwinding is its own
    business: stopping never fails because of it."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(task, timeout=max(0.1, deadline - asyncio.get_running_loop().time()))
