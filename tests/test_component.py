"""cancel_task: how components stop their background loops."""

from __future__ import annotations

import asyncio

from pbx_bridge.component import Health, all_of, cancel_task


async def test_a_cancelled_loop_unwinds_and_its_error_does_not_escape():
    unwound = asyncio.Event()

    async def loop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            unwound.set()
            raise RuntimeError("bug while unwinding")

    task = asyncio.get_running_loop().create_task(loop())
    await asyncio.sleep(0)
    await cancel_task(task, asyncio.get_running_loop().time() + 30)
    assert unwound.is_set() and task.done()


async def test_no_task_is_fine():
    await cancel_task(None, 0.0)


def test_all_of_is_ready_only_when_every_check_is_and_names_the_failing_ones() -> None:
    ok = lambda: Health(True, "db ok")  # noqa: E731
    bad = lambda: Health(False, "phonebook-state.json: not writable")  # noqa: E731
    assert all_of(ok, ok)() == Health(True, "db ok; db ok")
    combined = all_of(ok, bad)()
    assert not combined.ok
    assert combined.detail == "phonebook-state.json: not writable"
