"""Speaking an amount over AGI, and reading DTMF, robustly.

The readout is a *plan* (pure, tested on its own) of steps: a sound file (with ordered alternatives) or a
number. Asterisk's English core sounds have ``digits/dollars``, ``digits/minus``, ``vm-and``, ``your`` and
the number words, but no "cents" and no "balance" phrase (and no ``SAY MONEY`` AGI command; ``SayMoney`` /
``SAYFILES(,money)`` want top-level ``dollars``/``cents``/``and`` files that the core set lacks), so the
phrases come from ``pbx-bridge prompts build`` with a defined fallback when one is missing.

Executing a plan: res_agi answers a missing file with ``200 result=-1 endpos=0``, the same ``result=-1`` a
hangup gives. We ask ``CHANNEL STATUS`` to tell them apart: channel up -> the file is missing, play the next
alternative; channel gone -> ``AgiHangup`` (the session checks), and the route ends quietly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from pbx_bridge.agi.protocol import quote
from pbx_bridge.agi.reply import AgiReply
from pbx_bridge.balance.settings import LanguagePrompts

__all__ = [
    "Digits",
    "FileStep",
    "NumberStep",
    "Player",
    "Step",
    "plan_commands",
    "readout_plan",
]

log = logging.getLogger("pbx_bridge.balance.speech")

# Asterisk's SAY NUMBER takes a C int; English says up to billions. Bigger amounts are spoken in
# billion-sized chunks ("3 billion 5 hundred million ..."), which keeps every SAY NUMBER in range.
_BILLION = 1_000_000_000
DTMF_KEYS = "0123456789*#"


@dataclass(frozen=True, slots=True)
class FileStep:
    alternatives: tuple[str, ...]  # tried in order; "" = play nothing (the defined last resort)
    purpose: str = ""

    def command(self, name: str, escape: str = "") -> str:
        return f"STREAM FILE {name} {quote(escape)}"


@dataclass(frozen=True, slots=True)
class NumberStep:
    value: int

    def command(self) -> str:
        return f"SAY NUMBER {self.value} {quote('')}"


Step = FileStep | NumberStep


def _number_steps(n: int, billion_word: tuple[str, ...]) -> list[Step]:
    if n < _BILLION:
        return [NumberStep(n)]
    high, low = divmod(n, _BILLION)
    steps = [*_number_steps(high, billion_word), FileStep(billion_word, "billion")]
    if low:
        steps.append(NumberStep(low))
    return steps


def readout_plan(
    amount: Decimal, currency: str, prompts: LanguagePrompts, *, approximate: bool
) -> list[Step]:
    """The steps that speak ``amount``: intro, [minus], units, unit word, [and, cents, cent word].

    A negative amount is a credit (the client overpaid): "minus" before the number. A currency without
    prompts is spoken without unit words.
    """
    cents_total = int((abs(amount) * 100).to_integral_value())
    major, minor = divmod(cents_total, 100)
    unit = prompts.currencies.get(currency.upper())
    intro = prompts.approximate_intro if approximate else prompts.intro
    steps: list[Step] = [FileStep(tuple(intro), "intro")]
    if amount < 0 and cents_total:
        steps.append(FileStep(tuple(prompts.minus), "minus"))
    steps += _number_steps(major, ("digits/billion",))
    if unit is not None:
        steps.append(FileStep(tuple(unit.major), "major"))
    if minor:
        steps.append(FileStep(tuple(prompts.conjunction), "and"))
        steps.append(NumberStep(minor))
        if unit is not None:
            steps.append(FileStep(tuple(unit.minor), "minor"))
    return steps


def plan_commands(steps: Sequence[Step]) -> list[str]:
    """The AGI commands of a plan when every first alternative exists (what the docs and tests show)."""
    out = []
    for s in steps:
        if isinstance(s, NumberStep):
            out.append(s.command())
        elif s.alternatives and s.alternatives[0]:
            out.append(s.command(s.alternatives[0]))
    return out


class AgiLike(Protocol):
    """What the player needs of a session (``pbx_bridge.agi.server.AgiSession`` and the remote session of
    the classic script both fit): ``command()`` raises ``AgiHangup`` when the channel is gone and returns
    a ``failed`` reply (``result=-1``) only when the channel is still up (it checked CHANNEL STATUS)."""

    async def command(self, text: str) -> AgiReply: ...


@dataclass
class Digits:
    text: str = ""
    timed_out: bool = False


@dataclass
class Player:
    """Runs steps on one AGI session; remembers which files were missing (for logs and metrics)."""

    session: AgiLike
    missing: list[str] = field(default_factory=list)

    async def play_file(self, step: FileStep, escape: str = "") -> str:
        """Play the first alternative that exists. Returns the DTMF key that interrupted it, or ""."""
        for name in step.alternatives:
            if not name:
                return ""
            reply = await self.session.command(step.command(name, escape))
            if reply.failed:
                # The session checked the channel: it is up, so the file is missing (res_agi's
                # "200 result=-1 endpos=0"). Fall back instead of ending the readout silently.
                self.missing.append(name)
                log.warning("sound file %r is missing; falling back (see `pbx-bridge prompts build`)", name)
                continue
            code = reply.result_int or 0
            return chr(code) if 0 < code < 128 else ""
        if step.alternatives:
            log.warning("no alternative of the %s prompt exists: %s", step.purpose or "a", step.alternatives)
        return ""

    async def say_number(self, step: NumberStep) -> None:
        reply = await self.session.command(step.command())
        if reply.failed:
            log.warning("SAY NUMBER %s failed on a live channel (number sound files missing?)", step.value)

    async def play(self, steps: Sequence[Step]) -> None:
        for step in steps:
            if isinstance(step, NumberStep):
                await self.say_number(step)
            else:
                await self.play_file(step)

    async def read_digits(self, prompt: FileStep, *, max_digits: int, key_timeout: float) -> Digits:
        """Play ``prompt`` (a key interrupts it), then collect up to ``max_digits`` keys; '#' ends early.

        One WAIT FOR DIGIT per key: at most ``max_digits`` waits of ``key_timeout`` each, so it is bounded.
        Digits are never logged: they may be a PIN.
        """
        first = await self.play_file(prompt, escape=DTMF_KEYS)
        if first == "#":
            return Digits("")
        text = first
        ms = max(1, int(key_timeout * 1000))
        for _ in range(max_digits):
            if len(text) >= max_digits:
                break
            reply = await self.session.command(f"WAIT FOR DIGIT {ms}")
            code = reply.result_int
            if reply.failed or code is None:
                break
            if code == 0:
                return Digits(text, timed_out=True)
            key = chr(code) if 0 < code < 128 else ""
            if key == "#" or key not in DTMF_KEYS:
                break
            text += key
        return Digits(text)
