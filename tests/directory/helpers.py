"""Small builders for directory tests (parties as a sync would produce them)."""

from __future__ import annotations

from datetime import UTC, datetime

from pbx_bridge.directory.model import NumberLabel, Party, PartyKind, PartyNumber
from pbx_bridge.directory.snapshot import Snapshot
from pbx_bridge.numbers import NumberPlan

PLAN = NumberPlan()


def num(raw: str, label: NumberLabel = NumberLabel.OFFICE, cc: str = "") -> PartyNumber:
    return PartyNumber(label, raw, PLAN.canonical(raw, cc) or "", country_code=cc)


def party(
    kind: PartyKind,
    pid: int,
    name: str,
    *numbers: PartyNumber,
    client_id: int = 0,
    client_name: str = "",
    primary: bool = False,
    archived: bool = False,
) -> Party:
    return Party(kind, pid, name, client_id, client_name, tuple(numbers), primary, archived=archived)


def snapshot(*parties: Party, clients: dict[int, str] | None = None) -> Snapshot:
    return Snapshot(tuple(parties), datetime(2026, 11, 28, tzinfo=UTC), "test", clients=clients or {})


def awkward_contact() -> Party:
    """A contact whose every field is awkward to store: quotes, an emoji, two numbers, a country code."""
    return party(
        PartyKind.CONTACT,
        7,
        'Zoë "Z" O\'Brien 😀',
        num("4125550101"),
        num("2071234567", NumberLabel.MOBILE, cc="44"),
        client_id=1,
        client_name="ACME & Co",
        primary=True,
    )
