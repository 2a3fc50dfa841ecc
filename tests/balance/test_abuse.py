"""The balance doors under attack, reproduced on loopback (simulator, SQLite on disk, the real FastAGI
server, a scripted Asterisk): anyone who reaches 4574 can claim any ``agi_callerid``.

Seed facts (seed.json): client 1 ACME (Alice 4125550101 / mobile 4125550199, PIN 8642; Arnold 4125550102;
HQ 4125550100), client 2 Globex (7245550120, 7245550198, 7245550121, 17245550124, plant 7245550150), client 5
Hooli (6505550100).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from contextlib import AsyncExitStack

import pytest

from pbx_bridge.balance.proof import SecretProof
from pbx_bridge.balance.verify import Identity, Why
from tests.agi.peer import Peer
from tests.balance.asterisk_peer import agi_env, env_bytes
from tests.balance.harness import open_ivr

# The attempt log's time, fixed: every call of a test falls in the same limit windows however slow the run.
START = time.time()


def frozen_clock() -> float:
    return START


TEN_NUMBERS = [
    "4125550101",
    "4125550199",
    "4125550100",
    "4125550102",
    "7245550120",
    "7245550198",
    "7245550121",
    "17245550124",
    "7245550150",
    "6505550100",
]


def status(outcome: str) -> str:
    return f'SET VARIABLE PBXB_BALANCE_STATUS "{outcome}"'


async def test_10_balances_in_a_burst_from_10_claimed_numbers_are_limited_per_door(
    itflow_sim, tmp_path
) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(
            stack, tmp_path, await itflow_sim("v1-v25"), max_balances_per_door=4, clock=frozen_clock
        )
        await ivr.service.provider.capabilities()
        results = await asyncio.gather(*(ivr.call(n) for n in TEN_NUMBERS))
        outcomes = [r[-1] for r in results]
        assert outcomes.count(status("spoken")) == 4
        assert outcomes.count(status("limited")) == 6
        assert not [c for r in results if r[-1] == status("limited") for c in r if c.startswith("SAY NUMBER")]


async def test_one_number_hears_its_balance_at_most_max_balances_per_number_times(
    itflow_sim, tmp_path
) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(
            stack,
            tmp_path,
            await itflow_sim("v1-v25"),
            max_balances_per_number=3,
            max_balances_per_door=100,
            clock=frozen_clock,
        )
        outcomes = [(await ivr.call("4125550101"))[-1] for _ in range(5)]
        assert outcomes == [status("spoken")] * 3 + [status("limited")] * 2
        assert (await ivr.call("6505550100"))[-1] == status("spoken")  # another number is not limited


async def test_12_wrong_guesses_from_4_spoofed_numbers_then_the_real_caller_with_the_right_pin_succeeds(
    itflow_sim, tmp_path
) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(
            stack,
            tmp_path,
            await itflow_sim("v1-v25"),
            verification="pin",
            client_number_prompt=True,
            max_attempts=3,
            max_failures_per_client=10,
            pin_delay_first=0.01,
        )
        for spoofed in ("15551230001", "15551230002", "15551230003", "15551230004"):
            commands = await ivr.call(spoofed, dtmf="1#1111#1#2222#1#3333#")  # client 1, three wrong PINs
            assert commands[-1] == status("refused")
        failures = ivr.store.call(
            lambda c: c.execute(
                "SELECT COUNT(*) FROM balance_attempts WHERE ok = 0 AND client_id = 1"
            ).fetchone()[0]
        )
        assert failures == 12
        assert (await ivr.call("4125550101", dtmf="8642#"))[-1] == status("spoken")
        # The guessing was slowed down, growing with each failure, never past pin_delay_max.
        v = ivr.service.verifier
        assert [v.pin_delay(n) for n in (9, 10, 11, 12)] == [0.0, 0.01, 0.02, 0.04]
        assert v.pin_delay(10_000) == ivr.settings.balance.pin_delay_max


async def test_a_withheld_caller_cannot_lock_out_another_withheld_caller(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(
            stack,
            tmp_path,
            await itflow_sim("v1-v25"),
            verification="pin",
            client_number_prompt=True,
            max_attempts=3,
            max_failures_per_number=3,
            pin_delay_first=0.01,
        )
        for _ in range(2):  # six wrong PINs, withheld number
            await ivr.call("anonymous", dtmf="1#1111#1#2222#1#3333#")
        commands = await ivr.call("anonymous", dtmf="1#8642#")  # another withheld caller, right PIN
        assert commands[-1] == status("spoken")


async def test_failures_lock_the_channel_whatever_number_it_claims(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(
            stack,
            tmp_path,
            await itflow_sim("v1-v25"),
            verification="pin",
            client_number_prompt=True,
            max_attempts=1,
            max_failures_per_number=3,
        )
        for n in range(3):
            await ivr.call(f"1555123000{n}", dtmf="1#1111#", channel="PJSIP/attacker-00000001")
        locked = await ivr.call("15551239997", dtmf="1#8642#", channel="PJSIP/attacker-00000001")
        assert locked[-1] == status("locked")
        assert not [c for c in locked if "enter-pin" in c]  # not even asked
        assert (await ivr.call("4125550101", dtmf="8642#"))[-1] == status("spoken")  # a real call


async def test_failures_recorded_under_a_coming_channel_name_do_not_lock_the_real_call(
    itflow_sim, tmp_path
) -> None:
    # Channel names are a running counter: a spoofer records failures under the name the next real call
    # will get. They belong to other calls (other agi_uniqueid), so the real caller is still asked.
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(
            stack,
            tmp_path,
            await itflow_sim("v1-v25"),
            verification="pin",
            client_number_prompt=True,
            max_attempts=1,
            max_failures_per_number=3,
        )
        for n in range(3):
            await ivr.call(
                f"1555123000{n}", dtmf="1#1111#", channel="PJSIP/trunk-0000002a", uniqueid=f"1795850000.{n}"
            )
        real = await ivr.call(
            "4125550101", dtmf="8642#", channel="PJSIP/trunk-0000002a", uniqueid="1795850061.42"
        )
        assert real[-1] == status("spoken")


async def test_a_wrong_pin_pair_locks_only_that_number_for_that_client(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(
            stack,
            tmp_path,
            await itflow_sim("v1-v25"),
            verification="pin",
            max_attempts=3,
            max_failures_per_number=3,
        )
        assert (await ivr.call("4125550199", dtmf="1111#2222#3333#"))[-1] == status("locked")
        assert (await ivr.call("4125550199", dtmf="8642#"))[-1] == status("locked")
        assert (await ivr.call("4125550101", dtmf="8642#"))[-1] == status("spoken")


async def test_fastagi_peer_outside_balance_allow_gets_no_command(itflow_sim, tmp_path) -> None:
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"), allow=["192.0.2.0/24"])
        peer = await Peer.connect(ivr.server.port)
        await peer.send(env_bytes(agi_env("4125550101")))
        assert await peer.read_command() is None
        peer.close()
        assert ivr.outcomes() == {"forbidden": 1.0}


async def test_with_a_secret_a_fastagi_peer_must_prove_it_reads_the_file(itflow_sim, tmp_path) -> None:
    # Asterisk proves it can read balance.secret_file by answering SHA1(FILE(path) + nonce); a local process
    # that merely connects to 4574 cannot, and gets nothing more. The secret itself is never sent.
    secret = b"0123456789abcdef0123456789abcdef\n"
    path = tmp_path / "balance.secret"
    path.write_bytes(secret)
    path.chmod(0o640)  # readable by the asterisk group, not by everyone
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path / "state", await itflow_sim("v1-v25"), secret_file=str(path))
        asterisk = await ivr.call("4125550101", files={str(path): secret})
        assert asterisk[0].startswith(f"GET FULL VARIABLE ${{SHA1(${{FILE({path})}}")
        assert asterisk[-1] == status("spoken")
        intruder = await ivr.call("4125550101")  # cannot read the file
        wrong = await ivr.call("4125550101", files={str(path): b"guessed-guessed-guessed\n"})
        assert len(intruder) == len(wrong) == 1  # the question, nothing more
        assert not any(secret.strip().decode() in c for c in asterisk + intruder + wrong)
        assert ivr.outcomes() == {"spoken": 1.0, "forbidden": 2.0}


async def test_a_recorded_proof_cannot_be_replayed_and_a_silent_peer_is_let_go(itflow_sim, tmp_path) -> None:
    # Someone who once saw a right answer (an AGI debug log, say) replays it: every question carries a
    # fresh nonce, so the old digest answers nothing. A peer that never answers holds its connection for
    # the proof's short deadline only, and a file saved with CRLF still proves it.
    secret = b"0123456789abcdef0123456789abcdef"
    path = tmp_path / "balance.secret"
    path.write_bytes(secret + b"\r\n")
    path.chmod(0o600)
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path / "state", await itflow_sim("v1-v25"), secret_file=str(path))
        assert (await ivr.call("4125550101", files={str(path): secret + b"\r\n"}))[-1] == status("spoken")
        questions, digests = [], []
        for _ in range(3):
            peer = await Peer.connect(ivr.server.port)
            await peer.send(env_bytes(agi_env("4125550101")))
            question = await peer.read_command()
            assert question is not None
            asked = re.fullmatch(rf"GET FULL VARIABLE \$\{{SHA1\(\$\{{FILE\({path}\)\}}(\w+)\)\}}", question)
            assert asked is not None, question
            nonce = asked[1]
            questions.append(nonce)
            digests.append(hashlib.sha1(secret + b"\r\n" + nonce.encode()).hexdigest())
            peer.close()
        assert len(set(questions)) == 3 and all(len(n) == 32 for n in questions)  # never the same nonce
        replay = await Peer.connect(ivr.server.port)
        await replay.send(env_bytes(agi_env("4125550101")))
        assert await replay.read_command() is not None
        await replay.send(f"200 result=1 ({digests[0]})\n")
        assert await replay.read_command() is None  # refused: nothing more, closed
        replay.close()
        silent = await Peer.connect(ivr.server.port)
        await silent.send(env_bytes(agi_env("4125550101")))
        assert await silent.read_command() is not None
        assert await silent.wait_closed_by_server()  # let go without an answer
        silent.close()
        assert ivr.outcomes() == {"spoken": 1.0, "forbidden": 5.0}


def test_an_empty_secret_is_never_a_proof() -> None:
    # SHA1 of nothing and the nonce is SHA1(nonce): anyone could answer it.
    for empty in (b"", b"\n", b"short"):
        with pytest.raises(ValueError):
            SecretProof("/etc/asterisk/pbx-bridge-balance.secret", empty)


def test_a_path_that_could_become_an_asterisk_expression_is_refused() -> None:
    for odd in ("/tmp/x)}${SHELL(id)", "/tmp/a,b", "/tmp/a b", "relative/path", "/tmp/${X}", "/tmp/x\n"):
        with pytest.raises(ValueError):
            SecretProof(odd, b"0123456789abcdef0123456789abcdef")


async def test_with_the_default_limits_an_office_number_and_a_busy_minute_all_hear_their_balance(
    itflow_sim, tmp_path
) -> None:
    # A client's office presents one main number for every phone; on invoice day several staff ask within
    # the hour, and several clients call in the same minute. None of them may be refused as "limited".
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(stack, tmp_path, await itflow_sim("v1-v25"), clock=frozen_clock)
        office = [(await ivr.call("4125550100"))[-1] for _ in range(10)]
        assert office == [status("spoken")] * 10
        assert (await ivr.call("4125550100"))[-1] == status("limited")  # an 11th within the hour
        others = [n for n in TEN_NUMBERS if n != "4125550100"] + ["4125550101"]
        burst = await asyncio.gather(*(ivr.call(n) for n in others))
        assert [r[-1] for r in burst] == [status("spoken")] * 10  # 20 in the minute in all
        assert (await ivr.call("7245550120"))[-1] == status("limited")  # the door's 21st


async def test_a_slowed_client_checks_one_pin_at_a_time_even_for_a_caller_arriving_as_one_finishes(
    itflow_sim, tmp_path, caplog
) -> None:
    # Three guesses queue on client 1's slow-down; a fourth arrives the moment the first is answered. It
    # must join the queue, not start a check of its own beside it (that would multiply the guessing rate).
    async with AsyncExitStack() as stack:
        ivr = await open_ivr(
            stack,
            tmp_path,
            await itflow_sim("v1-v25"),
            verification="pin",
            max_failures_per_client=1,
            pin_delay_first=0.01,
            pin_delay_max=0.01,
        )
        v = ivr.service.verifier
        await v.attempts.record(number="+15551230001", client_id=1, call_id="x", kind="pin", ok=False)
        identity = Identity(client_id=1, why=Why.CALLERID)
        order: list[str] = []
        caplog.set_level(logging.WARNING, logger="pbx_bridge.balance.verify")
        handler = logging.Handler()
        handler.emit = lambda r: order.append("wait") if "this check waits" in r.getMessage() else None
        logging.getLogger("pbx_bridge.balance.verify").addHandler(handler)
        try:

            async def guess(pin: str) -> None:
                await v.pin_check(identity, pin)
                order.append("done")

            first = asyncio.create_task(guess("1111"))
            rest = [asyncio.create_task(guess(p)) for p in ("2222", "3333")]
            await first
            late = asyncio.create_task(guess("4444"))
            await asyncio.gather(*rest, late)
        finally:
            logging.getLogger("pbx_bridge.balance.verify").removeHandler(handler)
        assert order == ["wait", "done"] * 4
