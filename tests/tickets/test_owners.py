"""Missed-call and voicemail tickets assigned to the DID's, ring group's or queue's owner
(tickets.owners), by technician name or ITFlow user id; 26.09.3+ then stores them Open."""

from __future__ import annotations

import pytest

from pbx_bridge.ami.outcome import Outcome
from pbx_bridge.config import ConfigError
from pbx_bridge.settings import parse_settings
from pbx_bridge.technicians import TechniciansSettings
from pbx_bridge.tickets.intake import TicketIntake
from pbx_bridge.tickets.settings import TicketsSettings

from .support import RigFactory, record

OWNERS = {
    "owners": [
        {"dids": ["5551000"], "technician": "Dana"},
        {"queues": ["support"], "user_id": 3},
        {"dids": ["600"], "user_id": 5},  # a ring group's number
    ]
}
PEOPLE = TechniciansSettings.model_validate([{"name": "Dana", "extensions": ["202"], "itflow_user_id": 2}])


@pytest.mark.parametrize(
    ("call", "owner"),
    [
        ({"did": "5551000"}, "2"),
        ({"did": "5551002", "queue": "support", "outcome": Outcome.ABANDONED}, "3"),
        ({"did": "600", "outcome": Outcome.VOICEMAIL}, "5"),
        ({"did": "5559999"}, "0"),  # nobody's: unassigned
    ],
)
async def test_ticket_is_assigned_to_the_owner(
    rig_for: RigFactory, call: dict[str, object], owner: str
) -> None:
    settings = TicketsSettings.model_validate(OWNERS)
    rig = await rig_for("v1-2610", settings=settings)
    intake = TicketIntake(settings, rig.outbox, is_internal=lambda n: len(n) <= 4, technicians=PEOPLE)
    outcome = call.pop("outcome", Outcome.MISSED)
    assert await intake.handle(record("1800000500.1", outcome, **call))  # type: ignore[arg-type]
    await rig.rounds(1, step=1)
    (ticket,) = rig.tickets
    assert ticket["ticket_assigned_to"] == owner
    assert ticket["ticket_status"] == ("2" if owner != "0" else "1")  # 26.09.3+: assigned opens


def test_an_owner_who_is_not_a_technician_is_a_config_error() -> None:
    text = (
        "itflow:\n  url: http://x\n  api_key: k\ntechnicians:\n  - name: Dana\n    extensions: ['202']\n"
        "tickets:\n  owners:\n    - dids: ['5551000']\n      technician: Dan\n"
    )
    with pytest.raises(ConfigError, match=r"tickets.owners.0.technician: .Dan. is not in technicians"):
        parse_settings(text, env={})
