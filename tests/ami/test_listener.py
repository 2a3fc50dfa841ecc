"""AmiListener end to end over TCP: trace bytes -> connection -> tracker -> tickets intake -> outbox."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from pbx_bridge.ami.connection import AmiConnection, QueueItem
from pbx_bridge.ami.listener import AmiListener
from pbx_bridge.ami.outcome import CallRecord, Outcome
from pbx_bridge.ami.settings import AmiSettings
from pbx_bridge.ami.tracker import default_is_internal
from pbx_bridge.store import Store
from pbx_bridge.tickets.intake import TicketIntake
from pbx_bridge.tickets.outbox import Outbox
from pbx_bridge.tickets.settings import TicketsSettings

from ..support.waits import wait_until
from .fake_ami import FakeAmi
from .traces import trace_dir


def _settings(port: int) -> AmiSettings:
    return AmiSettings(host="127.0.0.1", port=port, username="pbxbridge", secret="s3cret", grace=0.05)


def _conn(port: int):
    def make(queue: asyncio.Queue[QueueItem]) -> AmiConnection:
        return AmiConnection(
            "127.0.0.1",
            port,
            "pbxbridge",
            "s3cret",
            queue,
            reconnect_min=0.02,
            reconnect_max=0.05,
            rng=random.Random(3),
        )

    return make


def _body(name: str) -> bytes:
    data = (trace_dir() / name).read_bytes()
    return data.split(b"\r\n", 1)[1]  # without the capture's own banner


async def _wait(cond, limit: float = 30.0) -> None:  # hang guard
    await wait_until(cond, timeout=limit, what="the listener to catch up")


async def test_traces_over_tcp_become_outbox_rows(tmp_path: Path) -> None:
    ami = FakeAmi()
    await ami.start()
    store = Store(tmp_path / "s.sqlite3")
    outbox = Outbox(store, clock=lambda: 0.0)
    intake = TicketIntake(TicketsSettings(), outbox, is_internal=default_is_internal)
    listener = AmiListener(_settings(ami.port), intake, connection=_conn(ami.port), tick_interval=0.02)
    await listener.start()
    try:
        await ami.logged_in.wait()
        await asyncio.sleep(0.1)
        for name in (
            "missed-caller-hangup.txt",
            "answered.txt",
            "freepbx-like/did-ext-voicemail.txt",
            "freepbx-like/internal-answered.txt",
            "queue-abandon.txt",
        ):
            await ami.push(_body(name))
        await _wait(lambda: listener.handled == 5)
        rows = {(r.linkedid, r.kind) for r in outbox.rows(("pending",))}
        assert rows == {
            ("1795850014.2", "missed"),
            ("1795854335.2", "voicemail"),
            ("1795850080.12", "missed"),
        }
    finally:
        await listener.stop(asyncio.get_running_loop().time() + 2)
        await ami.stop()
        store.close()


async def test_a_failing_handler_never_stops_the_listener(tmp_path: Path) -> None:
    ami = FakeAmi()
    await ami.start()
    seen: list[CallRecord] = []

    async def handler(rec: CallRecord) -> None:
        if not seen:
            seen.append(rec)
            raise RuntimeError("bug in a handler")
        seen.append(rec)

    listener = AmiListener(_settings(ami.port), handler, connection=_conn(ami.port), tick_interval=0.02)
    await listener.start()
    try:
        await ami.logged_in.wait()
        await asyncio.sleep(0.1)
        await ami.push(_body("missed-caller-hangup.txt"))
        await ami.push(_body("voicemail.txt"))
        await _wait(lambda: len(seen) == 2)
        assert [r.outcome for r in seen] == [Outcome.MISSED, Outcome.VOICEMAIL]
        assert listener.handler_errors == 1 and listener.connection.connected
    finally:
        await listener.stop(asyncio.get_running_loop().time() + 2)
        await ami.stop()


async def test_asterisk_killed_mid_call_invents_nothing_and_tracks_the_next_call(tmp_path: Path) -> None:
    ami = FakeAmi()
    await ami.start()
    seen: list[CallRecord] = []

    async def handler(rec: CallRecord) -> None:
        seen.append(rec)

    listener = AmiListener(_settings(ami.port), handler, connection=_conn(ami.port), tick_interval=0.02)
    await listener.start()
    try:
        await ami.logged_in.wait()
        await asyncio.sleep(0.1)
        body = _body("voicemail.txt")
        await ami.push(body[: body.index(b"Event: DialEnd")])  # ringing when Asterisk dies
        await _wait(lambda: listener.tracker.active == 1)
        ami.logged_in.clear()
        ami.drop_all()  # SIGKILL: the socket just closes
        await ami.logged_in.wait()  # reconnected; no channels now
        await _wait(lambda: len(seen) == 1)
        assert seen[0].outcome is Outcome.LOST and seen[0].linkedid == "1795850021.4"
        await asyncio.sleep(0.1)
        await ami.push(_body("missed-caller-hangup.txt"))
        await _wait(lambda: len(seen) == 2)
        assert seen[1].outcome is Outcome.MISSED
    finally:
        await listener.stop(asyncio.get_running_loop().time() + 2)
        await ami.stop()
