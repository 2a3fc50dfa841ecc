"""Keeping the log small under floods: values cut to a readable length, repeated lines summarised.

A scanner, a flood of FastAGI connections or a client sending junk must not turn into one log line (or a
traceback) per event: the log is where an operator looks first, and journald drops lines from a unit
that writes too fast. :class:`Throttle` logs the first line of a kind at once, then at most one summary
line per ``interval`` with the count of the lines it held back and the last of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Throttle", "clip"]

_MAX_KINDS = 256  # kinds are fixed message categories; a bound anyway, so no input can grow the table


def clip(value: object, limit: int = 40) -> str:
    """``value`` as text of at most ``limit`` characters (a caller number of 5,000 digits stays short),
    the cut marked with the full length: ``'41255501011...' (5000 chars)``."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} chars)"


@dataclass
class _Kind:
    window_end: float
    held: int = 0
    last: tuple[int, str, tuple[object, ...]] = (logging.INFO, "", ())
    extra: dict[str, object] = field(default_factory=dict)


class Throttle:
    """Rate-limited log lines per kind: the first at once, then one summary per ``interval`` seconds.

    ``throttle.log("fastagi.refused", logging.WARNING, "FastAGI: refused %s", peer)``. While lines of a
    kind keep coming, each interval ends with one line: the last message plus "(and N more like it in the
    last 10 s)". A timer on the running loop writes the summary when the flood stops, so the count is never
    lost; without a loop it is written with the next line of the kind or by :meth:`flush`.
    """

    def __init__(
        self, logger: logging.Logger, *, interval: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.logger = logger
        self.interval = interval
        self._clock = clock
        self._kinds: dict[str, _Kind] = {}
        self._timer: asyncio.TimerHandle | None = None
        self.held_total = 0  # lines held back so far (a metric for tests and health)

    def log(self, kind: str, level: int, msg: str, *args: object) -> None:
        now = self._clock()
        state = self._kinds.get(kind)
        if state is not None and (now < state.window_end or state.held):
            if now >= state.window_end:  # still coming after a window: its summary, then a new one
                self._summary(state)
                state.window_end = now + self.interval
            state.held += 1
            state.last = (level, msg, args)
            self.held_total += 1
            self._arm(state.window_end)
            return
        if state is None and len(self._kinds) >= _MAX_KINDS:
            self._kinds.pop(next(iter(self._kinds)))
        self._kinds[kind] = _Kind(window_end=now + self.interval)
        self.logger.log(level, msg, *args)

    def flush(self) -> None:
        """Write the summaries of ended windows; forget kinds that went quiet."""
        self._timer = None
        now = self._clock()
        next_end: float | None = None
        for kind, state in list(self._kinds.items()):
            if now + 0.001 < state.window_end:
                next_end = state.window_end if next_end is None else min(next_end, state.window_end)
                continue
            if state.held:
                self._summary(state)
                state.window_end = now + self.interval  # a steady flood: one summary per interval
            else:
                del self._kinds[kind]
        if next_end is not None and any(s.held for s in self._kinds.values()):
            self._arm(next_end)

    def _summary(self, state: _Kind) -> None:
        level, msg, args = state.last
        self.logger.log(
            level, msg + " (and %d more like it in the last %g s)", *args, state.held, self.interval
        )
        state.held = 0

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(max(0.0, when - self._clock()), self.flush)

    def close(self) -> None:
        """Write what is still held (at shutdown) and stop the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for state in self._kinds.values():
            if state.held:
                self._summary(state)
        self._kinds.clear()


_ACCEPT_MESSAGES = ("socket.accept() out of system resource", "Error on transport creation")


def summarise_accept_errors(loop: asyncio.AbstractEventLoop, throttle: Throttle) -> None:
    """Route asyncio's accept failures (EMFILE and friends, logged with a traceback each) through
    ``throttle`` as one line per interval; every other loop error goes where it went before."""
    previous = loop.get_exception_handler()
    if getattr(previous, "pbxb_accept_summary", False):
        return

    def handler(lp: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        if message.startswith(_ACCEPT_MESSAGES):
            exc = context.get("exception")
            throttle.log(
                "accept",
                logging.WARNING,
                "cannot accept a connection: %s (%s)",
                message,
                f"{type(exc).__name__}: {exc}" if exc else "no detail",
            )
        elif previous is not None:
            previous(lp, context)
        else:
            lp.default_exception_handler(context)

    handler.pbxb_accept_summary = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)
