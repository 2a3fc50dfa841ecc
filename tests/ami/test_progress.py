"""The tracker's observer hook (``CallTracker.observe``): what the calls page sees of a call while it
runs, from real captured traces; observing changes no outcome."""

from __future__ import annotations

from pbx_bridge.ami.progress import CallProgress
from pbx_bridge.ami.tracker import CallTracker

from .traces import FakeClock, replay


def _watch(name: str) -> tuple[list[CallProgress], list[str]]:
    clock = FakeClock()
    tracker = CallTracker(clock=clock, grace=3.0)
    seen: list[CallProgress] = []
    tracker.observe(seen.append)
    records = replay(name, tracker=tracker, clock=clock)
    return seen, [r.outcome.value for r in records]


def test_a_queue_call_rings_then_is_answered_then_ends() -> None:
    seen, outcomes = _watch("freepbx-like/did-queue-answered.txt")
    assert outcomes == [p.outcome for p in seen if p.outcome] == ["answered"]
    names = [p.event.get("Event") for p in seen]
    first_dial = names.index("DialBegin")
    first_answer = next(i for i, p in enumerate(seen) if p.answered)
    assert first_dial < first_answer < len(seen) - 1
    assert seen[first_answer].answered_by.startswith("PJSIP/203-")
    assert seen[-1].all_down and seen[-1].outcome == "answered" and not seen[-1].event
    assert len({p.linkedid for p in seen}) == 1


def test_a_missed_call_is_never_answered() -> None:
    seen, outcomes = _watch("freepbx-like/did-ext-missed.txt")
    assert not any(p.answered for p in seen)
    assert seen[-1].outcome == outcomes[0] == "missed"


def test_observing_changes_no_outcome() -> None:
    for name in (
        "answered.txt",
        "voicemail.txt",
        "queue-abandon.txt",
        "freepbx-like/did-ringgroup-missed.txt",
    ):
        assert _watch(name)[1] == [r.outcome.value for r in replay(name)]


def test_an_unsubscribed_observer_hears_nothing() -> None:
    clock = FakeClock()
    tracker = CallTracker(clock=clock)
    seen: list[CallProgress] = []
    stop = tracker.observe(seen.append)
    stop()
    replay("answered.txt", tracker=tracker, clock=clock)
    assert seen == []


def test_a_call_that_reaches_voicemail_says_so_before_it_ends() -> None:
    seen, outcomes = _watch("voicemail.txt")
    assert outcomes == ["voicemail"]
    first = next(i for i, p in enumerate(seen) if p.voicemail)
    assert not seen[first].all_down and not seen[first].answered  # while the caller is still on
    assert not any(p.voicemail for p in seen[:first])
