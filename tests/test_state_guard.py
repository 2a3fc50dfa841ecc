"""The state guard on a temporary in-memory store: the problem is repeated while it lasts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pbx_bridge.state_guard import StateGuard
from pbx_bridge.store import Store

from .support.waits import wait_until


async def test_running_on_a_memory_store_is_said_again_and_readiness_stays_red(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Store(Path(":memory:"))
    guard = StateGuard(store, problem="state database /x/pbx-bridge.sqlite3 is unusable", remind_every=0.05)
    caplog.set_level(logging.ERROR, logger="pbx_bridge.state")
    await guard.start()
    try:
        await wait_until(
            lambda: sum("STILL NOT IN USE" in r.getMessage() for r in caplog.records) >= 2,
            timeout=4,
            what="two STILL NOT IN USE reminders",
        )
        reminders = [r.getMessage() for r in caplog.records if "STILL NOT IN USE" in r.getMessage()]
        assert len(reminders) >= 2 and "/x/pbx-bridge.sqlite3" in reminders[0], reminders
        assert not guard.health().ok and "/x/pbx-bridge.sqlite3" in guard.health().detail
    finally:
        await guard.stop(0)
        store.close()
