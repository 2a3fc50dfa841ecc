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
* **A worker thread holding the GIL.** A pull converts its pages and builds the index in a worker
  thread; each time the loop wakes (a FastAGI line arrived) it waits for the worker to hand over the
  GIL, at most the switch interval (CPython's default: 5 ms) per wake, and a FastAGI session wakes it
  seven times. :func:`share_the_gil` shortens the interval to 0.5 ms for the daemon's process (loop
  lags over 8 ms during a 100k sync: max 31-130 ms at 5 ms, 18 ms at 0.5 ms, on a busy machine).
* **One long C call.** Sorting 100k phonebook rows is a single C call (1.7 million comparisons of
  tuples) that keeps the GIL for its whole length (57 ms measured); :func:`sorted_in_slices` sorts
  slices of a few thousand and merges them in Python (``heapq.merge``), which yields the GIL between
  items. The same order: the merge is stable, as ``sorted`` is.
* **Memory kept after a job.** The C allocator keeps freed memory for reuse instead of returning it
  to the system; :func:`trim_heap` (glibc's ``malloc_trim``) hands it back after a job (100k: 33 MB
  of 252 MB after a sync). A no-op where the C library has no such call.
* **Freeing the previous directory.** Dropping the last reference to a 100k snapshot and its index
  frees them in one cascade of deallocations: 34 + 58 ms in one C call, which no thread switch can
  interrupt. :func:`release` takes the objects apart in a worker thread in small slices instead, so
  the loop gets the GIL between slices.

The collector is one per process, so the pause is counted: overlapping jobs (a pull while the publisher
builds in a worker thread) re-enable it only when the last one ends, and only if it was enabled before
the first began.
"""

from __future__ import annotations

import ctypes
import gc
import heapq
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = [
    "collect_young",
    "gc_paused",
    "limit_heaps",
    "release",
    "share_the_gil",
    "sorted_in_slices",
    "trim_heap",
]

T = TypeVar("T")

# The GIL switch interval for the daemon (seconds): see the module doc.
_SWITCH_INTERVAL = 0.0005

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


def sorted_in_slices(items: list[T], key: Callable[[T], Any], slice_size: int = 4096) -> list[T]:
    """``sorted(items, key=key)``, with the GIL given up between items (see the module doc)."""
    if len(items) <= slice_size:
        return sorted(items, key=key)
    runs = [sorted(items[i : i + slice_size], key=key) for i in range(0, len(items), slice_size)]
    return list(heapq.merge(*runs, key=key))


def collect_young() -> None:
    """Collect the two young generations (what was allocated since the last call: one page's worth)."""
    gc.collect(1)


def release(held: list[list[Any]]) -> None:
    """Drop the objects in ``held`` a slice at a time. Call it in a worker thread, with ``held`` holding
    the last references (the containers that held them already gone, or their items would survive):
    the lists are emptied last one first, from their ends, with a GIL release (``time.sleep(0)``) after
    each slice."""
    while held:
        items = held.pop()
        while items:
            del items[-_SLICE:]
            time.sleep(0)
    trim_heap()


# glibc's mallopt parameter for the number of heaps ("arenas") threads allocate from (malloc.h).
_M_ARENA_MAX = -8
_ARENAS = 2


def limit_heaps() -> None:
    """At most two glibc heaps for the process (call before threads start). glibc gives worker threads
    heaps of their own, up to eight per core; each keeps the high-water of the bulk jobs run on it,
    and freed memory in one cannot serve another (the daemon idle after a 100k sync and publish: 194 MB
    with two, 224 MB without, one run each). A no-op where the C library has no ``mallopt``."""
    try:
        mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    except OSError:
        return
    if mallopt is not None:
        mallopt(_M_ARENA_MAX, _ARENAS)


def share_the_gil() -> None:
    """Let the event loop take the GIL from a busy worker thread within 0.5 ms (process-wide)."""
    sys.setswitchinterval(_SWITCH_INTERVAL)


def trim_heap() -> None:
    """Return the C heap's free memory to the system (glibc; ctypes releases the GIL meanwhile)."""
    try:
        trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # the process's own symbols: no search
    except OSError:
        return
    if trim is not None:
        trim(0)
