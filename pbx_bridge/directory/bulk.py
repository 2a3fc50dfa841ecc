"""``gc_paused()``: no cyclic garbage collection while a bulk job builds a whole directory or phonebook.

Why: a 100k directory is millions of small container objects (parties, numbers, index answers, entries).
Building them triggers CPython's cyclic collector over and over, and each full collection walks every
tracked object alive (the previous snapshot and index included): about 15 % of a 100k phonebook
publish and of a pull, for garbage that is never cyclic (reference counting frees it). The jobs are
bounded (seconds), so collection merely waits until they end.

The collector is one per process, so the pause is counted: overlapping jobs (a pull converting pages
in a worker thread while the publisher runs in another) re-enable it only when the last one ends, and
only if it was enabled before the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


class _Pause:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.was_enabled = False


# Process-wide on purpose: it mirrors the process-wide collector it switches.
_PAUSE = _Pause()


@contextmanager
def gc_paused() -> Iterator[None]:
    p = _PAUSE
    with p.lock:
        if p.depth == 0:
            p.was_enabled = gc.isenabled()
            gc.disable()
        p.depth += 1
    try:
        yield
    finally:
        with p.lock:
            p.depth -= 1
            if p.depth == 0 and p.was_enabled:
                gc.enable()
