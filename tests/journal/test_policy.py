"""Which answered calls are journaled: the first matching rule (direction, DID, queue, client) decides,
else journal.action; a minimum talk time per rule or overall."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from pbx_bridge.ami.outcome import CallRecord, Outcome
from pbx_bridge.journal.policy import JournalPolicy
from pbx_bridge.journal.settings import JournalSettings

START = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


def answered(**kw: object) -> CallRecord:
    base = CallRecord(
        linkedid="1.1",
        outcome=Outcome.ANSWERED,
        caller_num="4125550101",
        started=START,
        ended=START.replace(minute=3),
        talk_seconds=170.0,
        did="5551000",
        extension="201",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def decide(settings: dict[str, object], record: CallRecord, client_id: int = 1) -> str:
    return JournalPolicy(JournalSettings.model_validate(settings)).decide(record, client_id=client_id).action


def test_default_notes_every_answered_call_of_ten_seconds_or_more() -> None:
    assert decide({}, answered()) == "note"
    assert decide({}, answered(talk_seconds=4.0)) == "none"
    assert decide({}, answered(outcome=Outcome.MISSED)) == "none"
    assert decide({}, answered(outcome=Outcome.INTERNAL, direction="internal")) == "none"
    assert decide({}, answered(direction="outbound", dialled="4125550101")) == "note"


@pytest.mark.parametrize(
    ("record", "client", "action"),
    [
        (answered(did="5551999"), 1, "ticket"),  # the sales line opens tickets
        (answered(queue="support"), 1, "note-or-ticket"),
        (answered(direction="outbound", dialled="4125550101"), 1, "none"),  # outbound not journaled
        (answered(), 7, "none"),  # a client that is not billed by call
        (answered(talk_seconds=45.0), 1, "none"),  # under the rule's own minimum
        (answered(), 1, "note"),
    ],
)
def test_first_matching_rule_decides(record: CallRecord, client: int, action: str) -> None:
    settings = {
        "rules": [
            {"dids": ["5551999"], "action": "ticket"},
            {"queues": ["support"], "action": "note-or-ticket"},
            {"direction": "outbound", "action": "none"},
            {"clients": [7], "action": "none"},
            {"direction": "inbound", "min_talk_seconds": 60},
        ]
    }
    assert decide(settings, record, client) == action
