"""Which finished calls become tickets (the issue's outcome table, every row configurable).

Pure: a :class:`CallRecord` and whether the directory knows the caller in, a :class:`Decision` out.
Repeat callers are decided at delivery time by the worker (it must read the earlier ticket's status).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from pbx_bridge.ami.outcome import CallRecord, Outcome
from pbx_bridge.tickets.settings import WEEKDAYS, TicketsSettings

__all__ = ["Decision", "TicketPolicy", "ticket_kind"]

_MISSED_LIKE = frozenset(
    {Outcome.MISSED, Outcome.BUSY, Outcome.UNAVAILABLE, Outcome.VOICEMAIL_NO_MESSAGE, Outcome.ABANDONED}
)


def ticket_kind(outcome: Outcome) -> str:
    """The idempotency kind: one ticket per (Linkedid, kind); voicemail replaces missed."""
    return "voicemail" if outcome is Outcome.VOICEMAIL else "missed"


@dataclass(frozen=True, slots=True)
class Decision:
    ticket: bool
    kind: str
    reason: str


class TicketPolicy:
    def __init__(self, settings: TicketsSettings, *, is_internal: Callable[[str], bool]) -> None:
        self.s = settings
        self._is_internal = is_internal
        self._tz = ZoneInfo(settings.business_hours.timezone)
        self._hours: dict[int, list[tuple[time, time]]] = {}
        for day, ranges in settings.business_hours.weekly.items():
            spans = []
            for r in ranges:
                a, b = r.split("-")
                end = time(23, 59, 59, 999999) if b == "24:00" else time.fromisoformat(b)
                spans.append((time.fromisoformat(a), end))
            self._hours[WEEKDAYS.index(day)] = spans

    def decide(self, record: CallRecord, *, caller_known: bool) -> Decision:
        kind = ticket_kind(record.outcome)
        action = getattr(self.s.outcomes, record.outcome.value.replace("-", "_"))
        if record.outcome in _MISSED_LIKE and not self.s.missed:
            action = "none"
        if record.outcome is Outcome.VOICEMAIL and not self.s.voicemail:
            action = "none"
        if action != "ticket":
            return Decision(False, kind, f"outcome {record.outcome.value}: no ticket by policy")
        if record.caller_num and self._is_internal(record.caller_num):
            return Decision(False, kind, "caller is an internal extension")
        if not self._inbound(record):
            return Decision(False, kind, "not an inbound call by context/DID/queue")
        if record.outcome in _MISSED_LIKE and record.ring_seconds < self.s.min_ring_seconds:
            return Decision(False, kind, f"rang {record.ring_seconds:.1f} s < min_ring_seconds")
        if not caller_known and self.s.unknown_callers == "skip":
            return Decision(False, kind, "unknown caller: skipped by policy")
        if self.s.business_hours.enabled and not self.in_business_hours(record.started or record.ended):
            if self.s.business_hours.outside != "ticket":
                return Decision(False, kind, "outside business hours")
        return Decision(True, kind, f"outcome {record.outcome.value}")

    def _inbound(self, record: CallRecord) -> bool:
        s = self.s
        if not (s.inbound_contexts or s.inbound_dids or s.inbound_queues):
            return True
        return (
            record.context in s.inbound_contexts
            or record.did in s.inbound_dids
            or (bool(record.queue) and record.queue in s.inbound_queues)
        )

    def in_business_hours(self, when: datetime | None) -> bool:
        if when is None:
            return True
        local = when.astimezone(self._tz)
        if local.date() in self.s.business_hours.holidays:
            return False
        t = local.time()
        return any(a <= t < b for a, b in self._hours.get(local.weekday(), []))
