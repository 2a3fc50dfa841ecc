"""Bulk jobs (a directory pull, an index build, a phonebook publish) without pauses of the event loop.

Measured at 100k parties (docs/callerid.md, "Directory at scale"): the loop stalled for 130-370 ms at a
time during a sync, for two reasons, both handled here.

* **Full garbage collections.** A 100k directory is about 720,000 small container objects (parties,
  numbers, index answers). Every full collection walks every tracked object alive: 280 ms with one
  directory in memory, on whichever thread triggered it, holding the GIL, so the loop waits. The
  objects are never cyclic garbage (reference counting frees them), so :func:`gc_paused` keeps the
  collector off while a job builds them and, when the last job ends, moves every survivor into the
  permanent generation (``gc.freeze()``, O(1)) before switching it back on: later collections no
  longer walk the directory at all (full collection after the freeze: under 1 ms). Without the freeze
  the first young collection after the job would walk everything the job allocated (47 ms measured).
  A long job calls :func:`collect_young` between its steps (e.g. after each page of a pull): a young
  collection walks only what was allocated since the last one, and frees the HTTP client's reference
  cycles (each holding a page body) before the freeze could keep them.
* **Freeing the previous directory.** Dropping the last reference to a 100k snapshot and its index
  frees them in one cascade of deallocations: 34 + 58 ms in one C call, which no thread switch can
  interrupt. :func:`release` takes the objects apart in a worker thread in small slices instead, so
  the loop gets the GIL between slices.

The collector is one per process, so the pause is counted: overlapping jobs (a pull while the publisher
builds in a worker thread) re-enable it only when the last one ends, and only if it was enabled before
the first began.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collect_young", "gc_paused", "release"]

# Objects freed per slice in release(): about 0.5 ms of deallocation, well under the GIL switch interval.
_SLICE = 1000


class _Pause:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.was_enabled = False


# Process-wide on purpose: it mirrors the process-wide collector it switches.
_PAUSE = _Pause()


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection while the job runs; its survivors are frozen when the last job ends."""
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
            if p.depth == 0:
                gc.freeze()
                if p.was_enabled:
                    gc.enable()


def collect_young() -> None:
    """Collect the two young generations (what was allocated since the last call: one page's worth)."""
    gc.collect(1)


def release(held: list[list[object]]) -> None:
    """Drop the objects in ``held`` a slice at a time. Call it in a worker thread, with ``held`` holding
    the last references (the containers that held them already gone, or their items would survive):
    the lists are emptied last one first, from their ends, with a GIL release (``time.sleep(0)``) after
    each slice."""
    while held:
        items = held.pop()
        while items:
            del items[-_SLICE:]
            time.sleep(0)
