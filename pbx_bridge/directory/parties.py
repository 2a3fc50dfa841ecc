"""ITFlow rows -> parties: one contact, location or vendor row (v1's field names) as a :class:`Party`.

Every number is keyed on the way in (``plan.canonical``), so a party arrives ready for the index. The
live lookup turns its answers into parties here too, so a live name is made exactly as a synced one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from pbx_bridge.directory.model import NumberLabel, Party, PartyKind, PartyNumber

__all__ = [
    "Canonical",
    "Row",
    "contact_party",
    "int_of",
    "is_archived",
    "location_party",
    "make_number",
    "numbers_of",
    "text_of",
    "vendor_party",
]

# One row as ITFlow's JSON gives it: strings, numbers or null.
Row = Mapping[str, object]


class Canonical(Protocol):
    """What keying a number needs: a ``NumberPlan``, or a cache in front of one."""

    def canonical(self, raw: str | None, country_code: str | None = "") -> str | None: ...


def text_of(row: Row, *keys: str) -> str:
    for k in keys:
        v = row.get(k)
        if v is not None:
            return str(v).strip()
    return ""


def int_of(row: Row, *keys: str) -> int:
    try:
        return int(text_of(row, *keys) or 0)
    except ValueError:
        return 0


def is_archived(row: Row, key: str) -> bool:
    return text_of(row, key) not in ("", "0000-00-00 00:00:00")


def _digits_field(value: str) -> str:
    # The 2019-2022 schema defaulted contact_mobile to the *string* 'NULL' (docs/itflow-api.md §4.1).
    return "" if value.upper() == "NULL" else value


def make_number(
    plan: Canonical, label: NumberLabel, raw: str, country_code: str = "", extension: str = ""
) -> PartyNumber | None:
    raw = _digits_field(raw)
    if not raw:
        return None
    cc = _digits_field(country_code)
    return PartyNumber(
        label=label,
        raw=raw,
        canonical=plan.canonical(raw, cc) or "",
        extension=_digits_field(extension),
        country_code=cc,
    )


def numbers_of(*items: PartyNumber | None) -> tuple[PartyNumber, ...]:
    return tuple(n for n in items if n is not None)


def contact_party(
    row: Row, plan: Canonical, clients: Mapping[int, str], primary_ids: frozenset[int] = frozenset()
) -> Party:
    cid = int_of(row, "contact_id")
    client_id = int_of(row, "contact_client_id", "client_id")
    return Party(
        kind=PartyKind.CONTACT,
        id=cid,
        name=text_of(row, "contact_name"),
        client_id=client_id,
        client_name=clients.get(client_id, ""),
        primary=text_of(row, "contact_primary") == "1" or cid in primary_ids,
        title=text_of(row, "contact_title"),
        email=text_of(row, "contact_email"),
        archived=is_archived(row, "contact_archived_at"),
        numbers=numbers_of(
            make_number(
                plan,
                NumberLabel.OFFICE,
                text_of(row, "contact_phone"),
                text_of(row, "contact_phone_country_code"),
                text_of(row, "contact_extension"),
            ),
            make_number(
                plan,
                NumberLabel.MOBILE,
                text_of(row, "contact_mobile"),
                text_of(row, "contact_mobile_country_code"),
            ),
        ),
    )


def location_party(row: Row, plan: Canonical, clients: Mapping[int, str]) -> Party:
    client_id = int_of(row, "location_client_id")
    return Party(
        kind=PartyKind.LOCATION,
        id=int_of(row, "location_id"),
        name=text_of(row, "location_name"),
        client_id=client_id,
        client_name=clients.get(client_id, ""),
        primary=text_of(row, "location_primary") == "1",
        archived=is_archived(row, "location_archived_at"),
        numbers=numbers_of(
            make_number(
                plan,
                NumberLabel.OFFICE,
                text_of(row, "location_phone"),
                text_of(row, "location_phone_country_code"),
                text_of(row, "location_phone_extension"),
            )
        ),
    )


def vendor_party(row: Row, plan: Canonical, clients: Mapping[int, str]) -> Party:
    client_id = int_of(row, "vendor_client_id")
    return Party(
        kind=PartyKind.VENDOR,
        id=int_of(row, "vendor_id"),
        name=text_of(row, "vendor_name"),
        client_id=client_id,
        client_name=clients.get(client_id, ""),
        title=text_of(row, "vendor_contact_name"),
        email=text_of(row, "vendor_email"),
        archived=is_archived(row, "vendor_archived_at"),
        numbers=numbers_of(
            make_number(
                plan,
                NumberLabel.OFFICE,
                text_of(row, "vendor_phone"),
                text_of(row, "vendor_phone_country_code"),
                text_of(row, "vendor_extension"),
            )
        ),
    )
