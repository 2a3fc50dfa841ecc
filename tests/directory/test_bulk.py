"""Bulk-job helpers: the sliced sort gives exactly sorted()'s order; the pause freezes what survived."""

from __future__ import annotations

import gc
import random

from pbx_bridge.directory.bulk import gc_paused, release, sorted_in_slices


def test_sorted_in_slices_is_sorted_and_stable() -> None:
    rng = random.Random(1)
    # Many equal keys across slices: stability decides the order of the (key, serial) pairs.
    items = [(rng.randrange(50), i) for i in range(20_000)]
    assert sorted_in_slices(items, key=lambda x: x[0], slice_size=300) == sorted(items, key=lambda x: x[0])


def test_release_empties_what_it_was_given() -> None:
    a, b = [object() for _ in range(2500)], list(range(10))
    release([a, b])
    assert a == [] and b == []


def test_objects_surviving_a_paused_job_are_frozen_and_collection_resumes() -> None:
    was = gc.isenabled()
    gc.enable()
    try:
        frozen_before = gc.get_freeze_count()
        with gc_paused():
            assert not gc.isenabled()
            kept = [[i] for i in range(1000)]  # survivors: container objects the collector tracks
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen_before + len(kept)
    finally:
        gc.unfreeze()
        if not was:
            gc.disable()
