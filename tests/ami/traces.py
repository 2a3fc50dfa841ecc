"""Locate and replay the real AMI traces (tests/fixtures/ami-traces, copied from the lab captures)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pbx_bridge.ami.framing import parse_stream
from pbx_bridge.ami.outcome import CallRecord
from pbx_bridge.ami.tracker import CallTracker

_HERE = Path(__file__).resolve().parent
_TRACES = _HERE.parent / "fixtures" / "ami-traces"


def trace_dir() -> Path:
    if not (_TRACES / "answered.txt").is_file():
        raise FileNotFoundError(f"no AMI traces in {_TRACES} (the lab captures)")
    return _TRACES


def trace_events(name: str) -> Iterator[dict[str, str]]:
    yield from parse_stream((trace_dir() / name).read_bytes())


class FakeClock:
    def __init__(self, start: float = 1_795_850_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def replay(
    name: str, *, grace: float = 3.0, tracker: CallTracker | None = None, clock: FakeClock | None = None
) -> list[CallRecord]:
    """Feed a trace with the clock following each event's Timestamp; then let the grace run out."""
    clock = clock or FakeClock()
    tracker = tracker or CallTracker(clock=clock, grace=grace)
    out: list[CallRecord] = []
    for event in trace_events(name):
        if "Timestamp" in event:
            clock.now = max(clock.now, float(event["Timestamp"]))
        out.extend(tracker.feed(event))
    clock.now += grace + 1
    out.extend(tracker.tick())
    return out
