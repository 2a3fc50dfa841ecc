"""Answered call -> policy -> note -> committed outbox item(s), before any ITFlow call.

One item of kind ``journal`` per call (the note: an Internal reply on the open ticket, or a new
ticket), plus ``journal-time`` when a new ticket may be opened and time is billed: ITFlow's
``tickets/create`` takes no time worked, so the time goes in a reply on the ticket the first item
made (the outbox delivers it after that one, and skips it when the note went out as a reply that
already carried the time).
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol
from zoneinfo import ZoneInfo

from pbx_bridge.ami.outcome import CallRecord, Outcome
from pbx_bridge.directory.model import LookupResult
from pbx_bridge.journal.policy import JournalPolicy
from pbx_bridge.journal.render import KIND, render_note
from pbx_bridge.journal.settings import JournalSettings
from pbx_bridge.journal.timeworked import format_hms, time_worked
from pbx_bridge.log_limits import clip
from pbx_bridge.technicians import TechniciansSettings

__all__ = ["TIME_KIND", "Enqueue", "JournalIntake"]

log = logging.getLogger("pbx_bridge.journal")

TIME_KIND = "journal-time"
Lookup = Callable[[str], Awaitable[LookupResult]]


class Enqueue(Protocol):
    """:meth:`pbx_bridge.tickets.outbox.Outbox.aenqueue`: commit one item; None when already there."""

    def __call__(
        self,
        linkedid: str,
        kind: str,
        payload: dict[str, str],
        *,
        number: str = "",
        contact_id: int = 0,
        client_id: int = 0,
    ) -> Awaitable[object | None]: ...


class Numbers(Protocol):
    def canonical(self, raw: str | None) -> str | None: ...
    def format(self, e164: str, form: str) -> str: ...


class JournalIntake:
    def __init__(
        self,
        settings: JournalSettings,
        enqueue: Enqueue,
        *,
        technicians: TechniciansSettings,
        lookup: Lookup | None = None,
        plan: Numbers | None = None,
        available: Callable[[], bool | None] = lambda: None,
        link_base: str | None = None,
        tz: ZoneInfo | None = None,
        lookup_timeout: float = 2.0,
    ) -> None:
        self.s = settings
        self.enqueue = enqueue
        self.technicians = technicians
        self.lookup = lookup
        self.plan = plan
        self.available = available
        self.link_base = link_base if settings.link_calls_page else None
        self.tz = tz or ZoneInfo("UTC")
        self.lookup_timeout = lookup_timeout
        self.policy = JournalPolicy(settings)
        self.skipped: dict[str, int] = {}
        self._warned = False

    async def __call__(self, record: CallRecord) -> None:
        await self.handle(record)

    async def handle(self, record: CallRecord) -> bool:
        """True when a journal item was committed."""
        if not self.s.enabled:
            return False
        if record.outcome is not Outcome.ANSWERED or record.direction not in ("inbound", "outbound"):
            return self._skip(f"{record.direction} call, {record.outcome.value}: not journaled")
        raw = record.caller_num if record.direction == "inbound" else record.dialled
        match = await self._lookup(raw) if raw else None
        found = match is not None and match.found
        client_id = match.client_id if match is not None and found else 0
        decision = self.policy.decide(record, client_id=client_id)
        if not decision.journaled:
            return self._skip(decision.reason)
        action = decision.action
        if not found:
            if self.s.unknown_callers == "skip" or action == "note":
                return self._skip("caller not in ITFlow")
            client_id, action = self.s.unknown_client_id, "ticket"
        if self.available() is False:
            if not self._warned:
                log.warning("journal: this ITFlow cannot take a call journal (v26.08+ needed); not journaled")
                self._warned = True
            return self._skip("journal unavailable")
        person = self.technicians.by_extension(record.extension) if record.extension else None
        who_took = f"{person.name} ({record.extension})" if person else record.extension
        seconds = time_worked(record.talk_seconds, self.s.rounding)
        worked = format_hms(seconds)
        who = ""
        contact_id = 0
        if match is not None and found:
            contact_id = match.contact_id
            contact = match.party.name if match.party is not None else ""
            who = " - ".join(p for p in (match.client_name, contact) if p)
        display = self._display(raw)
        note = render_note(
            record,
            number_display=display,
            who=who,
            technician=who_took,
            time_worked=worked,
            link_base=self.link_base,
            tz=self.tz,
            subject_max=self.s.subject_max,
        )
        assignee = person.itflow_user_id if person is not None and self.s.assign_to_technician else None
        payload = {
            "subject": note.subject,
            "details": note.details,
            "priority": self.s.priority,
            "marker": note.marker,
            "outcome": record.outcome.value,
            "ended": record.ended.isoformat() if record.ended else "",
            "mode": action,
            "time_worked": worked,
            "technician": person.name if person is not None else "",
            "assigned_to": str(assignee or ""),
        }
        number = self._canonical(raw) or raw
        row = await self.enqueue(
            record.linkedid, KIND, payload, number=number, contact_id=contact_id, client_id=client_id
        )
        if seconds and action in ("ticket", "note-or-ticket"):
            marker = f"pbx-bridge:call={record.linkedid};kind={TIME_KIND}"
            time_payload = dict(payload, marker=marker, mode="time")
            what = html.escape(note.subject[:120])
            time_payload["details"] = (
                f"<p>Time worked: {worked} ({what})</p><p><small>{html.escape(marker)}</small></p>"
            )
            await self.enqueue(
                record.linkedid,
                TIME_KIND,
                time_payload,
                number=number,
                contact_id=contact_id,
                client_id=client_id,
            )
        if row is None:
            log.info("journal: call %s already in the outbox", clip(record.linkedid, 60))
            return False
        log.info(
            "journal: call %s (%s, %s, talk %.0f s) -> %s queued",
            clip(record.linkedid, 60),
            record.direction,
            clip(who_took or "?"),
            record.talk_seconds,
            action,
        )
        return True

    def _skip(self, why: str) -> bool:
        self.skipped[why] = self.skipped.get(why, 0) + 1
        log.debug("journal: %s", why)
        return False

    def _canonical(self, raw: str) -> str:
        if not raw or self.plan is None:
            return ""
        try:
            return self.plan.canonical(raw) or ""
        except Exception:  # the note still goes out, with the raw number
            return ""

    def _display(self, raw: str) -> str:
        canonical = self._canonical(raw)
        if canonical and self.plan is not None:
            try:
                return self.plan.format(canonical, "international")
            except Exception:  # the E.164 form then
                return canonical
        return canonical or raw

    async def _lookup(self, number: str) -> LookupResult | None:
        if self.lookup is None:
            return None
        try:
            async with asyncio.timeout(self.lookup_timeout):
                return await self.lookup(number)
        except Exception as exc:  # the journal is best effort about who called; the call still counts
            log.warning("journal: directory lookup for %s failed (%s)", clip(number), exc)
            return None
