"""The call board from a real captured trace, through the tracker's observer hook; what every open page
is sent."""

from __future__ import annotations

import asyncio

import pytest

from pbx_bridge.ami.tracker import CallTracker
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.screen.board import CallBoard, extension_of
from pbx_bridge.screen.links import ItflowLinks
from pbx_bridge.technicians import TechniciansSettings
from tests.ami.traces import FakeClock, replay


@pytest.mark.parametrize(
    ("channel", "ext"),
    [
        ("PJSIP/201-0000001c", "201"),
        ("SIP/202-00000a1b", "202"),
        ("Local/203@from-queue-00000004;2", "203"),
        ("PJSIP/pstn-00000002", "pstn"),
        ("", ""),
    ],
)
def test_extension_of_a_channel(channel: str, ext: str) -> None:
    assert extension_of(channel) == ext


async def test_a_queue_call_on_the_board() -> None:
    clock = FakeClock()
    people = TechniciansSettings.model_validate([{"name": "Dana <b>", "extensions": ["203"]}])
    board = CallBoard(
        index=lambda: None,
        plan=NumberPlan(),
        links=ItflowLinks("https://i.example"),
        technicians=people,
        clock=clock,
    )
    stream = board.listen()
    tracker = CallTracker(clock=clock, grace=3.0)
    tracker.observe(board.observe)
    replay("freepbx-like/did-queue-answered.txt", tracker=tracker, clock=clock)
    messages = []
    while not stream.empty():
        messages.append(await asyncio.wait_for(stream.get(), 1))
    states = [m["call"]["state"] for m in messages if m]
    assert states[0] == "ringing" and "answered" in states and states[-1] == "ended"
    final = messages[-1]["call"]
    assert final["answered_by"] == "203" and final["answered_by_name"] == "Dana <b>"  # escaped by the page
    assert final["outcome"] == "answered" and final["party"] == {"match": "unknown"}
    assert board.live == {} and list(board.recent) == [final["linkedid"]]


async def test_a_page_that_does_not_read_is_cut_off() -> None:
    clock = FakeClock()
    board = CallBoard(
        index=lambda: None,
        plan=NumberPlan(),
        links=ItflowLinks("https://i.example"),
        technicians=TechniciansSettings(),
        clock=clock,
    )
    stream = board.listen()
    tracker = CallTracker(clock=clock, grace=3.0)
    tracker.observe(board.observe)
    for _ in range(30):  # far more than the backlog of one page
        replay("answered.txt", tracker=tracker, clock=clock)
    assert stream.qsize() == 1 and stream.get_nowait() is None  # the end: the browser reconnects


async def test_a_call_in_voicemail_is_shown_as_such() -> None:
    clock = FakeClock()
    board = CallBoard(
        index=lambda: None,
        plan=NumberPlan(),
        links=ItflowLinks("https://i.example"),
        technicians=TechniciansSettings(),
        clock=clock,
    )
    stream = board.listen()
    tracker = CallTracker(clock=clock, grace=3.0)
    tracker.observe(board.observe)
    replay("voicemail.txt", tracker=tracker, clock=clock)
    states = []
    while not stream.empty():
        message = stream.get_nowait()
        assert message is not None
        states.append(message["call"]["state"])
    assert "voicemail" in states and states.index("voicemail") > states.index("ringing")
    assert states[-1] == "ended"
