"""Framing and the tracker's event filter: what the filter drops unparsed changes no call's record.

Every captured trace (the plain lab, the FreePBX-shaped lab dialplan and, when present, the real FreePBX 17
calls) is replayed twice, once parsed whole and once through the filter the listener's connection applies;
both trackers must give the same records, field for field."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbx_bridge.ami.framing import EventFilter, FrameBuffer, parse_message, parse_stream
from pbx_bridge.ami.outcome import CallRecord
from pbx_bridge.ami.tracker import CallTracker
from tests.support.lab import freepbx17 as lab_freepbx17

from .traces import FakeClock, trace_dir


def _wire(data: bytes) -> bytes:
    """A capture as Asterisk sends it, every event with a Timestamp: the FreePBX 17 captures carry
    none, and both trackers' clocks must stand at the same time for the same event."""
    frames = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n").split(b"\r\n\r\n")
    for i, frame in enumerate(frames):
        if frame.startswith(b"Event: ") and b"\r\nTimestamp: " not in frame:
            frames[i] = frame + f"\r\nTimestamp: {1_795_850_000 + i / 1000:.3f}".encode()
    return b"\r\n\r\n".join(frames)


def _track(events: list[dict[str, str]]) -> tuple[list[CallRecord], CallTracker]:
    clock = FakeClock()
    tracker = CallTracker(clock=clock, grace=3.0)
    out: list[CallRecord] = []
    for event in events:
        if "Timestamp" in event:
            clock.now = max(clock.now, float(event["Timestamp"]))
        out.extend(tracker.feed(event))
    clock.now += 10
    out.extend(tracker.tick())
    return out, tracker


def _filtered(data: bytes, chunk: int) -> tuple[list[dict[str, str]], int]:
    fb = FrameBuffer(CallTracker(clock=FakeClock()).event_filter())
    wire = _wire(data)
    out = []
    for off in range(0, len(wire), chunk):
        out.extend(parse_message(raw) for raw in fb.feed(wire[off : off + chunk]))
    return out, fb.skipped


def _traces() -> list[Path]:
    here = sorted(p for p in trace_dir().rglob("*.txt") if p.read_bytes().count(b"Event: ") > 1)
    base = lab_freepbx17.folder()
    real = sorted((base / "traces").glob("*.ami.txt")) if base and (base / "traces").is_dir() else []
    return here + real


@pytest.mark.parametrize("path", _traces(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_filter_changes_no_record(path: Path) -> None:
    data = path.read_bytes()
    whole = list(parse_stream(_wire(data)))
    expected, full = _track(whole)
    # odd chunk sizes cut messages (and the filter's first lines) anywhere
    for chunk in (1 << 16, 997):
        kept, skipped = _filtered(data, chunk)
        got, tracker = _track(kept)
        assert got == expected
        assert len(kept) + skipped == len(whole)
        # what the filter dropped is exactly what the tracker would only have counted as ignored
        assert full.stats.events - full.stats.ignored == tracker.stats.events - tracker.stats.ignored


def _feed(data: bytes, flt: EventFilter) -> tuple[list[bytes], int]:
    fb = FrameBuffer(flt)
    return fb.feed(b"Asterisk Call Manager/11.0.0\r\n" + data), fb.skipped


FILTER = EventFilter({"Hangup"}, {"VarSet": ("Variable", {"VMSTATUS"})})


def test_unwanted_events_are_dropped_wanted_ones_and_answers_kept() -> None:
    frames, skipped = _feed(
        b"Event: Hangup\r\nUniqueid: 1\r\n\r\n"
        b"Event: Newexten\r\nUniqueid: 1\r\n\r\n"
        b"Event: VarSet\r\nVariable: VMSTATUS\r\nValue: SUCCESS\r\n\r\n"
        b"Event: VarSet\r\nVariable: OTHER\r\nValue: x\r\n\r\n"
        b"Response: Success\r\nActionID: 7\r\n\r\n"
        b"Event: VarSetX\r\n\r\n",
        FILTER,
    )
    assert [parse_message(f)["Event" if f.startswith(b"Event") else "Response"] for f in frames] == [
        "Hangup",
        "VarSet",
        "Success",
    ]
    assert skipped == 3


def test_an_unwanted_event_answering_an_action_still_reaches_panoramisk() -> None:
    # CoreShowChannel rows carry the action's ActionID: the connection hands them to panoramisk
    frames, skipped = _feed(
        b"Event: CoreShowChannel\r\nActionID: 12\r\nUniqueid: 1\r\n\r\n"
        b"Event: Newexten\r\nUniqueid: 1\r\n\r\n",
        FILTER,
    )
    assert frames == [b"Event: CoreShowChannel\r\nActionID: 12\r\nUniqueid: 1"] and skipped == 1


def test_unusual_messages_are_left_to_the_parser() -> None:
    frames, skipped = _feed(
        b"Event: VarSet\r\nValue: no variable line\r\n\r\n"  # the header is missing: kept
        b"Event: VarSet\r\nVariable:\r\n\r\n"  # written without the space: kept
        b"event: Newexten\r\n\r\n"  # not Asterisk's spelling: kept (the tracker ignores it)
        b"garbage without a colon\r\n\r\n"  # malformed: kept, so the connection logs it
        b"Event: Hangup",  # incomplete: waits for its blank line
        FILTER,
    )
    assert len(frames) == 4 and skipped == 0


def test_the_first_value_of_a_repeated_header_decides_as_the_parser_reads_it() -> None:
    first = b"Event: VarSet\r\nVariable: VMSTATUS\r\nVariable: OTHER\r\nValue: x"
    second = b"Event: VarSet\r\nVariable: OTHER\r\nVariable: VMSTATUS\r\nValue: x"
    frames, skipped = _feed(first + b"\r\n\r\n" + second + b"\r\n\r\n", FILTER)
    assert frames == [first] and skipped == 1
    assert parse_message(first)["Variable"] == "VMSTATUS" and parse_message(second)["Variable"] == "OTHER"


def test_a_wanted_value_on_the_last_line_is_kept() -> None:
    frames, skipped = _feed(b"Event: VarSet\r\nValue: x\r\nVariable: VMSTATUS\r\n\r\n", FILTER)
    assert len(frames) == 1 and skipped == 0
