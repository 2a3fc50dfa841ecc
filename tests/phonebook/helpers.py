"""Parties for phonebook tests: real NumberPlan keys, names that break naive XML/CSV writers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from pbx_bridge.directory.model import NumberLabel, Party, PartyKind, PartyNumber
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.phonebook.entries import Book, build_book
from pbx_bridge.phonebook.settings import PhonebookSettings
from tests.support.waits import wait_until

PLAN = NumberPlan()

# Every name a writer must survive: markup characters, quotes, emoji (with ZWJ), RTL, controls.
NASTY_NAMES = [
    "Bell & Whistle",
    "<script>alert(1)</script>",
    "Quote \"double\" and 'single'",
    "Emoji 😀 family 👩\u200d👩\u200d👧",
    "Control\x01\x02\x0b\x1f chars\x7f",
    "Line\nbreak\tand tab\r",
    "שלום עולם",
    "Ünïcödé Straße",
    "a" * 100,
    "Semi;colon, comma\\back",
]


def num(label: NumberLabel, raw: str) -> PartyNumber:
    return PartyNumber(label, raw, PLAN.canonical(raw) or "")


def contact(
    cid: int,
    name: str,
    client: str = "ACME Corp",
    *numbers: tuple[NumberLabel, str],
    client_id: int = 1,
    archived: bool = False,
    email: str = "",
) -> Party:
    return Party(
        PartyKind.CONTACT,
        cid,
        name,
        client_id,
        client,
        tuple(num(label, raw) for label, raw in numbers),
        archived=archived,
        email=email,
    )


def vendor(vid: int, name: str, raw: str) -> Party:
    return Party(PartyKind.VENDOR, vid, name, 0, "", (num(NumberLabel.OFFICE, raw),))


def location(lid: int, name: str, client: str, raw: str) -> Party:
    return Party(PartyKind.LOCATION, lid, name, 1, client, (num(NumberLabel.OFFICE, raw),))


def nasty_parties() -> list[Party]:
    out: list[Party] = []
    for i, name in enumerate(NASTY_NAMES):
        out.append(
            contact(
                i + 1,
                name,
                f"Client {name}",
                (NumberLabel.OFFICE, f"41255501{i:02d}"),
                (NumberLabel.MOBILE, f"41255502{i:02d}"),
            )
        )
        out.append(vendor(100 + i, name, f"41255503{i:02d}"))
    out.append(location(200, "HQ & Annex", "ACME <Corp>", "4125550400"))
    return out


def many_parties(n: int, *, numbers: int = 2) -> list[Party]:
    labels = [NumberLabel.OFFICE, NumberLabel.MOBILE, NumberLabel.OTHER]
    out = []
    for i in range(n):
        nums = [(labels[k], f"412{(i * 3 + k) % 10**7:07d}") for k in range(numbers)]
        out.append(contact(i + 1, f"Person {i:06d}", f"Client {i % 50}", *nums, client_id=i % 50 + 1))
    return out


def book_of(parties: list[Party], **settings: object) -> Book:
    return build_book(parties, PLAN, PhonebookSettings(**settings))


async def eventually(condition: Callable[[], bool], *, tries: int = 200, pause: float = 0.05) -> bool:
    """Wait (bounded: ``tries`` checks ``pause`` apart) until the background loop made ``condition``
    true; returns whether it did, so the test asserts what it expects afterwards."""
    with contextlib.suppress(AssertionError):  # the caller asserts, with its own message
        await wait_until(condition, timeout=tries * pause, what="the background loop", poll=pause)
    return condition()
