"""Finished call -> policy -> rendered ticket -> committed outbox row (before any ITFlow call).

The directory lookup is best effort: when it fails the call is ticketed as an unknown caller, never lost.
On a legacy ITFlow (no ticket API) nothing is enqueued, so the outbox does not grow.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from pbx_bridge.ami.outcome import CallRecord, Outcome
from pbx_bridge.directory.model import LookupResult
from pbx_bridge.log_limits import clip
from pbx_bridge.technicians import TechniciansSettings
from pbx_bridge.tickets.outbox import Outbox
from pbx_bridge.tickets.policy import TicketPolicy
from pbx_bridge.tickets.render import read_voicemail, render_ticket
from pbx_bridge.tickets.settings import TicketsSettings
from pbx_bridge.tickets.voicemail_links import VoicemailLinks

__all__ = ["TicketIntake"]

log = logging.getLogger("pbx_bridge.tickets")

Lookup = Callable[[str], Awaitable[LookupResult]]


class Numbers(Protocol):
    """What intake needs of :class:`pbx_bridge.numbers.NumberPlan`."""

    def canonical(self, raw: str | None) -> str | None: ...
    def format(self, e164: str, form: str) -> str: ...


class TicketIntake:
    def __init__(
        self,
        settings: TicketsSettings,
        outbox: Outbox,
        *,
        is_internal: Callable[[str], bool],
        plan: Numbers | None = None,
        lookup: Lookup | None = None,
        available: Callable[[], bool | None] = lambda: None,
        lookup_timeout: float = 2.0,
        spool_root: Path = Path("/var/spool/asterisk/voicemail"),
        technicians: TechniciansSettings | None = None,
        links: VoicemailLinks | None = None,
    ) -> None:
        self.links = links
        self.spool_root = spool_root
        self.technicians = technicians or TechniciansSettings()
        self.s = settings
        self.outbox = outbox
        self.policy = TicketPolicy(settings, is_internal=is_internal)
        self.plan = plan
        self.lookup = lookup
        self.available = available
        self.lookup_timeout = lookup_timeout
        self.tz = ZoneInfo(settings.business_hours.timezone)
        self.skipped: dict[str, int] = {}
        self._warned_unavailable = False

    async def __call__(self, record: CallRecord) -> None:
        await self.handle(record)

    async def handle(self, record: CallRecord) -> bool:
        """True when a ticket row was committed."""
        if record.outcome is Outcome.LOST:
            self._skip("lost")
            return False
        canonical = self._canonical(record.caller_num)
        match = await self._lookup(record.caller_num) if record.caller_num else None
        found = match is not None and match.found
        decision = self.policy.decide(record, caller_known=found)
        if not decision.ticket:
            self._skip(decision.reason)
            log.debug("tickets: call %s: %s", record.linkedid, decision.reason)
            return False
        if self.available() is False:
            if not self._warned_unavailable:
                log.warning("tickets: this ITFlow has no ticket API (legacy api.php): calls are not ticketed")
                self._warned_unavailable = True
            self._skip("ticketing unavailable")
            return False
        client_id = contact_id = 0
        client_name = contact_name = ""
        if match is not None and found:
            client_id, contact_id, client_name = match.client_id, match.contact_id, match.client_name
            contact_name = match.party.name if match.party is not None else ""
        else:
            client_id = self.s.unknown_client_id
        display = self._display(canonical, record.caller_num)
        vm = None
        if record.outcome in (Outcome.VOICEMAIL, Outcome.VOICEMAIL_NO_MESSAGE):
            vm = await asyncio.to_thread(read_voicemail, self.spool_root, record)
        audio_link = None
        if vm is not None and vm.msg_id and self.links is not None and record.outcome is Outcome.VOICEMAIL:
            made = self.links.link(vm.box or vm.mailbox or record.mailbox, vm.msg_id)
            if made is not None:
                audio_link = (made[0], datetime.fromtimestamp(made[1], UTC))
        draft = render_ticket(
            record,
            kind=decision.kind,
            number_display=display,
            client_id=client_id,
            contact_id=contact_id,
            client_name=client_name,
            contact_name=contact_name,
            voicemail=vm,
            tz=self.tz,
            priority=self.s.priority,
            subject_max=self.s.subject_max,
            audio_link=audio_link,
        )
        payload = {
            "subject": draft.subject,
            "details": draft.details,
            "priority": draft.priority,
            "marker": draft.marker,
            "outcome": record.outcome.value,
            "ended": record.ended.isoformat() if record.ended else "",
            "assigned_to": str(self.owner_of(record) or ""),
        }
        row = await self.outbox.aenqueue(
            record.linkedid,
            decision.kind,
            payload,
            number=canonical or record.caller_num,
            contact_id=contact_id,
            client_id=client_id,
        )
        if row is None:
            log.info("tickets: call %s/%s already in the outbox", record.linkedid, decision.kind)
            return False
        log.info(
            "tickets: call %s from %s -> %s ticket queued (%s)",
            clip(record.linkedid, 60),
            clip(display or "?"),
            decision.kind,
            record.outcome.value,
        )
        return True

    def owner_of(self, record: CallRecord) -> int | None:
        """The ITFlow user the call's DID, ring group or queue belongs to (tickets.owners)."""
        for owner in self.s.owners:
            if (record.did and record.did in owner.dids) or (record.queue and record.queue in owner.queues):
                if owner.user_id is not None:
                    return owner.user_id
                person = next((p for p in self.technicians.people if p.name == owner.technician), None)
                return person.itflow_user_id if person is not None else None
        return None

    def _skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def _canonical(self, raw: str) -> str:
        if not raw or self.plan is None:
            return ""
        try:
            return self.plan.canonical(raw) or ""
        except Exception:  # the ticket still goes out, with the raw number
            log.warning("tickets: number %r could not be canonicalised", clip(raw), exc_info=True)
            return ""

    def _display(self, canonical: str, raw: str) -> str:
        if canonical and self.plan is not None:
            try:
                return self.plan.format(canonical, "international")
            except Exception:  # the ticket still goes out, with the E.164 form
                log.warning("tickets: number %s could not be formatted", canonical, exc_info=True)
                return canonical
        return canonical or raw

    async def _lookup(self, number: str) -> LookupResult | None:
        if self.lookup is None:
            return None
        try:
            async with asyncio.timeout(self.lookup_timeout):
                return await self.lookup(number)
        except Exception as exc:  # the directory is a nicety; the ticket is not
            log.warning(
                "tickets: directory lookup for %s failed (%s); ticketing as unknown caller", number, exc
            )
            return None
