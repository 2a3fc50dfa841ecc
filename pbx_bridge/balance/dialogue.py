"""One balance call, start to end: identify, verify, compute, speak (or refuse politely).

Runs on anything with ``command()`` and ``env`` (the FastAGI session, or the remote session that the
classic script drives over the loopback endpoint), so both doors share every check.

Outcomes (returned, logged, counted as ``pbx_bridge_balance_requests_total{result=...}``):
``spoken``, ``unknown``, ``refused`` (wrong PIN / no PIN on file / approximation refused), ``locked``,
``limited`` (too many balances for this number or through this door), ``unavailable`` (ITFlow down or no
balance API), ``hangup``, ``disabled``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from pbx_bridge.agi.errors import AgiHangup
from pbx_bridge.agi.protocol import quote
from pbx_bridge.agi.session import AgiSession
from pbx_bridge.allow import Network, networks, peer_allowed
from pbx_bridge.balance.proof import SecretProof
from pbx_bridge.balance.provider import BalanceError, BalanceProvider
from pbx_bridge.balance.settings import BalanceSettings, LanguagePrompts, read_secret
from pbx_bridge.balance.speech import AgiLike, FileStep, Player, readout_plan
from pbx_bridge.balance.verify import AttemptLog, CallerLookup, Identity, Numbers, Verifier, Why
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.log_limits import Throttle, clip
from pbx_bridge.metrics import Metrics
from pbx_bridge.store import Store

__all__ = ["BalanceCall", "BalanceService", "BalanceSession"]

log = logging.getLogger("pbx_bridge.balance")


class BalanceSession(AgiLike, Protocol):
    """A call as both doors hand it over: the FastAGI ``AgiSession`` or the classic script's
    ``RemoteSession``; ``env`` holds the ``agi_*`` variables."""

    @property
    def env(self) -> Mapping[str, str]: ...


@dataclass
class BalanceService:
    """What a balance call needs; built once by the daemon and shared by both doors."""

    provider: BalanceProvider
    verifier: Verifier
    settings: BalanceSettings
    metrics: Metrics | None = None

    @classmethod
    def build(
        cls,
        *,
        settings: BalanceSettings,
        itflow: Itflow,
        callerid: CallerLookup,
        plan: Numbers,
        store: Store,
        metrics: Metrics | None = None,
    ) -> BalanceService:
        """Wire the provider and the verifier from the daemon's shared parts."""
        provider = BalanceProvider(itflow, settings)
        verifier = Verifier(
            callerid=callerid, plan=plan, itflow=itflow, attempts=AttemptLog(store), settings=settings
        )
        return cls(provider=provider, verifier=verifier, settings=settings, metrics=metrics)

    calls: int = 0
    allow: tuple[Network, ...] = field(init=False, default=())
    # Asked of every FastAGI peer when balance.secret_file is set (see pbx_bridge/balance/proof.py).
    proof: SecretProof | None = field(init=False, default=None)
    _refusals: Throttle = field(init=False, repr=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.allow = networks(s.allow)
        self._refusals = Throttle(log)
        if s.secret_file is not None:
            # The validated secret (read_secret), never the raw bytes: an emptied file must not turn the
            # proof into SHA1(nonce), which anyone can compute.
            self.proof = SecretProof(
                str(s.secret_file_asterisk or s.secret_file), read_secret(s.secret_file).encode()
            )

    async def fastagi_proven(self, session: AgiSession) -> bool:
        """With a secret configured: has the FastAGI peer proven it is the Asterisk that can read it?"""
        if self.proof is None:
            return True
        if await self.proof.check(session):
            return True
        self.forbidden(
            "unproven",
            "balance: a FastAGI peer from %s could not prove it reads balance.secret_file; refused",
            clip(session.peer, 60),
        )
        return False

    def door_allows(self, door: str, peer: str) -> bool:
        """Is ``peer`` in ``balance.allow``? Logged and counted (outcome ``forbidden``) when not."""
        if peer_allowed(peer, self.allow):
            return True
        self.forbidden(
            f"not_allowed:{door}",
            "balance: refused a %s request from %s (not in balance.allow)",
            door,
            clip(peer, 60),
        )
        return False

    def forbidden(self, kind: str, msg: str, *args: object) -> None:
        """A refused peer: counted (outcome ``forbidden``) and logged, summarised under a flood (these cost
        an attacker nothing, so one line each would let any local process fill the log)."""
        self._refusals.log(kind, logging.WARNING, msg, *args)
        if self.metrics is not None:
            self.metrics.balance_requests.labels(result="forbidden").inc()

    async def handle(self, session: BalanceSession, *, door: str = "fastagi") -> str:
        """Run one call that came through ``door`` (``fastagi`` or ``classic``: limits count per door)."""
        self.calls += 1
        if self.calls % 100 == 1:
            # Forget attempts older than every window (keeps the table small; limits are unaffected).
            s = self.settings
            await self.verifier.attempts.prune(max(s.lockout_window, s.number_window, s.door_window))
        outcome = await BalanceCall(self, session, door=door).run()
        if self.metrics is not None:
            self.metrics.balance_requests.labels(result=outcome).inc()
        return outcome


class BalanceCall:
    def __init__(self, service: BalanceService, session: BalanceSession, *, door: str = "fastagi") -> None:
        self.service = service
        self.door = door
        self.session = session
        self.settings = service.settings
        env = session.env
        # The ONLY source of the caller's identity. Arguments (agi_arg_N, ?query) are ignored on purpose.
        self.raw_callerid = env.get("agi_callerid", "") or ""
        self.call_id = env.get("agi_uniqueid", "") or ""
        self.channel = env.get("agi_channel", "") or ""
        self.granted_kind = "callerid"  # how the caller was let through: callerid | pin | client-number
        self.prompts: LanguagePrompts = self.settings.prompts_for(env.get("agi_language", "en"))
        self.player = Player(session)
        self.verifier = service.verifier
        self.number_key = self.verifier.calling_key(self.raw_callerid)

    async def run(self) -> str:
        try:
            outcome = await self._run()
        except AgiHangup:
            outcome = "hangup"  # the caller left: nothing more to send, nothing to report as an error
        except BalanceError as exc:
            log.warning("balance for a call from %s unavailable: %s", self.number_key, exc)
            outcome = "unavailable"
            await self._quietly_refuse()
        log.info(
            "balance call from %s (call %s): %s", clip(self.number_key), clip(self.call_id or "-"), outcome
        )
        if outcome != "hangup":
            # For the dialplan (GotoIf on it); never the amount: channel variables show up on AMI.
            try:
                await self.session.command(f"SET VARIABLE PBXB_BALANCE_STATUS {quote(outcome)}")
            except AgiHangup:
                outcome = "hangup"
        return outcome

    async def _quietly_refuse(self) -> None:
        try:
            await self.player.play_file(FileStep(tuple(self.prompts.refused), "refused"))
        except AgiHangup:
            pass

    async def _refuse(self, outcome: str) -> str:
        await self.player.play_file(FileStep(tuple(self.prompts.refused), "refused"))
        await self.player.play_file(FileStep(tuple(self.prompts.goodbye), "goodbye"))
        return outcome

    async def _run(self) -> str:
        s = self.settings
        if not s.enabled:
            return await self._refuse("disabled")
        if await self.verifier.locked(self.number_key, 0, self.channel, self.call_id):
            log.warning("balance: channel %s is locked out (too many failures)", clip(self.channel, 60))
            return await self._refuse("locked")
        caps = await self.service.provider.capabilities()
        legacy_only = caps.balance == "legacy"
        found, why = await self.verifier.identify(self.raw_callerid, legacy_only=legacy_only)
        if found is None:
            typed = await self._by_client_number(why, contacts_available=not legacy_only)
            if isinstance(typed, str):
                return typed
            identity = typed  # that path asked for the PIN already
        else:
            identity = found
            if s.verification in ("pin", "both"):
                if legacy_only:
                    log.warning(
                        "balance: verification=%s needs contact PINs, which legacy api.php lacks",
                        s.verification,
                    )
                    return await self._refuse("refused")
                verdict = await self._pin_loop(identity)
                if verdict != "ok":
                    return verdict
        if not await self.verifier.grant(
            number_key=self.number_key,
            client_id=identity.client_id,
            call_id=self.call_id,
            kind=self.granted_kind,
            channel=self.channel,
            door=self.door,
        ):
            return await self._refuse("limited")
        try:
            async with asyncio.timeout(s.compute_timeout):
                balance = await self.service.provider.balance(identity.client_id)
        except TimeoutError:
            raise BalanceError(f"ITFlow took longer than {s.compute_timeout:g} s") from None
        if not balance.exact and s.approximate == "refuse":
            return await self._refuse("refused")
        steps = readout_plan(balance.amount, balance.currency, self.prompts, approximate=not balance.exact)
        await self.player.play(steps)
        if self.player.missing:
            log.warning(
                "balance readout used fallbacks for missing files: %s",
                ", ".join(sorted(set(self.player.missing))),
            )
        return "spoken"

    async def _by_client_number(self, why: Why, *, contacts_available: bool) -> Identity | str:
        """Unknown/ambiguous caller: the DTMF client-number path, only when a PIN is also required."""
        s = self.settings
        if not (s.client_number_prompt and s.verification == "pin" and contacts_available):
            log.info(
                "balance: caller %s not identified (%s) and no PIN path configured", self.number_key, why
            )
            return await self._refuse("unknown")
        for attempt in range(1, s.max_attempts + 1):
            typed = await self.player.read_digits(
                FileStep(tuple(self.prompts.enter_client_number), "enter_client_number"),
                max_digits=s.client_number_digits,
                key_timeout=s.dtmf_timeout,
            )
            if not typed.text:
                # A timeout is not a guess: it is not counted as a failure, but it uses up the attempt.
                continue
            client_id = int(typed.text) if typed.text.isdigit() else 0
            identity = Identity(client_id, Why.UNKNOWN)
            verdict = await self._one_pin(identity, kind="client-number", last=attempt == s.max_attempts)
            if verdict == "ok":
                return identity
            if verdict != "retry":
                return verdict
        return await self._refuse("refused")

    async def _pin_loop(self, identity: Identity) -> str:
        s = self.settings
        if not await self.verifier.has_pin(identity):
            log.info("balance: client %s has no usable contact_pin for this caller", identity.client_id)
            return await self._refuse("refused")
        for attempt in range(1, s.max_attempts + 1):
            verdict = await self._one_pin(identity, kind="pin", last=attempt == s.max_attempts)
            if verdict != "retry":
                return verdict
        return await self._refuse("refused")

    async def _one_pin(self, identity: Identity, *, kind: str, last: bool) -> str:
        """Ask the PIN once: "ok", "retry" (wrong, tries left), or a final outcome (already spoken)."""
        s = self.settings
        client_id = max(identity.client_id, 0)
        if await self.verifier.locked(self.number_key, client_id, self.channel, self.call_id):
            log.warning(
                "balance: %s is locked out of client %s (too many failures)", clip(self.number_key), client_id
            )
            return await self._refuse("locked")
        typed = await self.player.read_digits(
            FileStep(tuple(self.prompts.enter_pin), "enter_pin"),
            max_digits=s.pin_digits,
            key_timeout=s.dtmf_timeout,
        )
        if not typed.text:
            return "retry" if not last else await self._refuse("refused")
        if client_id > 0 and await self.verifier.pin_check(identity, typed.text):
            self.granted_kind = kind  # recorded as a success by grant(), with the limits checked
            return "ok"
        await self.verifier.attempts.record(
            number=self.number_key,
            client_id=client_id,
            call_id=self.call_id,
            kind=kind,
            ok=False,
            channel=self.channel,
            door=self.door,
        )
        if await self.verifier.locked(self.number_key, client_id, self.channel, self.call_id):
            return await self._refuse("locked")
        if last:
            return await self._refuse("refused")
        await self.player.play_file(FileStep(tuple(self.prompts.pin_incorrect), "pin_incorrect"))
        return "retry"
