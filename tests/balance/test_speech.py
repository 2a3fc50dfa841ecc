"""The readout plan (pure) and the player on the real FastAGI server, answered by a scripted Asterisk."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from pbx_bridge.agi.server import FastAgiServer
from pbx_bridge.balance.settings import LanguagePrompts
from pbx_bridge.balance.speech import Digits, FileStep, Player, plan_commands, readout_plan
from tests.balance.asterisk_peer import ScriptedAsterisk, agi_env
from tests.balance.sequences import AND, CENTS, DOCUMENTED, DOLLARS, INTRO

P = LanguagePrompts()
ALL_FILES = {
    "custom/pbxb-your-balance-is",
    "custom/pbxb-open-invoices-total",
    "custom/pbxb-cents",
    "digits/dollars",
    "digits/minus",
    "vm-and",
    "your",
    "digits/billion",
}


@pytest.mark.parametrize("amount", list(DOCUMENTED))
def test_documented_sequences(amount: str) -> None:
    assert plan_commands(readout_plan(Decimal(amount), "USD", P, approximate=False)) == DOCUMENTED[amount]


def test_negative_zero_is_not_minus() -> None:
    assert plan_commands(readout_plan(Decimal("-0.00"), "USD", P, approximate=False)) == DOCUMENTED["0"]


def test_one_cent_and_large_amounts_stay_in_say_number_range() -> None:
    assert plan_commands(readout_plan(Decimal("0.01"), "USD", P, approximate=False)) == [
        INTRO,
        'SAY NUMBER 0 ""',
        DOLLARS,
        AND,
        'SAY NUMBER 1 ""',
        CENTS,
    ]
    # SAY NUMBER takes a C int: 3,000,000,005.07 is said in billion-sized chunks.
    assert plan_commands(readout_plan(Decimal("3000000005.07"), "USD", P, approximate=False)) == [
        INTRO,
        'SAY NUMBER 3 ""',
        'STREAM FILE digits/billion ""',
        'SAY NUMBER 5 ""',
        DOLLARS,
        AND,
        'SAY NUMBER 7 ""',
        CENTS,
    ]


def test_approximation_has_its_own_intro_and_unknown_currency_has_no_unit_words() -> None:
    assert (
        plan_commands(readout_plan(Decimal("10"), "USD", P, approximate=True))[0]
        == 'STREAM FILE custom/pbxb-open-invoices-total ""'
    )
    assert plan_commands(readout_plan(Decimal("10.20"), "EUR", P, approximate=False)) == [
        INTRO,
        'SAY NUMBER 10 ""',
        AND,
        'SAY NUMBER 20 ""',
    ]


async def _play(peer: ScriptedAsterisk, amount: str) -> tuple[list[str], Player, FastAgiServer]:
    players: list[Player] = []

    async def route(session) -> None:
        player = Player(session)
        players.append(player)
        await player.play(readout_plan(Decimal(amount), "USD", P, approximate=False))

    server = FastAgiServer("127.0.0.1", 0, {"balance": route}, env_timeout=5, command_timeout=5)
    await server.start()
    try:
        commands = await peer.call(server.port, agi_env("15551230001"))
    finally:
        await server.stop(deadline=asyncio.get_running_loop().time() + 5)
    return commands, players[0], server


async def test_player_sends_the_documented_sequence_when_every_file_exists() -> None:
    commands, player, _ = await _play(ScriptedAsterisk(existing=ALL_FILES), "1234.56")
    assert commands == DOCUMENTED["1234.56"]
    assert player.missing == []


async def test_missing_files_fall_back_after_checking_the_channel() -> None:
    # Prompts not built: res_agi answers result=-1 endpos=0; the channel is up, so it is a missing file:
    # the player falls back to the core "your", and says no cents word (the defined last resort).
    core = {"digits/dollars", "digits/minus", "vm-and", "your"}
    commands, player, _ = await _play(ScriptedAsterisk(existing=core), "100.5")
    assert commands == [
        INTRO,
        "CHANNEL STATUS",
        'STREAM FILE your ""',
        'SAY NUMBER 100 ""',
        DOLLARS,
        AND,
        'SAY NUMBER 50 ""',
        CENTS,
        "CHANNEL STATUS",
    ]
    assert player.missing == ["custom/pbxb-your-balance-is", "custom/pbxb-cents"]


async def test_hangup_mid_readout_ends_cleanly() -> None:
    # The caller hangs up during SAY NUMBER (the 2nd command), as in ivr-balance-caller-hangup.
    peer = ScriptedAsterisk(existing=ALL_FILES, hangup_at=2)
    commands, _, server = await _play(peer, "57")
    assert commands == [INTRO, 'SAY NUMBER 57 ""']  # nothing after the hangup, not even CHANNEL STATUS
    assert server.stats["hangups"] == 1 and server.stats["errors"] == 0
    assert not server._tasks  # no task left behind


async def test_read_digits_pound_terminates_and_timeout_is_reported() -> None:
    results: list[Digits] = []

    async def route(session) -> None:
        player = Player(session)
        prompt = FileStep(("custom/pbxb-enter-pin", "agent-pass"))
        results.append(await player.read_digits(prompt, max_digits=8, key_timeout=2))
        results.append(await player.read_digits(prompt, max_digits=8, key_timeout=2))

    server = FastAgiServer("127.0.0.1", 0, {"balance": route}, env_timeout=5, command_timeout=5)
    await server.start()
    peer = ScriptedAsterisk(existing={"agent-pass"}, dtmf=list("12#4"), press_during_prompt=True)
    try:
        commands = await peer.call(server.port, agi_env("15551230001"))
    finally:
        await server.stop(deadline=asyncio.get_running_loop().time() + 5)
    assert results[0] == Digits("12", timed_out=False)
    assert results[1] == Digits("4", timed_out=True)
    assert commands[:3] == [
        'STREAM FILE custom/pbxb-enter-pin "0123456789*#"',
        "CHANNEL STATUS",
        'STREAM FILE agent-pass "0123456789*#"',
    ]
    assert commands.count("WAIT FOR DIGIT 2000") == 3  # "2", "#", then a timeout
