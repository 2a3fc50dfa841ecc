"""The AMI trace replayer: real TCP on 127.0.0.1, consumed by the lab's own AMI client."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.support.ami_replay import TRACES, AmiReplayServer, AmiTrace
from tests.support.lab import AmiAccount, AmiSession, LabError


async def consume(server: AmiReplayServer, secret: str = "s3cret") -> AmiSession:
    session = AmiSession(AmiAccount("127.0.0.1", server.port, "pbxbridge", secret))
    await session.connect()
    await asyncio.wait_for(server.streamed.wait(), 30)
    return session


async def replay(trace: AmiTrace, **kw: object) -> list:
    async with AmiReplayServer([trace], username="pbxbridge", secret="s3cret", **kw) as server:  # type: ignore[arg-type]
        session = await consume(server)
        expected = len(trace.events) * int(kw.get("copies", 1))  # type: ignore[call-overload]
        await session.wait_for(lambda e: len(session.events) >= expected, timeout=30)
        await session.close()
    return session.events


def test_every_trace_loads() -> None:
    traces = sorted(TRACES.glob("*.txt")) + sorted((TRACES / "freepbx-like").glob("*.txt"))
    traces += sorted((TRACES / "lab-flows").glob("*/*.txt"))
    assert len(traces) >= 40
    for path in traces:
        if path.name.startswith("voicemail-msg"):
            continue
        trace = AmiTrace.load(path)
        assert trace.event_names()[0] == "FullyBooted", path
        assert "Newchannel" in trace.event_names(), path


async def test_replays_a_trace_verbatim_over_tcp() -> None:
    trace = AmiTrace.load(TRACES / "answered.txt")
    events = await replay(trace)
    assert [e.name for e in events] == trace.event_names()
    dial_end = next(e for e in events if e.name == "DialEnd")
    assert dial_end["DialStatus"] == "ANSWER" and dial_end["DestChannel"].startswith("PJSIP/201-")


async def test_wrong_secret_is_refused() -> None:
    trace = AmiTrace.load(TRACES / "answered.txt")
    async with AmiReplayServer([trace], username="pbxbridge", secret="s3cret") as server:
        session = AmiSession(AmiAccount("127.0.0.1", server.port, "pbxbridge", "wrong"))
        with pytest.raises(LabError, match="login failed"):
            await session.connect()
        await session.close()
        assert server.logins == 0


async def test_copies_are_distinct_concurrent_calls() -> None:
    trace = AmiTrace.load(TRACES / "freepbx-like" / "did-queue-answered.txt")
    single = await replay(trace)
    many = await replay(trace, copies=5, stagger=0.01)
    linkedids = {e["Linkedid"] for e in many if "Linkedid" in e}
    assert len(linkedids) == 5 * len({e["Linkedid"] for e in single if "Linkedid" in e})
    # each copy is the same call: same event counts per Linkedid, its own Uniqueids and channel names
    per_call = Counter(e["Linkedid"] for e in many if "Linkedid" in e)
    assert set(per_call.values()) == {sum(1 for e in single if "Linkedid" in e)}
    chans = {e["Channel"] for e in many if e.name == "Newchannel"}
    assert len(chans) == 5 * len({e["Channel"] for e in single if e.name == "Newchannel"})
    # every Cdr UniqueID belongs to a channel of the stream (no dangling rewritten ids)
    uniqueids = {e["Uniqueid"] for e in many if e.name == "Newchannel"}
    assert {e["UniqueID"] for e in many if e.name == "Cdr"} <= uniqueids
    # copies are interleaved in time, not played one after another
    order = [e["Linkedid"] for e in many if e.name == "Newchannel" and e["Uniqueid"] == e["Linkedid"]]
    first_hangup = next(i for i, e in enumerate(many) if e.name == "Hangup")
    assert all(any(e.get("Linkedid") == lid for e in many[:first_hangup]) for lid in order)


async def test_speed_factor_paces_by_timestamps() -> None:
    trace = AmiTrace.load(TRACES / "answered.txt")
    stamps = [
        float(b.split(b"Timestamp: ")[1].split(b"\r\n")[0]) for b in trace.events if b"Timestamp: " in b
    ]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    await replay(trace, speed=4.0, sleep=fake_sleep)
    assert slept and all(s > 0 for s in slept)
    assert sum(slept) == pytest.approx((max(stamps) - min(stamps)) / 4.0, rel=1e-6)


async def test_a_killed_asterisk_just_closes_the_socket() -> None:
    trace = AmiTrace.load(TRACES / "lab-flows" / "plain" / "asterisk-sigkill-ringing.txt")
    async with AmiReplayServer([trace], close_after=True) as server:
        session = AmiSession(AmiAccount("127.0.0.1", server.port, "any", "any"))
        await session.connect()
        await asyncio.wait_for(session.closed.wait(), 30)
        await session.close()
    names = [e.name for e in session.events]
    assert names == trace.event_names()
    assert "DialState" in names and not {"Hangup", "Cdr", "Shutdown"} & set(names)
