"""Finer outcomes from whatever the PBX sent (ami/outcome.py): every input optional, the caller giving
up wins, the SIP code beats the Q.850 cause, which beats DialStatus, which beats the Cdr."""

from __future__ import annotations

import pytest

from pbx_bridge.ami.outcome import DETAILS, fine_outcome

from .traces import replay


@pytest.mark.parametrize(
    ("inputs", "detail"),
    [
        ({}, ""),  # older Asterisk, nothing finer on the wire
        ({"dial_statuses": {"BUSY"}}, "busy"),
        ({"dial_statuses": {"BUSY"}, "causes": (21,)}, "declined"),  # 603 is a BUSY DialStatus
        ({"dial_statuses": {"BUSY"}, "tech_causes": (603,)}, "declined"),
        ({"causes": (17,), "tech_causes": (486,)}, "busy"),
        ({"dial_statuses": {"CHANUNAVAIL"}, "causes": (3,), "tech_causes": (404,)}, "unavailable"),
        ({"dial_statuses": {"CONGESTION"}}, "congestion"),
        ({"causes": (34,)}, "congestion"),
        ({"dial_statuses": {"NOANSWER"}}, "no-answer"),
        ({"dial_statuses": {"CANCEL", "BUSY"}, "tech_causes": (486,)}, "cancelled"),
        ({"tech_causes": (487,)}, "cancelled"),
        ({"cdr_dispositions": {"CANCEL"}}, "cancelled"),  # 22.6+ with canceldispositionenabled=yes
        ({"cdr_dispositions": {"NO ANSWER"}}, "no-answer"),
        ({"causes": (16,)}, ""),  # normal clearing says nothing about why nobody answered
    ],
)
def test_fine_outcome(inputs: dict[str, object], detail: str) -> None:
    got, _cause, _tech = fine_outcome(**inputs)  # type: ignore[arg-type]
    assert got == detail
    assert got == "" or got in DETAILS


def test_codes_are_kept_for_display() -> None:
    assert fine_outcome(causes=(17,), tech_causes=(486,)) == ("busy", 17, 486)
    assert fine_outcome(dial_statuses={"BUSY"}) == ("busy", None, None)


@pytest.mark.parametrize(
    ("trace", "detail", "cause", "tech"),
    [
        ("busy-vm-no-message.txt", "busy", 17, 486),  # 201 replies 486
        ("missed-caller-hangup.txt", "cancelled", None, 487),
        ("noanswer-vm-no-message.txt", "no-answer", None, None),
        ("lab-flows/plain/unavailable-extension.txt", "unavailable", 3, 404),
        ("answered.txt", "", None, None),  # answered calls carry no failure detail
    ],
)
def test_traces_give_the_detail(trace: str, detail: str, cause: int | None, tech: int | None) -> None:
    (rec,) = replay(trace)
    assert (rec.detail, rec.hangup_cause, rec.tech_cause) == (detail, cause, tech)


@pytest.mark.parametrize("dialplan", ["plain", "freepbx"])
def test_outbound_call_is_answered_by_the_far_end_for_the_calling_extension(dialplan: str) -> None:
    (rec,) = replay(f"lab-flows/{dialplan}/extension-out-answered.txt")
    assert (rec.outcome.value, rec.direction, rec.extension, rec.dialled) == (
        "answered",
        "outbound",
        "201",
        "4125550100",
    )
    assert rec.talk_seconds > 1


@pytest.mark.parametrize("dialplan", ["plain", "freepbx"])
def test_inbound_answer_names_the_answering_extension_and_queue_wait(dialplan: str) -> None:
    (rec,) = replay(f"lab-flows/{dialplan}/queue-later-member.txt")
    assert (rec.direction, rec.extension) == ("inbound", "204")
    assert rec.queue_wait_seconds == pytest.approx(5.0, abs=0.5)  # 203 rang out first
    (direct,) = replay(f"lab-flows/{dialplan}/trunk-in-answered.txt")
    assert (direct.direction, direct.extension, direct.queue_wait_seconds) == ("inbound", "201", 0.0)


def test_call_between_extensions_stays_internal() -> None:
    (rec,) = replay("freepbx-like/internal-answered.txt")
    assert (rec.outcome.value, rec.direction, rec.dialled) == ("internal", "internal", "")
