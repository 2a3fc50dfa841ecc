"""The shape every long-running part of the daemon has, so ``service.py`` can start, stop and report them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(slots=True)
class Health:
    ok: bool
    detail: str = ""
    data: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Component(Protocol):
    name: str

    async def start(self) -> None:
        """Start serving; return once ready (or once the first attempt failed and retries are scheduled)."""

    async def stop(self, deadline: float) -> None:
        """Drain in-flight work until ``deadline`` (loop.time()), then stop."""

    def health(self) -> Health:
        """Cheap, synchronous: for /readyz and metrics."""
