"""Throttle and clip: a flood of one kind of line becomes the first line plus one summary per interval."""

from __future__ import annotations

import asyncio
import logging

import pytest

from pbx_bridge.log_limits import Throttle, clip, summarise_accept_errors
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.settings import parse_settings
from pbx_bridge.tickets.intake import TicketIntake
from tests.support.waits import wait_until
from tests.tickets.support import make_rig, record


def test_clip_keeps_short_values_and_cuts_a_5000_digit_number() -> None:
    assert clip("+14125550101") == "+14125550101"
    cut = clip("4" * 5000)
    assert cut.startswith("4" * 40) and cut.endswith("(5000 chars)") and len(cut) < 70


def test_throttle_first_line_then_one_summary_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = logging.getLogger("test.throttle")
    t = Throttle(log, interval=10, clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="test.throttle")
    for i in range(10_000):
        now[0] = i * 0.001  # 10,000 lines in 10 s
        t.log("junk", logging.WARNING, "junk from %s", f"peer{i}")
    t.log("other", logging.WARNING, "another kind")
    now[0] = 10.5
    t.log("junk", logging.WARNING, "junk from %s", "late")
    t.close()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "junk from peer0",
        "another kind",
        "junk from peer9999 (and 9999 more like it in the last 10 s)",
        "junk from late (and 1 more like it in the last 10 s)",
    ]


async def test_throttle_writes_the_summary_when_the_flood_stops(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.throttle2")
    caplog.set_level(logging.INFO, logger="test.throttle2")
    t = Throttle(log, interval=0.1)
    for _ in range(50):
        t.log("k", logging.WARNING, "same")
    await wait_until(lambda: len(caplog.records) == 2, timeout=0.8, what="the throttle's summary line")
    assert [r.getMessage() for r in caplog.records] == [
        "same",
        "same (and 49 more like it in the last 0.1 s)",
    ]
    t.close()


async def test_a_5000_digit_caller_number_is_never_logged_whole(itflow_sim, tmp_path, caplog) -> None:
    # A missed call whose caller number is 5,000 digits (a broken trunk, a hostile SIP peer): the ticket
    # is still queued, and no log line carries more than a short cut of the number.

    sim = await itflow_sim("v1-head")
    rig = await make_rig(sim, tmp_path)
    try:
        settings = parse_settings(f"itflow:\n  url: {sim.url}\n  api_key: x\n", env={})
        plan = NumberPlan(settings.numbers)
        intake = TicketIntake(settings.tickets, rig.outbox, is_internal=plan.is_internal, plan=plan)
        caplog.set_level(logging.DEBUG)
        assert await intake.handle(record("1800000300.9", number="4" * 5000))
    finally:
        await rig.itflow.aclose()
        rig.store.close()
    lines = [r.getMessage() for r in caplog.records]
    assert any("1800000300.9" in m for m in lines)
    assert max(len(m) for m in lines) < 300, max(lines, key=len)[:200]


async def test_accept_errors_become_one_line_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    # What asyncio reports on EMFILE (selector_events._accept_connection), 100 times; other loop errors
    # still reach the previous handler.
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _lp, ctx: seen.append(ctx["message"]))
    try:
        summarise_accept_errors(loop, Throttle(logging.getLogger("test.accept"), interval=60))
        caplog.set_level(logging.DEBUG)
        for _ in range(100):
            loop.call_exception_handler(
                {
                    "message": "socket.accept() out of system resource",
                    "exception": OSError(24, "Too many open files"),
                }
            )
        loop.call_exception_handler({"message": "something else"})
    finally:
        loop.set_exception_handler(previous)
    lines = [r for r in caplog.records if r.name == "test.accept"]
    assert [r.getMessage() for r in lines] == [
        "cannot accept a connection: socket.accept() out of system resource "
        "(OSError: [Errno 24] Too many open files)"
    ]
    assert lines[0].exc_info is None and seen == ["something else"]
