"""The call tracker on every lab trace (plain lab and the former hand-written FreePBX-shaped lab dialplan),
plus the loss/expiry paths. The real FreePBX 17 traces: test_tracker_freepbx17.py."""

from __future__ import annotations

import pytest

from pbx_bridge.ami.outcome import Outcome
from pbx_bridge.ami.tracker import CallTracker

from .traces import FakeClock, replay, trace_events

# trace -> (outcome, caller number, dialled/DID, queue, mailbox, voicemail msg)
EXPECTED = {
    "answered.txt": (Outcome.ANSWERED, "15551230001", "201", "", "", ""),
    "answered-fastagi-down.txt": (Outcome.ANSWERED, "15551230001", "201", "", "", ""),
    "busy-vm-no-message.txt": (Outcome.VOICEMAIL_NO_MESSAGE, "15551230002", "201", "", "201@default", ""),
    "fastagi-querystring.txt": (Outcome.APPLICATION, "15551230001", "301", "", "", ""),
    "ivr-balance.txt": (Outcome.APPLICATION, "15551230001", "300", "", "", ""),
    "ivr-balance-caller-hangup.txt": (Outcome.APPLICATION, "15551230002", "300", "", "", ""),
    "missed-caller-hangup.txt": (Outcome.MISSED, "15551230002", "202", "", "", ""),
    "noanswer-vm-no-message.txt": (Outcome.VOICEMAIL_NO_MESSAGE, "15559990000", "202", "", "202@default", ""),
    "queue-abandon.txt": (Outcome.ABANDONED, "15551230002", "400", "support", "", ""),
    "voicemail.txt": (Outcome.VOICEMAIL, "15551230001", "202", "", "202@default", "msg0000"),
    "freepbx-like/did-ext-answered.txt": (Outcome.ANSWERED, "15551230001", "5551004", "", "", ""),
    "freepbx-like/did-ext-missed.txt": (Outcome.MISSED, "15551230002", "5551000", "", "", ""),
    "freepbx-like/did-ext-voicemail.txt": (
        Outcome.VOICEMAIL,
        "15551230001",
        "5551000",
        "",
        "202@default",
        "msg0000",
    ),
    "freepbx-like/did-ivr-balance.txt": (Outcome.APPLICATION, "15551230001", "5551003", "", "", ""),
    "freepbx-like/did-queue-abandon.txt": (Outcome.ABANDONED, "15551230002", "5551002", "400", "", ""),
    "freepbx-like/did-queue-answered.txt": (Outcome.ANSWERED, "15551230001", "5551002", "400", "", ""),
    "freepbx-like/did-ringgroup-answered.txt": (Outcome.ANSWERED, "15551230001", "5551001", "", "", ""),
    "freepbx-like/did-ringgroup-missed.txt": (Outcome.MISSED, "15551230002", "5551001", "", "", ""),
    "freepbx-like/did-ringgroup-noanswer-vm.txt": (
        Outcome.VOICEMAIL_NO_MESSAGE,
        "15559990000",
        "5551001",
        "",
        "201@default",
        "",
    ),
    "freepbx-like/internal-answered.txt": (Outcome.INTERNAL, "201", "202", "", "", ""),
}


@pytest.mark.parametrize("trace", sorted(EXPECTED))
def test_each_trace_gives_exactly_one_expected_outcome(trace: str) -> None:
    records = replay(trace)
    assert len(records) == 1, [r.outcome for r in records]
    rec = records[0]
    outcome, number, did, queue, mailbox, msg = EXPECTED[trace]
    assert (rec.outcome, rec.caller_num, rec.did, rec.queue, rec.mailbox, rec.voicemail_msg) == (
        outcome,
        number,
        did,
        queue,
        mailbox,
        msg,
    )
    assert rec.started is not None and rec.ended is not None and rec.ended >= rec.started


def test_filtered_user_sees_the_same_outcomes() -> None:
    # The recommended eventfilter user: 57 events for two calls, still both outcomes.
    records = replay("freepbx-like/filtered-user-queue-answered-and-voicemail.txt")
    assert [r.outcome for r in records] == [Outcome.ANSWERED, Outcome.VOICEMAIL]
    assert records[1].voicemail_path.endswith("/202/INBOX/msg0001")


def test_answered_names_the_phone_not_the_local_half() -> None:
    rec = replay("freepbx-like/did-queue-answered.txt")[0]
    assert rec.answered_by.startswith("PJSIP/203-")
    assert rec.ring_seconds == pytest.approx(1.0, abs=0.1)
    assert rec.talk_seconds > 2


def test_not_final_before_all_hangups_plus_grace() -> None:
    clock = FakeClock()
    tracker = CallTracker(clock=clock, grace=3.0)
    out = []
    for ev in trace_events("voicemail.txt"):
        clock.now = float(ev.get("Timestamp", clock.now))
        out += tracker.feed(ev)
    assert out == [] and tracker.active == 1
    clock.now += 2.9
    assert tracker.tick() == []
    clock.now += 0.2
    assert [r.outcome for r in tracker.tick()] == [Outcome.VOICEMAIL]
    assert tracker.active == 0


def test_cdr_after_final_hangups_and_before_them_give_the_same_record() -> None:
    events = list(trace_events("freepbx-like/did-queue-abandon.txt"))
    cdrs = [e for e in events if e.get("Event") == "Cdr"]
    others = [e for e in events if e.get("Event") != "Cdr"]
    for order in (others + cdrs, cdrs[:1] + others + cdrs[1:]):
        clock = FakeClock()
        tracker = CallTracker(clock=clock, grace=3.0)
        out = []
        for ev in order:
            clock.now = max(clock.now, float(ev.get("Timestamp", clock.now)))
            out += tracker.feed(ev)
        clock.now += 5
        out += tracker.tick()
        assert [r.outcome for r in out] == [Outcome.ABANDONED]


def test_cdr_linkedid_mapping_is_used_when_present() -> None:
    clock = FakeClock()
    tracker = CallTracker(clock=clock, grace=1.0)
    lid = "1800000000.1"
    tracker.feed(
        {
            "Event": "Newchannel",
            "Uniqueid": lid,
            "Linkedid": lid,
            "Channel": "PJSIP/t-1",
            "CallerIDNum": "<unknown>",
            "Context": "from-pstn",
            "Exten": "5551000",
        }
    )
    # the Cdr of a channel we never saw, mapped by cdr_manager's "linkedid => Linkedid"
    tracker.feed(
        {
            "Event": "Cdr",
            "UniqueID": "1800000000.9",
            "Linkedid": lid,
            "Source": "15550001111",
            "LastApplication": "Dial",
            "Disposition": "NO ANSWER",
        }
    )
    tracker.feed({"Event": "Hangup", "Uniqueid": lid, "Linkedid": lid})
    clock.now += 2
    (rec,) = tracker.tick()
    assert rec.linkedid == lid


def test_number_from_cdr_source_when_callerid_unknown() -> None:
    clock = FakeClock()
    tracker = CallTracker(clock=clock, grace=1.0)
    lid = "1800000000.2"
    tracker.feed(
        {
            "Event": "Newchannel",
            "Uniqueid": lid,
            "Linkedid": lid,
            "Channel": "PJSIP/t-2",
            "CallerIDNum": "",
            "CallerIDName": "",
            "Context": "from-pstn",
            "Exten": "5551000",
        }
    )
    tracker.feed(
        {
            "Event": "Cdr",
            "UniqueID": lid,
            "Source": "15550002222",
            "CallerID": '"M\xfcller \ufffd',
            "LastApplication": "Dial",
            "Disposition": "NO ANSWER",
        }
    )
    tracker.feed(
        {
            "Event": "DialEnd",
            "Uniqueid": lid,
            "Linkedid": lid,
            "Channel": "PJSIP/t-2",
            "DestChannel": "PJSIP/202-1",
            "DialStatus": "CANCEL",
        }
    )
    tracker.feed({"Event": "Hangup", "Uniqueid": lid, "Linkedid": lid})
    clock.now += 2
    (rec,) = tracker.tick()
    assert (rec.outcome, rec.caller_num) == (Outcome.MISSED, "15550002222")


def _open_call(name: str, cut_after: str) -> tuple[FakeClock, CallTracker, list[dict[str, str]]]:
    events = list(trace_events(name))
    idx = next(i for i, e in enumerate(events) if e.get("Event") == cut_after)
    clock = FakeClock()
    tracker = CallTracker(clock=clock, grace=3.0)
    for ev in events[: idx + 1]:
        clock.now = max(clock.now, float(ev.get("Timestamp", clock.now)))
        assert tracker.feed(ev) == []
    return clock, tracker, events[idx + 1 :]


def test_shutdown_mid_call_is_lost_not_invented() -> None:
    _clock, tracker, _ = _open_call("missed-caller-hangup.txt", "DialBegin")
    (rec,) = tracker.feed({"Event": "Shutdown", "Shutdown": "Uncleanly", "Restart": "True"})
    assert rec.outcome is Outcome.LOST and tracker.active == 0
    assert tracker.stats.lost == 1


def test_connection_lost_then_channels_gone_is_lost() -> None:
    clock, tracker, _ = _open_call("voicemail.txt", "DialBegin")
    assert tracker.connection_lost() == []
    clock.now += 60
    # Asterisk restarted: its channel list has none of our channels (Uniqueids start again elsewhere).
    row = {"Uniqueid": "1795999999.0", "Linkedid": "1795999999.0", "Channel": "PJSIP/x-1"}
    (rec,) = tracker.resync([row])
    assert rec.outcome is Outcome.LOST
    assert tracker.active == 1  # the new call was adopted so its end is seen


def test_connection_blip_with_channels_alive_keeps_tracking() -> None:
    clock, tracker, rest = _open_call("voicemail.txt", "DialBegin")
    tracker.connection_lost()
    alive = [
        {"Uniqueid": "1795850021.4", "Linkedid": "1795850021.4"},
        {"Uniqueid": "1795850021.5", "Linkedid": "1795850021.4"},
    ]
    assert tracker.resync(alive) == []
    out = []
    for ev in rest:
        clock.now = max(clock.now, float(ev.get("Timestamp", clock.now)))
        out += tracker.feed(ev)
    clock.now += 5
    out += tracker.tick()
    assert [r.outcome for r in out] == [Outcome.VOICEMAIL]
    assert "resynced after reconnect" in out[0].notes


def test_calls_whose_hangups_were_lost_expire_as_lost() -> None:
    clock, tracker, _ = _open_call("answered.txt", "DialEnd")
    clock.now += 3599
    tracker.max_call_age = 3600
    assert tracker.expire() == []
    clock.now += 2
    (rec,) = tracker.expire()
    assert rec.outcome is Outcome.LOST and tracker.stats.expired == 1


def test_memory_is_bounded_by_max_calls() -> None:
    clock = FakeClock()
    tracker = CallTracker(clock=clock, grace=1.0, max_calls=100)
    lost = []
    for n in range(250):
        lid = f"1800000000.{n}"
        clock.now += 0.01
        lost += tracker.feed({"Event": "Newchannel", "Uniqueid": lid, "Linkedid": lid, "CallerIDNum": "1555"})
    assert tracker.active == 100
    assert len(lost) == 150 and all(r.outcome is Outcome.LOST for r in lost)


def test_interleaved_calls_are_kept_apart() -> None:
    a = list(trace_events("missed-caller-hangup.txt"))
    b = list(trace_events("freepbx-like/did-ext-voicemail.txt"))
    merged = sorted(a + b, key=lambda e: float(e.get("Timestamp", 0)))
    clock = FakeClock()
    tracker = CallTracker(clock=clock, grace=3.0)
    out = []
    for ev in merged:
        clock.now = max(clock.now, float(ev.get("Timestamp", clock.now)))
        out += tracker.feed(ev)
    clock.now += 10
    out += tracker.tick()
    assert sorted(r.outcome.value for r in out) == ["missed", "voicemail"]


def test_events_without_ids_are_counted_and_skipped() -> None:
    tracker = CallTracker(clock=FakeClock())
    assert tracker.feed({"Event": "Hangup", "Channel": "PJSIP/x"}) == []
    assert tracker.stats.malformed == 1 and tracker.active == 0


def test_shutdown_right_after_the_hangups_is_still_lost() -> None:
    # SIGTERM: Asterisk hangs the ringing call up (DialEnd, Hangups, Cdr), then sends Shutdown.
    clock = FakeClock()
    tracker = CallTracker(clock=clock, grace=3.0)
    for ev in trace_events("missed-caller-hangup.txt"):
        clock.now = max(clock.now, float(ev.get("Timestamp", clock.now)))
        assert tracker.feed(ev) == []
    clock.now += 0.5
    (rec,) = tracker.feed({"Event": "Shutdown", "Shutdown": "Cleanly", "Restart": "True"})
    assert rec.outcome is Outcome.LOST


def test_connection_lost_within_grace_is_lost() -> None:
    clock = FakeClock()
    tracker = CallTracker(clock=clock, grace=3.0)
    for ev in trace_events("missed-caller-hangup.txt"):
        clock.now = max(clock.now, float(ev.get("Timestamp", clock.now)))
        tracker.feed(ev)
    (rec,) = tracker.connection_lost()
    assert rec.outcome is Outcome.LOST and tracker.active == 0


def test_voicemail_after_an_answered_call_was_transferred() -> None:
    clock = FakeClock()
    tracker = CallTracker(clock=clock, grace=1.0)
    lid, callee = "1800000200.1", "1800000200.2"
    base = {"Linkedid": lid, "Channel": "PJSIP/t-1", "CallerIDNum": "15550003333"}
    for ev in (
        {"Event": "Newchannel", "Uniqueid": lid, "Context": "from-pstn", "Exten": "5551004", **base},
        {"Event": "DialBegin", "Uniqueid": lid, "DestUniqueid": callee, "DestChannel": "PJSIP/201-1", **base},
        {"Event": "DialEnd", "Uniqueid": lid, "DestChannel": "PJSIP/201-1", "DialStatus": "ANSWER", **base},
        {"Event": "BlindTransfer", "Result": "Success", "Extension": "202"},
        {"Event": "Hangup", "Uniqueid": callee, "Linkedid": lid},
        {
            "Event": "Newexten",
            "Uniqueid": lid,
            "Application": "VoiceMail",
            "AppData": "202@default,u",
            **base,
        },
        {"Event": "MessageWaiting", "Uniqueid": lid, "Mailbox": "202@default", "New": "1", **base},
        {"Event": "Hangup", "Uniqueid": lid, **base},
    ):
        tracker.feed(ev)
    clock.now += 2
    (rec,) = tracker.tick()
    assert rec.outcome is Outcome.VOICEMAIL and rec.mailbox == "202@default"
    assert rec.answered_by == "PJSIP/201-1"


def test_call_starting_while_the_resync_is_answered_is_not_lost() -> None:
    """Events stream in while CoreShowChannels is answered: a call that began after the reconnect may be
    missing from the answer, and must still be tracked to its real outcome (not declared lost)."""
    clock, tracker, _ = _open_call("voicemail.txt", "DialBegin")  # open before the reconnect
    tracker.connection_lost()
    tracker.resync_begin()  # logged in again
    events = list(trace_events("missed-caller-hangup.txt"))
    first = [e for e in events if e.get("Event") == "Newchannel"][:1]
    for ev in first:  # a new call, seen after login
        clock.now = max(clock.now, float(ev.get("Timestamp", clock.now)))
        tracker.feed(ev)
    out = tracker.resync([])  # the answer lists no channel
    assert [r.outcome for r in out] == [Outcome.LOST]  # only the call from before
    rest = events[events.index(first[0]) + 1 :]
    for ev in rest:
        clock.now = max(clock.now, float(ev.get("Timestamp", clock.now)))
        out += tracker.feed(ev)
    clock.now += 5
    out += tracker.tick()
    assert [r.outcome for r in out[1:]] == [Outcome.MISSED]
