"""The directory's vocabulary: parties (who can call), their numbers, and what a lookup answers.

A *party* is a contact, a location or a vendor; the client it belongs to names the company (v1 clients
have no phone of their own). Numbers are stored as ITFlow has them and as canonical E.164 keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class PartyKind(StrEnum):
    CONTACT = "contact"
    LOCATION = "location"
    VENDOR = "vendor"


class NumberLabel(StrEnum):
    OFFICE = "office"  # contact_phone, location_phone, vendor_phone
    MOBILE = "mobile"  # contact_mobile
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class PartyNumber:
    label: NumberLabel
    raw: str  # as ITFlow stores it (digits); the country-code column is kept apart below
    canonical: str  # E.164 key, e.g. "+14125550101"; "" when not a possible number
    extension: str = ""
    country_code: str = ""  # ITFlow's separate *_country_code column ('' when NULL or blank)


@dataclass(frozen=True, slots=True)
class Party:
    kind: PartyKind
    id: int  # contact_id / location_id / vendor_id (0 when the backend gives none: legacy)
    name: str  # the party's own name (contact name, location name, vendor name)
    client_id: int = 0  # 0: no client (a global vendor, or unknown on legacy)
    client_name: str = ""
    numbers: tuple[PartyNumber, ...] = ()
    primary: bool = False  # the client's primary contact / primary location
    title: str = ""
    email: str = ""
    archived: bool = False


class MatchKind(StrEnum):
    """The value of the ``ITFLOW_MATCH`` channel variable (a contract; keep the names)."""

    CONTACT = "contact"
    LOCATION = "location"
    VENDOR = "vendor"
    AMBIGUOUS = "ambiguous"
    LEGACY = "legacy"  # only a legacy name is known (api.php cid), no ids
    NONE = "none"


@dataclass(frozen=True, slots=True)
class LookupResult:
    """What a caller-ID lookup answers. ``display`` is the rendered CALLERID(name), "" on no match."""

    match: MatchKind
    number: str  # the canonical number looked up ("" when not a lookup-able number)
    display: str = ""
    party: Party | None = None
    client_id: int = 0
    client_name: str = ""
    contact_id: int = 0
    source: str = "index"  # index | cache | live | none
    candidates: tuple[Party, ...] = field(default_factory=tuple)

    @property
    def found(self) -> bool:
        return self.match is not MatchKind.NONE

    def to_dict(self) -> dict[str, object]:
        """Plain data for JSON answers (CLI ``lookup --json``; ``/cid.json`` has its own shape)."""
        return {
            "match": self.match.value,
            "number": self.number,
            "display": self.display,
            "client_id": self.client_id,
            "client_name": self.client_name,
            "contact_id": self.contact_id,
            "source": self.source,
            "party": party_to_dict(self.party) if self.party else None,
            "candidates": [party_to_dict(p) for p in self.candidates],
        }


def party_to_dict(p: Party) -> dict[str, object]:
    return {
        "kind": p.kind.value,
        "id": p.id,
        "name": p.name,
        "client_id": p.client_id,
        "client_name": p.client_name,
        "primary": p.primary,
        "numbers": [
            {
                "label": n.label.value,
                "raw": n.raw,
                "canonical": n.canonical,
                "extension": n.extension,
                "country_code": n.country_code,
            }
            for n in p.numbers
        ],
    }
