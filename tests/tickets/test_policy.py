"""The outcome table and the "which calls count" rules."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from pbx_bridge.ami.outcome import Outcome
from pbx_bridge.ami.tracker import default_is_internal
from pbx_bridge.tickets.policy import TicketPolicy
from pbx_bridge.tickets.settings import BusinessHours, OutcomeActions, TicketsSettings

from .support import record

DEFAULTS = {
    Outcome.ANSWERED: False,
    Outcome.MISSED: True,
    Outcome.BUSY: True,
    Outcome.UNAVAILABLE: True,
    Outcome.VOICEMAIL_NO_MESSAGE: True,
    Outcome.VOICEMAIL: True,
    Outcome.ABANDONED: True,
    Outcome.INTERNAL: False,
    Outcome.APPLICATION: False,
    Outcome.LOST: False,
}


def _policy(**kw: object) -> TicketPolicy:
    return TicketPolicy(TicketsSettings(**kw), is_internal=default_is_internal)


@pytest.mark.parametrize("outcome", list(Outcome))
def test_default_table(outcome: Outcome) -> None:
    d = _policy().decide(record("1.1", outcome), caller_known=True)
    assert d.ticket is DEFAULTS[outcome]
    assert d.kind == ("voicemail" if outcome is Outcome.VOICEMAIL else "missed")


def test_every_row_is_configurable() -> None:
    p = _policy(outcomes=OutcomeActions(answered="ticket", missed="none"))
    assert p.decide(record("1.1", Outcome.ANSWERED), caller_known=True).ticket
    assert not p.decide(record("1.1", Outcome.MISSED), caller_known=True).ticket
    assert not _policy(missed=False).decide(record("1.1", Outcome.ABANDONED), caller_known=True).ticket
    assert not _policy(voicemail=False).decide(record("1.1", Outcome.VOICEMAIL), caller_known=True).ticket


def test_internal_caller_never_even_if_the_row_says_ticket() -> None:
    assert not _policy().decide(record("1.1", Outcome.MISSED, number="201"), caller_known=True).ticket


def test_inbound_by_context_did_or_queue() -> None:
    p = _policy(inbound_dids=["5551000"], inbound_queues=["400"])
    assert p.decide(record("1.1", did="5551000"), caller_known=True).ticket
    assert p.decide(record("1.1", did="5559999", queue="400"), caller_known=True).ticket
    assert not p.decide(record("1.1", did="5559999"), caller_known=True).ticket
    p = _policy(inbound_contexts=["from-pstn"])
    assert p.decide(record("1.1", context="from-pstn"), caller_known=True).ticket
    assert not p.decide(record("1.1", context="from-sipp"), caller_known=True).ticket


def test_min_ring_time() -> None:
    p = _policy(min_ring_seconds=4)
    assert not p.decide(record("1.1", ring_seconds=3.0), caller_known=True).ticket
    assert p.decide(record("1.1", ring_seconds=4.0), caller_known=True).ticket
    assert p.decide(record("1.1", Outcome.VOICEMAIL, ring_seconds=0.0), caller_known=True).ticket


def test_unknown_callers_ticket_or_skip() -> None:
    assert _policy().decide(record("1.1"), caller_known=False).ticket
    assert not _policy(unknown_callers="skip").decide(record("1.1"), caller_known=False).ticket


def test_business_hours_weekly_holidays_and_time_zone() -> None:
    hours = BusinessHours(
        enabled=True,
        timezone="America/New_York",
        weekly={"mon": ["09:00-12:00", "13:00-17:00"], "sat": ["10:00-12:00"]},
        holidays=[date(2026, 12, 28)],
    )
    p = _policy(business_hours=hours)

    def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> bool:
        when = datetime(y, m, d, hh, mm, tzinfo=UTC)
        return p.decide(record("1.1", started=when, ended=when), caller_known=True).ticket

    assert at(2026, 11, 30, 14)  # Monday 09:00 New York
    assert not at(2026, 11, 30, 17, 30)  # Monday 12:30 New York (lunch)
    assert not at(2026, 11, 30, 13)  # Monday 08:00 New York
    assert at(2026, 11, 28, 15)  # Saturday 10:00 New York
    assert not at(2026, 11, 29, 15)  # Sunday
    assert not at(2026, 12, 28, 15)  # a Monday holiday
    outside = _policy(business_hours=hours.model_copy(update={"outside": "ticket"}))
    when = datetime(2026, 11, 29, 15, tzinfo=UTC)
    assert outside.decide(record("1.1", started=when), caller_known=True).ticket


def test_bad_business_hours_are_config_errors() -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        BusinessHours(weekly={"mon": ["17:00-09:00"]})
    with pytest.raises(ValueError, match="weekday"):
        BusinessHours(weekly={"monday": ["09:00-17:00"]})
    with pytest.raises(ValueError, match="time zone"):
        BusinessHours(timezone="Mars/Olympus")
