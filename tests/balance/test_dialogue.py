"""The balance IVR end to end on loopback: simulator -> directory -> FastAGI route -> scripted Asterisk.

Seed facts used (seed.json): Alice Anderson (contact 1, ACME Corp = client 1) has phone 4125550101 and
contact_pin 8642; Hank Hooli (contact 8, client 5) 6505550100 has no PIN; Archie Archived (contact 6,
client 1) 4125550177 is archived; 8005550123 is the global vendor Bell & Whistle. Balances (worked by hand,
see test_provider.py): ACME 230.50 at v26.3, 290.50 on legacy, 290.00 approximate at HEAD; Hooli 100.50.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest

from tests.balance.harness import open_ivr
from tests.balance.sequences import ACME_V26_3, AND, CENTS, DOLLARS, INCORRECT, INTRO, PIN_PROMPT, REFUSAL

CLIENT_PROMPT = 'STREAM FILE custom/pbxb-enter-client-number "0123456789*#"'
WAIT = "WAIT FOR DIGIT 6000"


def status(outcome: str) -> str:
    return f'SET VARIABLE PBXB_BALANCE_STATUS "{outcome}"'


def said_numbers(commands: list[str]) -> list[str]:
    return [c for c in commands if c.startswith("SAY NUMBER")]


async def test_known_caller_hears_their_balance_and_arguments_are_ignored(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"))
        # The plain lab dialplan passes ${CALLERID(num)} as an argument; here it carries ANOTHER client's
        # number (Hooli): it must make no difference.
        commands = await ivr.call("14125550101", args=("6505550100",))
        assert commands == [*ACME_V26_3, status("spoken")]
        assert ivr.outcomes() == {"spoken": 1.0}


async def test_unknown_caller_gets_no_balance_whatever_the_arguments_say(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"))
        commands = await ivr.call("15551230999", args=("4125550101",), script="balance?account=4125550101")
        assert commands == [*REFUSAL, status("unknown")]
        for who in ("8005550123", "4125550177", "anonymous", ""):  # vendor, archived contact, withheld
            commands = await ivr.call(who)
            assert said_numbers(commands) == [], who
        assert ivr.outcomes() == {"unknown": 5.0}


async def test_location_number_identifies_its_client(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"))
        assert await ivr.call("4125550100") == [*ACME_V26_3, status("spoken")]  # ACME HQ's line


async def test_pin_mode_right_pin(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"), verification="pin")
        commands = await ivr.call("4125550101", dtmf="8642#")
        assert commands == [PIN_PROMPT, WAIT, WAIT, WAIT, WAIT, WAIT, *ACME_V26_3, status("spoken")]


async def test_wrong_pin_n_times_is_refused_and_nothing_is_spoken(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"), verification="both", max_attempts=3)
        commands = await ivr.call("4125550101", dtmf="1111#2222#8641#")
        one = [PIN_PROMPT, WAIT, WAIT, WAIT, WAIT, WAIT]
        assert commands == [*one, INCORRECT, *one, INCORRECT, *one, *REFUSAL, status("refused")]
        assert said_numbers(commands) == []
        rows = ivr.store.call(
            lambda c: c.execute(
                "SELECT number, client_id, kind, ok FROM balance_attempts ORDER BY id"
            ).fetchall()
        )
        assert [tuple(r) for r in rows] == [("+14125550101", 1, "pin", 0)] * 3


async def test_pins_are_never_logged(itflow_sim, tmp_path, caplog) -> None:
    caplog.set_level("DEBUG")
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"), verification="pin")
        await ivr.call("4125550101", dtmf="9753#8642#")
    text = caplog.text
    assert "9753" not in text and "8642" not in text
    assert "kind=pin result=failed" in text and "kind=pin result=ok" in text


async def test_lockout_per_calling_number_persists_across_calls(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(
            stack,
            tmp_path,
            await itflow_sim("v1-v25"),
            verification="pin",
            max_attempts=3,
            max_failures_per_number=2,
        )
        first = await ivr.call("4125550101", dtmf="1111#2222#")
        assert first[-3:] == [*REFUSAL, status("locked")]
        # The right PIN on the next call does not help: the number is locked, and no PIN is asked.
        second = await ivr.call("4125550101", dtmf="8642#")
        assert second == [*REFUSAL, status("locked")]
        # Another calling number is not locked (Hooli has no PIN, so it is "refused", not "locked").
        assert (await ivr.call("6505550100"))[-1] == status("refused")


async def test_guesses_spread_over_numbers_slow_the_client_down_but_never_lock_the_right_pin(
    itflow_sim, tmp_path, caplog
) -> None:
    # Alice's mobile (4125550199) guesses twice, reaching the client's slow-down mark; her right PIN from
    # her office phone still works (after the delay), it is not refused.
    caplog.set_level("WARNING")
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(
            stack,
            tmp_path,
            await itflow_sim("v1-v25"),
            verification="pin",
            max_attempts=2,
            max_failures_per_client=2,
            pin_delay_first=0.01,
        )
        assert (await ivr.call("4125550199", dtmf="1111#2222#"))[-1] == status("refused")
        commands = await ivr.call("4125550101", dtmf="8642#")
        assert commands[-1] == status("spoken")
    assert "client 1 has 2 failed PINs within the window; this check waits 0.01 s" in caplog.text


async def test_client_without_pin_cannot_pass_pin_mode(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"), verification="pin")
        assert await ivr.call("6505550100", dtmf="0000#") == [*REFUSAL, status("refused")]


async def test_unknown_caller_client_number_and_pin(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(
            stack, tmp_path, await itflow_sim("v1-v25"), verification="pin", client_number_prompt=True
        )
        commands = await ivr.call("15551230999", dtmf="1#8642#")
        assert commands == [
            CLIENT_PROMPT,
            WAIT,
            WAIT,
            PIN_PROMPT,
            WAIT,
            WAIT,
            WAIT,
            WAIT,
            WAIT,
            *ACME_V26_3,
            status("spoken"),
        ]


async def test_stepping_through_client_ids_gets_nowhere(itflow_sim, tmp_path) -> None:
    # Guessing client 2, 3, 4 with a PIN: each wrong pair is a failure answered like a wrong PIN, and the
    # per-number limit ends it; Alice's PIN does not open client 2.
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(
            stack,
            tmp_path,
            await itflow_sim("v1-v25"),
            verification="pin",
            client_number_prompt=True,
            max_attempts=3,
        )
        commands = await ivr.call("15551230999", dtmf="2#8642#3#8642#4#8642#")
        assert said_numbers(commands) == []
        assert commands[-1] == status("refused")
        failures = ivr.store.call(
            lambda c: c.execute("SELECT COUNT(*) FROM balance_attempts WHERE ok = 0").fetchone()[0]
        )
        assert failures == 3


async def test_client_number_path_needs_pin_mode(itflow_sim, tmp_path) -> None:
    # verification=callerid: a typed client number proves nothing, so it is not even asked.
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"), client_number_prompt=True)
        assert await ivr.call("15551230999", dtmf="1#") == [*REFUSAL, status("unknown")]


async def test_hangup_mid_readout_is_a_clean_end(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"))
        commands = await ivr.call("4125550101", hangup_at=2)
        assert commands == [INTRO, 'SAY NUMBER 230 ""']
        assert ivr.outcomes() == {"hangup": 1.0}
        assert ivr.server.stats["errors"] == 0 and not ivr.server._tasks


async def test_dtmf_timeout_then_refusal(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"), verification="pin", max_attempts=2)
        commands = await ivr.call("4125550101", dtmf="")
        assert commands == [PIN_PROMPT, WAIT, PIN_PROMPT, WAIT, *REFUSAL, status("refused")]


async def test_head_speaks_the_flagged_approximation_or_refuses(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path / "a", await itflow_sim("v1-head"))
        assert await ivr.call("4125550101") == [
            'STREAM FILE custom/pbxb-open-invoices-total ""',
            'SAY NUMBER 290 ""',
            DOLLARS,
            status("spoken"),
        ]
        strict = await open_ivr(stack, tmp_path / "b", ivr.sim, approximate="refuse")
        assert await strict.call("4125550101") == [*REFUSAL, status("refused")]


async def test_legacy_only_needs_a_number_map(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path / "a", await itflow_sim("legacy-2022"))
        assert await ivr.call("4125550101") == [*REFUSAL, status("unknown")]
        mapped = await open_ivr(stack, tmp_path / "b", ivr.sim, number_map={"(412) 555-0101": 1})
        assert await mapped.call("14125550101") == [
            INTRO,
            'SAY NUMBER 290 ""',
            DOLLARS,
            AND,
            'SAY NUMBER 50 ""',
            CENTS,
            status("spoken"),
        ]
        pin = await open_ivr(stack, tmp_path / "c", ivr.sim, verification="pin", number_map={"4125550101": 1})
        assert await pin.call("4125550101") == [*REFUSAL, status("refused")]  # no PINs on legacy


async def test_itflow_down_is_a_polite_refusal(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"))
        ivr.sim.down = True
        commands = await ivr.call("4125550101")
        assert said_numbers(commands) == []
        assert commands[-1] == status("unavailable")


async def test_slow_itflow_is_bounded(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"), compute_timeout=0.5)
        await ivr.service.provider.capabilities()  # detected before ITFlow turns slow
        ivr.sim.delay = 2.0
        commands = await ivr.call("4125550101")
        assert said_numbers(commands) == [] and commands[-1] == status("unavailable")


@pytest.mark.parametrize("language", ["en", "en_GB", "fr"])
async def test_language_falls_back_to_the_configured_prompts(itflow_sim, tmp_path, language: str) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"))
        from tests.balance.asterisk_peer import ScriptedAsterisk, agi_env

        peer = ScriptedAsterisk(
            existing={"custom/pbxb-your-balance-is", "digits/dollars", "vm-and", "custom/pbxb-cents"}
        )
        commands = await peer.call(ivr.server.port, agi_env("4125550101", language=language))
        assert commands == [*ACME_V26_3, status("spoken")]
