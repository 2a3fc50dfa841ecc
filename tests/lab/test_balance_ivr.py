"""The balance IVR in the real Asterisk lab: sipp caller, DTMF "3", FastAGI ``balance`` served here.

Both dialplans: plain (``300`` -> ivr-main -> ``AGI(agi://.../balance)``) and the real FreePBX 17
dialplan (DID 5551003 -> the lab overlay's IVR 1 option 3 -> FreePBX's Custom Destination dest-1 ->
``custom-pbxbridge-balance`` -> FastAGI ``balance``). ITFlow is
the simulator in the v1 profile with payments (v26.3): exact balances. The prompts are generated with
``build_prompts`` (espeak-ng + sox) into the chroot's English sounds directory, so Asterisk plays every
file and the AGI commands it reports on AMI (``AGIExecStart``) are exactly the documented sequences.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, contextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from itflow_sim import Simulator
from pbx_bridge.agi.server import FastAgiServer
from pbx_bridge.balance.dialogue import BalanceService
from pbx_bridge.balance.prompts import build_prompts
from pbx_bridge.balance.settings import BalanceSettings
from pbx_bridge.metrics import Metrics
from tests.balance.harness import open_ivr
from tests.balance.sequences import DOCUMENTED, INCORRECT, INTRO, REFUSAL
from tests.balance.sequences import PIN_PROMPT as PIN

WAIT = ["WAIT FOR DIGIT 6000"]


def _in_chroot(root: Path, path: str) -> Path:
    """Resolve ``path`` as the chroot sees it (Debian's sounds/en is an absolute symlink chain through
    /etc/alternatives, which must not be followed on the host)."""
    current = root
    parts = [p for p in path.split("/") if p]
    for _ in range(64):
        if not parts:
            return current
        candidate = current / parts.pop(0)
        if candidate.is_symlink():
            target = os.readlink(candidate)
            parts = [p for p in target.split("/") if p] + parts
            current = root if target.startswith("/") else current
            continue
        current = candidate
    raise RuntimeError(f"symlink loop resolving {path} in {root}")


def install_prompts(root: Path) -> list[Path]:
    """Generate the pbx-bridge phrases into the chroot's sounds/en/custom; returns the files placed."""
    en = _in_chroot(root, "/usr/share/asterisk/sounds/en")
    staging = root / "tmp" / "pbxb-prompts"
    built = build_prompts(BalanceSettings(), languages=["en"], sounds_dir=staging, force=True)
    target = en / "custom"
    target.mkdir(exist_ok=True)
    placed = []
    for b in built:
        if b.action == "written":
            dest = target / b.path.name
            dest.write_bytes(b.path.read_bytes())
            dest.chmod(0o644)
            placed.append(dest)
    return placed


@contextmanager
def installed_prompts(root: Path) -> Iterator[list[Path]]:
    """The pbx-bridge phrases in the chroot's sounds/en/custom while in the block (removed afterwards)."""
    placed = install_prompts(root)
    try:
        yield placed
    finally:
        for p in placed:
            p.unlink(missing_ok=True)


@pytest.fixture
def built_prompts(lab) -> Iterator[list[Path]]:
    with installed_prompts(lab.root) as placed:
        yield placed


async def _ivr(
    stack: AsyncExitStack, tmp: Path, lab, sim: Simulator, **balance
) -> tuple[FastAgiServer, Metrics, BalanceService]:
    # a real Asterisk answers more slowly than the scripted peer: commands get 15 s
    ivr = await open_ivr(stack, tmp, sim, port=lab.fastagi_port, command_timeout=15, **balance)
    return ivr.server, ivr.metrics, ivr.service


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    s = Simulator("v1-v25")
    await s.start()
    yield s
    await s.stop()


def _client_owing(sim: Simulator, amount: str, phone: str, *, pin: str = "") -> int:
    """A client whose ITFlow balance is ``amount`` (by construction), with a contact on ``phone``."""
    cid = sim.db.add_client(f"Lab client {phone}")
    value = Decimal(amount)
    if value > 0:
        sim.db.add_invoice(cid, value, status="Sent")
    elif value < 0:  # overpaid: a Paid invoice of 100 with 100 - value paid
        inv = sim.db.add_invoice(cid, "100.00", status="Paid")
        sim.db.add_payment(inv, Decimal("100.00") - value)
    sim.db.add_contact(cid, f"Caller {phone}", phone=phone[1:], phone_country_code="1", pin=pin)
    return cid


def _agi_commands(ami, since: int, channel_prefix: str = "PJSIP/") -> list[str]:
    return [
        e.get("Command", "")
        for e in ami.events[since:]
        if e.name == "AGIExecStart" and e.get("Channel", "").startswith(channel_prefix)
    ]


def _is_wait_for_digit(e) -> bool:
    return e.name == "AGIExecStart" and e.get("Command", "").startswith("WAIT FOR DIGIT")


async def _press_3(lab, ami, n: str, handle) -> int:
    ev = await ami.wait_event("Newexten", Application="WaitExten", CallerIDNum=n, timeout=30)
    mark = len(ami.events)
    await handle.press(ami, ev["Channel"])
    return mark


async def test_known_callers_hear_the_documented_sequences(lab, sim, built_prompts, tmp_path) -> None:
    callers = {amount: lab.new_caller_number() for amount in DOCUMENTED}
    for amount, n in callers.items():
        _client_owing(sim, amount, n)
    async with AsyncExitStack() as stack:
        server, _, _ = await _ivr(stack, tmp_path, lab, sim)
        async with lab.ami_session() as ami:
            for amount, n in callers.items():
                handle = await lab.start_call(
                    lab.route("ivr"),
                    caller_num=n,
                    caller_name="Lab Caller",
                    caller="dtmf",
                    digits="3",
                    hold_ms=40000,
                )
                mark = await _press_3(lab, ami, n, handle)
                events = await ami.wait_call_end(ami.linkedid_of(n) or "", timeout=60)
                await handle.wait()
                assert events, n
                assert _agi_commands(ami, mark) == [
                    *DOCUMENTED[amount],
                    'SET VARIABLE PBXB_BALANCE_STATUS "spoken"',
                ], amount
                ends = [e for e in ami.events[mark:] if e.name == "AGIExecEnd"]
                assert all(e.get("ResultCode") == "200" for e in ends), amount
        assert server.stats["errors"] == 0


async def _pin_call(lab, ami, n: str, keys: str, presses: int):
    """Call the IVR, press 3, then one key per WAIT FOR DIGIT the route sends; returns its AGI commands.

    Lab limit: sipp replays Debian's dtmf_2833_<d>.pcap as is, and Asterisk drops an RFC 4733 event whose
    RTP timestamp is not after the previous one; the pcaps' timestamps grow 2 < 3 < ... < 9 < * < #
    (0 and 1 are lower). So after "3" the keys of one call must be strictly increasing in that order.
    """
    handle = await lab.start_call(
        lab.route("ivr"),
        caller_num=n,
        caller_name="Lab Caller",
        caller="dtmf",
        digits="3" + keys,
        hold_ms=60000,
    )
    mark = await _press_3(lab, ami, n, handle)
    pos = mark
    for _ in range(presses):
        try:
            ev = await ami.wait_for(_is_wait_for_digit, timeout=30, start=pos)
        except Exception as exc:
            raise AssertionError(f"no WAIT FOR DIGIT; AGI so far: {_agi_commands(ami, mark)}") from exc
        pos = next(i for i in range(pos, len(ami.events)) if ami.events[i] is ev) + 1
        await handle.press(ami, ev["Channel"])
    await ami.wait_call_end(ami.linkedid_of(n) or "", timeout=60)
    await handle.wait()
    return _agi_commands(ami, mark)


async def test_wrong_pin_is_refused_and_nothing_is_spoken(lab, sim, built_prompts, tmp_path) -> None:
    n = lab.new_caller_number()
    _client_owing(sim, "1234.56", n, pin="89")
    async with AsyncExitStack() as stack:
        await _ivr(stack, tmp_path, lab, sim, verification="pin", max_attempts=2, pin_digits=2)
        async with lab.ami_session() as ami:
            commands = await _pin_call(lab, ami, n, "4567", presses=4)  # PINs 45 and 67: both wrong
    assert not [c for c in commands if c.startswith("SAY NUMBER")]
    assert commands == [
        PIN,
        *WAIT * 2,
        INCORRECT,
        PIN,
        *WAIT * 2,
        *REFUSAL,
        'SET VARIABLE PBXB_BALANCE_STATUS "refused"',
    ]


async def test_right_pin_hears_the_balance(lab, sim, built_prompts, tmp_path) -> None:
    n = lab.new_caller_number()
    _client_owing(sim, "1234.56", n, pin="89")
    async with AsyncExitStack() as stack:
        await _ivr(stack, tmp_path, lab, sim, verification="both", pin_digits=2)
        async with lab.ami_session() as ami:
            commands = await _pin_call(lab, ami, n, "89", presses=2)
    assert commands == [PIN, *WAIT * 2, *DOCUMENTED["1234.56"], 'SET VARIABLE PBXB_BALANCE_STATUS "spoken"']


async def test_unknown_caller_without_pin_path_gets_no_balance(lab, sim, built_prompts, tmp_path) -> None:
    n = lab.new_caller_number()  # no contact has this number
    async with AsyncExitStack() as stack:
        await _ivr(stack, tmp_path, lab, sim)
        async with lab.ami_session() as ami:
            handle = await lab.start_call(
                lab.route("ivr"),
                caller_num=n,
                caller_name="Stranger",
                caller="dtmf",
                digits="3",
                hold_ms=40000,
            )
            mark = await _press_3(lab, ami, n, handle)
            await ami.wait_call_end(ami.linkedid_of(n) or "", timeout=60)
            await handle.wait()
            assert _agi_commands(ami, mark) == [*REFUSAL, 'SET VARIABLE PBXB_BALANCE_STATUS "unknown"']


async def test_hangup_mid_readout_ends_cleanly(lab, sim, built_prompts, tmp_path) -> None:
    n = lab.new_caller_number()
    _client_owing(sim, "1234.56", n)
    async with AsyncExitStack() as stack:
        server, metrics, _ = await _ivr(stack, tmp_path, lab, sim)
        async with lab.ami_session() as ami:
            handle = await lab.start_call(
                lab.route("ivr"),
                caller_num=n,
                caller_name="Lab Caller",
                caller="dtmf",
                digits="3",
                hold_ms=40000,
            )
            mark = await _press_3(lab, ami, n, handle)
            ev = await ami.wait_for(
                lambda e: e.name == "AGIExecStart" and e.get("Command") == 'SAY NUMBER 1234 ""',
                timeout=30,
                start=mark,
            )
            # The caller's side goes away in the middle of the number.
            await ami.action({"Action": "Hangup", "Channel": ev["Channel"]})
            await ami.wait_call_end(ami.linkedid_of(n) or "", timeout=60)
            await handle.wait()
            commands = _agi_commands(ami, mark)
        for _ in range(100):  # the session task ends by itself (bounded wait, not a timed assertion)
            if not server._tasks:
                break
            await asyncio.sleep(0.05)
        assert not server._tasks
        assert server.stats["errors"] == 0  # the route ends the call itself: no error, no stuck task
        assert commands[:2] == [INTRO, 'SAY NUMBER 1234 ""']
        assert 'SET VARIABLE PBXB_BALANCE_STATUS "spoken"' not in commands
        samples = {
            s.labels["result"]: s.value
            for m in metrics.balance_requests.collect()
            for s in m.samples
            if s.name.endswith("_total")
        }
        assert samples == {"hangup": 1.0}
