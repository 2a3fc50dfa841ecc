"""AgiSession against a raw socket peer: commands pair with their replies, hangups, malformed input,
the helpers' wire format, lines split anywhere."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pbx_bridge.agi.errors import AgiHangup, AgiTimeout, AgiUsageError
from pbx_bridge.agi.protocol import parse_env_line
from pbx_bridge.agi.session import AgiSession
from tests.agi.peer import Peer, env_block

from .conftest import Factory, settle


async def test_stalled_reply_times_out_and_later_commands_refuse(make_server: Factory) -> None:
    outcome: list[str] = []

    async def route(s: AgiSession) -> None:
        try:
            await s.verbose("hello")
        except AgiTimeout:
            outcome.append("timeout")
        try:
            await s.verbose("again")
        except AgiTimeout:
            outcome.append("refused")

    server = await make_server({"cid": route}, command_timeout=0.2)
    peer = await Peer.connect(server.port)
    await peer.send(env_block())
    assert await peer.read_command() == 'VERBOSE "hello" 1'
    assert await peer.wait_closed_by_server()  # no second command was sent
    assert outcome == ["timeout", "refused"]


async def test_unsolicited_hangup_between_commands(make_server: Factory) -> None:
    """The lab trace: after HANGUP no command may be paired with a shifted reply; the route is told."""
    outcome: list[str] = []

    async def route(s: AgiSession) -> None:
        await s.set_variable("X", "1")
        await asyncio.sleep(0.1)  # the HANGUP arrives meanwhile
        try:
            await s.stream_file("digits/dollars")
        except AgiHangup:
            outcome.append("hangup")

    server = await make_server({"balance": route})
    peer = await Peer.connect(server.port)
    await peer.send(env_block("balance"))
    assert await peer.read_command() == 'SET VARIABLE X "1"'
    await peer.send("200 result=1\nHANGUP\n")
    assert await peer.wait_closed_by_server()
    assert peer.commands == ['SET VARIABLE X "1"']
    assert outcome == ["hangup"]


async def test_hangup_during_a_command_result_minus_one_then_511(make_server: Factory) -> None:
    """SAY NUMBER interrupted: -1, HANGUP, then 511 for the probe; the route gets AgiHangup, no shift."""
    outcome: list[Any] = []

    async def route(s: AgiSession) -> None:
        try:
            await s.say_number(57)
        except AgiHangup:
            outcome.append("hangup")

    server = await make_server({"balance": route})
    peer = await Peer.connect(server.port)
    await peer.send(env_block("balance"))
    assert await peer.read_command() == 'SAY NUMBER 57 ""'
    await peer.send("200 result=-1\n")
    assert await peer.read_command() == "CHANNEL STATUS"
    await peer.send("HANGUP\n511 Command Not Permitted on a dead channel or intercept routine\n")
    assert await peer.wait_closed_by_server()
    assert outcome == ["hangup"]


async def test_missing_file_on_live_channel_is_not_a_hangup(make_server: Factory) -> None:
    outcome: list[Any] = []

    async def route(s: AgiSession) -> None:
        reply = await s.stream_file("no-such-file")
        outcome.append((reply.failed, reply.endpos))
        outcome.append(await s.channel_status())

    server = await make_server({"balance": route})
    peer = await Peer.connect(server.port)
    await peer.send(env_block("balance"))
    assert await peer.read_command() == 'STREAM FILE no-such-file ""'
    await peer.send("200 result=-1 endpos=0\n")
    assert await peer.read_command() == "CHANNEL STATUS"
    await peer.send("200 result=6\n")
    assert await peer.read_command() == "CHANNEL STATUS"
    await peer.send("200 result=6\n")
    assert await peer.wait_closed_by_server()
    assert outcome == [(True, 0), 6]


async def test_hangup_while_command_in_flight_returns_reply_then_refuses(make_server: Factory) -> None:
    outcome: list[Any] = []

    async def route(s: AgiSession) -> None:
        outcome.append((await s.set_variable("A", "1")).result)
        try:
            await s.set_variable("B", "2")
        except AgiHangup:
            outcome.append("hangup")

    server = await make_server({"cid": route})
    peer = await Peer.connect(server.port)
    await peer.send(env_block())
    await peer.read_command()
    await peer.send("HANGUP\n200 result=1\n")
    assert await peer.wait_closed_by_server()
    assert outcome == ["1", "hangup"]
    assert len(peer.commands) == 1


async def test_peer_closes_mid_session(make_server: Factory) -> None:
    outcome: list[str] = []

    async def route(s: AgiSession) -> None:
        try:
            await s.verbose("x")
        except AgiHangup:
            outcome.append("closed")

    server = await make_server({"cid": route})
    peer = await Peer.connect(server.port)
    await peer.send(env_block())
    await peer.read_command()
    peer.close()
    await settle(server)
    assert outcome == ["closed"]


async def test_malformed_lines_are_skipped(make_server: Factory) -> None:
    got: list[Any] = []

    async def route(s: AgiSession) -> None:
        got.append(s.callerid)
        got.append(await s.get_variable("CALLERID(name)"))

    server = await make_server({"cid": route})
    peer = await Peer.connect(server.port)
    env = env_block().replace(b"agi_language: en\n", b"this is not an env line\n\xff\xfe garbage\n")
    await peer.send(env)
    await peer.read_command()
    await peer.send("what is this\n200 nope\n" + "x" * 20000 + "\n200 result=1 (Alice)\n")
    assert await peer.wait_closed_by_server()
    assert got == ["15551230001", "Alice"]
    assert server.stats["malformed_lines"] >= 4


async def test_usage_error_is_raised_with_asterisk_text(make_server: Factory) -> None:
    outcome: list[str] = []

    async def route(s: AgiSession) -> None:
        try:
            await s.command("STREAM FILE")
        except AgiUsageError as exc:
            outcome.append(exc.reply.data)
        await s.verbose("still in sync")

    server = await make_server({"cid": route})
    peer = await Peer.connect(server.port)
    await peer.send(env_block())
    await peer.read_command()
    await peer.send(
        "520-Invalid command syntax.  Proper usage follows:\n Usage: STREAM FILE <filename>\n"
        "520 End of proper usage.\n"
    )
    assert await peer.read_command() == 'VERBOSE "still in sync" 1'
    await peer.send("200 result=1\n")
    assert await peer.wait_closed_by_server()
    assert outcome and "Usage: STREAM FILE" in outcome[0]


async def test_helpers_send_what_res_agi_expects(make_server: Factory) -> None:
    got: list[Any] = []

    async def route(s: AgiSession) -> None:
        got.append(await s.get_data("custom/enter-pin", 3000, 4))
        got.append(await s.get_data("custom/enter-pin", 3000, 4))
        got.append((await s.say_digits("0042", "#")).result)
        got.append((await s.answer()).result)
        with pytest.raises(ValueError):
            await s.say_digits("12a")
        with pytest.raises(ValueError):
            await s.stream_file("two words")

    server = await make_server({"balance": route})
    peer = await Peer.connect(server.port)
    await peer.send(env_block("balance"))
    replies = ["200 result=1234", "200 result= (timeout)", "200 result=0", "200 result=0"]
    for reply in replies:
        await peer.read_command()
        await peer.send(reply + "\n")
    assert await peer.wait_closed_by_server()
    assert peer.commands == [
        "GET DATA custom/enter-pin 3000 4",
        "GET DATA custom/enter-pin 3000 4",
        'SAY DIGITS 0042 "#"',
        "ANSWER",
    ]
    assert got == ["1234", "", "0", "0"]


async def test_lines_split_anywhere_across_segments(make_server: Factory) -> None:
    """The server splits lines itself: an environment byte by byte, a reply cut mid-line, an over-long
    line spread over several segments (skipped) all pair correctly."""
    got: list[Any] = []

    async def route(s: AgiSession) -> None:
        got.append(s.callerid)
        got.append(await s.get_variable("A"))
        got.append(await s.get_variable("B"))

    server = await make_server({"cid": route})
    peer = await Peer.connect(server.port)
    for i, byte in enumerate(env_block(callerid="4125550101")):
        await peer.send(bytes([byte]))
        if i % 97 == 0:
            await asyncio.sleep(0)  # let the server see partial segments
    assert await peer.read_command() == "GET VARIABLE A"
    await peer.send("200 result=1 (fi")
    await asyncio.sleep(0.01)
    await peer.send("rst)\n")
    assert await peer.read_command() == "GET VARIABLE B"
    for _ in range(3):  # 3 x 6000 bytes without a newline: over the 8192-byte line limit
        await peer.send("x" * 6000)
        await asyncio.sleep(0.01)
    await peer.send("y\n200 result=1 (second)\n")
    assert await peer.wait_closed_by_server()
    await settle(server)
    assert got == ["4125550101", "first", "second"]
    assert server.stats["malformed_lines"] == 1


@pytest.mark.parametrize("odd_lines", [(), (" agi_padded : v", "not an env line", "___: x", "agi_cr: y\r")])
async def test_environment_parsed_like_parse_env_line(
    make_server: Factory, odd_lines: tuple[str, ...]
) -> None:
    """Plain blocks take a one-pass fast path, others line by line: both give what parse_env_line gives."""
    lines = [
        "agi_network: yes",
        "agi_network_script: cid",
        "agi_accountcode: ",
        "agi_x:nospace",
        "agi_y:  two spaces",
        "agi_request: agi://127.0.0.1:4574/cid?a=1",
        "agi_calleridname: Müller 😀 $x",
        "agi_arg_1: 201",
        "agi_arg_1: 202",
        *odd_lines,
    ]
    expected: dict[str, str] = {}
    for line in lines:
        item = parse_env_line(line.rstrip("\r"))
        if item is not None:
            expected[item[0]] = item[1]
    seen: list[dict[str, str]] = []
    server = await make_server({"cid": lambda s: seen.append(dict(s.env))})
    peer = await Peer.connect(server.port)
    await peer.send(("\n".join(lines) + "\n\n").encode())
    assert await peer.wait_closed_by_server()
    await settle(server)
    assert seen == [expected]
    assert server.stats["malformed_lines"] == (2 if odd_lines else 0)
