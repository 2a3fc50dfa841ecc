"""Which answered calls are journaled, and how (docs/tickets.md, "The journal's policy").

Pure: a :class:`CallRecord` and the matched client in, a :class:`JournalDecision` out. The first rule
that matches decides; no rule matching means ``journal.action``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pbx_bridge.ami.outcome import CallRecord, Outcome
from pbx_bridge.journal.settings import JournalAction, JournalRule, JournalSettings

__all__ = ["JournalDecision", "JournalPolicy"]


@dataclass(frozen=True, slots=True)
class JournalDecision:
    action: JournalAction
    reason: str

    @property
    def journaled(self) -> bool:
        return self.action != "none"


class JournalPolicy:
    def __init__(self, settings: JournalSettings) -> None:
        self.s = settings

    def decide(self, record: CallRecord, *, client_id: int) -> JournalDecision:
        if record.outcome is not Outcome.ANSWERED or record.direction not in ("inbound", "outbound"):
            return JournalDecision("none", f"{record.direction} call, {record.outcome.value}: not journaled")
        rule = self._rule(record, client_id)
        action = rule.action if rule is not None else self.s.action
        minimum = self.s.min_talk_seconds
        if rule is not None and rule.min_talk_seconds is not None:
            minimum = rule.min_talk_seconds
        which = f"rule {self.s.rules.index(rule) + 1}" if rule is not None else "journal.action"
        if action == "none":
            return JournalDecision("none", f"{which}: not journaled")
        if record.talk_seconds < minimum:
            return JournalDecision("none", f"talked {record.talk_seconds:.0f} s < {minimum:.0f} s ({which})")
        return JournalDecision(action, which)

    def _rule(self, record: CallRecord, client_id: int) -> JournalRule | None:
        for rule in self.s.rules:
            if rule.direction != "any" and rule.direction != record.direction:
                continue
            if rule.dids and record.did not in rule.dids:
                continue
            if rule.queues and record.queue not in rule.queues:
                continue
            if rule.clients and client_id not in rule.clients:
                continue
            return rule
        return None
