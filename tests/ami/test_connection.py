"""The guarded AMI connection against a raw TCP peer: the weak spots of docs/panoramisk.md cannot hurt us."""

from __future__ import annotations

import asyncio
import random

import pytest

from pbx_bridge.ami.connection import AmiConnection, QueueItem

from ..support.waits import wait_until
from .fake_ami import FakeAmi, msg


async def _next(queue: asyncio.Queue[QueueItem], kind: str, limit: float = 20.0) -> object:
    async with asyncio.timeout(limit):
        while True:
            k, v = await queue.get()
            if k == kind:
                return v


@pytest.fixture
async def ami():
    server = FakeAmi()
    await server.start()
    yield server
    await server.stop()


def _conn(server: FakeAmi, queue: asyncio.Queue[QueueItem], **kw: object) -> AmiConnection:
    opts: dict = dict(
        ping_interval=5.0, ping_timeout=2.0, reconnect_min=0.02, reconnect_max=0.1, rng=random.Random(1)
    )
    opts.update(kw)
    return AmiConnection("127.0.0.1", server.port, "pbxbridge", server.secret, queue, **opts)


async def test_split_utf8_and_cut_fields_keep_every_character(ami: FakeAmi) -> None:
    queue: asyncio.Queue[QueueItem] = asyncio.Queue()
    conn = _conn(ami, queue)
    await conn.start()
    try:
        await _next(queue, "resync")  # the peer's own answers are done
        data = msg(
            Event="Newchannel",
            Uniqueid="1.0",
            Linkedid="1.0",
            CallerIDNum="4125550101",
            CallerIDName="Jürgen Müller",
        )
        cut = data.index("ü".encode()) + 1  # in the middle of the two-byte ü
        await ami.push(data[:cut])
        await asyncio.sleep(0.05)  # a separate TCP segment
        await ami.push(data[cut:])
        # Asterisk's Cdr CallerID cut mid-character: a lone lead byte, then the next field
        await ami.push(b'Event: Cdr\r\nCallerID: "J\xc3\xbcrgen M\xc3\r\nSource: 4125550101\r\n\r\n')
        ev = await _next(queue, "event")
        assert ev["CallerIDName"] == "Jürgen Müller"  # type: ignore[index]
        ev = await _next(queue, "event")
        assert ev["CallerID"] == '"Jürgen M\ufffd' and ev["Source"] == "4125550101"  # type: ignore[index]
    finally:
        await conn.stop(0)


async def test_malformed_messages_are_skipped_and_the_stream_goes_on(ami: FakeAmi) -> None:
    queue: asyncio.Queue[QueueItem] = asyncio.Queue()
    conn = _conn(ami, queue)
    await conn.start()
    try:
        await _next(queue, "resync")
        await ami.push(
            b"this is not AMI at all\r\n\r\n"
            + b"\xff\xfe\r\n\r\n"
            + b"Foo: bar\r\n\r\n"
            + msg(Event="Hangup", Uniqueid="1.0", Linkedid="1.0")
        )
        ev = await _next(queue, "event")
        assert ev["Event"] == "Hangup"  # type: ignore[index]
        assert conn.malformed == 3
        assert conn.connected
    finally:
        await conn.stop(0)


async def test_half_open_connection_is_detected_by_ping_deadline(ami: FakeAmi) -> None:
    queue: asyncio.Queue[QueueItem] = asyncio.Queue()
    conn = _conn(ami, queue, ping_interval=0.1, ping_timeout=0.2)
    await conn.start()
    try:
        await _next(queue, "connected")
        ami.answer_pings = False  # the peer is gone but the socket stays open
        reason = await _next(queue, "disconnected")
        assert "Ping" in str(reason)
        ami.answer_pings = True
        await _next(queue, "connected")
        assert ami.logins >= 2 and conn.connects >= 2
    finally:
        await conn.stop(0)


async def test_failed_login_is_loud_and_retried(ami: FakeAmi, caplog: pytest.LogCaptureFixture) -> None:
    ami.refuse_logins = 2
    queue: asyncio.Queue[QueueItem] = asyncio.Queue()
    conn = _conn(ami, queue)
    await conn.start()
    try:
        await ami.wait_logins(1)
        await _next(queue, "connected")
        assert ami.logins == 3
        errors = [r for r in caplog.records if r.levelname == "ERROR" and "login" in r.getMessage()]
        assert len(errors) == 2 and "Authentication failed" in errors[0].getMessage()
        assert conn.health().ok
    finally:
        await conn.stop(0)


async def test_wrong_secret_reports_unhealthy_and_keeps_trying(ami: FakeAmi) -> None:
    queue: asyncio.Queue[QueueItem] = asyncio.Queue()
    conn = AmiConnection(
        "127.0.0.1", ami.port, "pbxbridge", "wrong", queue, reconnect_min=0.01, reconnect_max=0.02
    )
    await conn.start()
    try:
        await ami.wait_logins(3)
        assert not conn.health().ok and "Authentication failed" in conn.health().detail
    finally:
        await conn.stop(0)


async def test_reconnect_after_the_peer_drops_gives_a_channel_snapshot(ami: FakeAmi) -> None:
    queue: asyncio.Queue[QueueItem] = asyncio.Queue()
    conn = _conn(ami, queue)
    await conn.start()
    try:
        assert await _next(queue, "resync") == []
        ami.channels = [{"Channel": "PJSIP/t-1", "Uniqueid": "9.1", "Linkedid": "9.1", "ChannelState": "6"}]
        ami.drop_all()  # Asterisk killed: the socket just closes
        await _next(queue, "disconnected")
        rows = await _next(queue, "resync")
        assert [r["Uniqueid"] for r in rows] == ["9.1"]  # type: ignore[attr-defined]
    finally:
        await conn.stop(0)


async def test_a_server_that_never_sends_the_banner_is_named_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Something listens on the AMI port but says nothing (a wrong port, a hung Asterisk): the log and the
    # health must say what timed out and where, not "TimeoutError: ".
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    queue: asyncio.Queue[QueueItem] = asyncio.Queue()
    conn = AmiConnection(
        "127.0.0.1", port, "pbxbridge", "x", queue, connect_timeout=0.2, reconnect_min=5, reconnect_max=5
    )
    caplog.set_level("WARNING")
    await conn.start()
    try:
        await wait_until(lambda: conn.last_error, timeout=2, what="the first attempt to end")
        expected = f"no AMI banner from 127.0.0.1:{port} within 0.2 s of connecting"
        assert expected in conn.last_error and expected in caplog.text
        assert expected in conn.health().detail
        assert "TimeoutError: \n" not in caplog.text + "\n"
    finally:
        await conn.stop(0)
        server.close()
