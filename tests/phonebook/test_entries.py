"""Entries from directory parties: numbers, groups, names, forms, exclusions, order."""

from __future__ import annotations

import random

import pytest

from pbx_bridge.directory.model import NumberLabel, Party, PartyKind, PartyNumber
from pbx_bridge.phonebook.entries import build_book
from pbx_bridge.phonebook.settings import PhonebookSettings
from tests.phonebook.helpers import PLAN, book_of, contact, location, nasty_parties, vendor

OFF, MOB, OTH = NumberLabel.OFFICE, NumberLabel.MOBILE, NumberLabel.OTHER


def alice() -> Party:
    return contact(
        1, "Alice Smith", "ACME Corp", (OFF, "4125550101"), (MOB, "4125550199"), (OTH, "4125550188")
    )


def test_contact_keeps_every_number_with_its_label_in_office_mobile_other_order():
    p = Party(
        PartyKind.CONTACT,
        1,
        "Alice Smith",
        1,
        "ACME Corp",
        (
            PartyNumber(OTH, "4125550188", "+14125550188"),
            PartyNumber(MOB, "4125550199", "+14125550199"),
            PartyNumber(OFF, "4125550101", "+14125550101"),
            PartyNumber(MOB, "4125550199", "+14125550199"),
        ),
    )
    (e,) = book_of([p]).entries
    assert [(n.label, n.dial) for n in e.numbers] == [
        (OFF, "+14125550101"),
        (MOB, "+14125550199"),
        (OTH, "+14125550188"),
    ]
    assert (e.first_name, e.last_name, e.organization) == ("Alice", "Smith", "ACME Corp")


@pytest.mark.parametrize(
    ("form", "prefix", "expected"),
    [
        ("e164", "", "+14125550101"),
        ("e164-no-plus", "", "14125550101"),
        ("national", "", "4125550101"),
        ("national", "9", "94125550101"),
        ("e164-no-plus", "9", "914125550101"),
    ],
)
def test_number_format_and_dial_prefix(form, prefix, expected):
    (e,) = book_of([alice()], number_format=form, dial_prefix=prefix).entries
    assert e.numbers[0].dial == expected


def test_national_form_dials_foreign_numbers_internationally():
    p = Party(PartyKind.VENDOR, 7, "London Ltd", numbers=(PartyNumber(OFF, "442071234567", "+442071234567"),))
    (e,) = book_of([p], number_format="national").entries
    assert e.numbers[0].dial == "011442071234567"


def test_dial_prefix_is_validated():
    with pytest.raises(ValueError):
        PhonebookSettings(dial_prefix="9,", number_format="national")
    with pytest.raises(ValueError, match="cannot precede"):
        PhonebookSettings(dial_prefix="9")  # e164 starts with '+'
    with pytest.raises(ValueError, match="unknown format"):
        PhonebookSettings(formats=["yealink", "nokia"])
    assert PhonebookSettings(file_mode="0640").file_mode == 0o640


def test_archived_and_numberless_parties_are_left_out_and_counted():
    gone = contact(2, "Gone", "ACME", (OFF, "4125550102"), archived=True)
    mute = Party(PartyKind.CONTACT, 3, "No Number", 1, "ACME", (PartyNumber(OFF, "12", ""),))
    book = book_of([alice(), gone, mute])
    assert [e.name for e in book.entries] == ["Alice Smith (ACME Corp)"]
    assert book.skipped == {"archived": 1, "kind": 0, "no_number": 1}


def test_groups_by_client_kind_or_none():
    parties = [
        alice(),
        contact(2, "Bob", "Beta LLC", (OFF, "4125550102"), client_id=2),
        vendor(3, "Bell & Whistle", "4125550300"),
        location(4, "HQ", "ACME Corp", "4125550400"),
    ]
    by_client = book_of(parties)
    assert by_client.groups == ("ACME Corp", "Beta LLC", "Locations", "Vendors")
    by_kind = book_of(parties, group_by="kind", group_labels={"contact": "People", "vendor": "Suppliers"})
    assert by_kind.groups == ("Locations", "People", "Suppliers")
    none = book_of(parties, group_by="none", default_group="Company")
    assert none.groups == ("Company",)


def test_include_limits_kinds():
    parties = [alice(), vendor(3, "Bell & Whistle", "4125550300")]
    book = book_of(parties, include=["vendor"])
    assert [e.kind for e in book.entries] == [PartyKind.VENDOR]
    assert book.skipped["kind"] == 1


def test_name_templates_with_fallback_when_a_field_is_empty():
    parties = [
        alice(),
        vendor(3, "Bell & Whistle", "4125550300"),
        location(4, "HQ", "ACME Corp", "4125550400"),
        contact(5, "Carol Jones", "", (OFF, "4125550105"), client_id=0),
    ]
    templates = {
        "contact": "{last}, {first} - {client}",
        "vendor": "{name} (vendor)",
        "location": "{client}: {name}",
    }
    book = book_of(parties, name_templates=templates)
    names = sorted(e.name for e in book.entries)
    assert names == ["ACME Corp: HQ", "Bell & Whistle (vendor)", "Carol Jones", "Smith, Alice - ACME Corp"]


def test_control_characters_are_stripped_from_every_text_field():
    p = Party(
        PartyKind.CONTACT,
        1,
        "Al\x00ice\r\nSmith\x7f",
        1,
        "AC\x1bME\tCorp",
        (PartyNumber(OFF, "4125550101", "+14125550101"),),
        email="a\x08@b.c",
        title="Boss\x85",
    )
    (e,) = book_of([p]).entries
    assert e.name == "Alice Smith (ACME Corp)"
    assert (e.organization, e.group, e.email, e.title) == ("ACME Corp", "ACME Corp", "a@b.c", "Boss")


def test_order_is_stable_whatever_the_input_order():
    parties = nasty_parties()
    first = book_of(parties)
    for seed in range(5):
        shuffled = parties[:]
        random.Random(seed).shuffle(shuffled)
        again = book_of(shuffled)
        assert again.entries == first.entries
        assert again.digest == first.digest
    # group first, then name (case-insensitive)
    keys = [(e.group.casefold(), e.name.casefold()) for e in first.entries]
    assert keys == sorted(keys)


def test_digest_changes_with_content_and_settings_shape():
    a = book_of([alice()])
    b = book_of([contact(1, "Alice Smith", "ACME Corp", (OFF, "4125550101"))])
    c = book_of([alice()], number_format="national")
    assert len({a.digest, b.digest, c.digest}) == 3


def test_legacy_parties_without_ids_or_names_are_kept_distinct():
    # Legacy pulls carry id 0; a client without a named primary contact has only the client name.
    office = (PartyNumber(OFF, "4125550101", "+14125550101"),)
    bell = (PartyNumber(OFF, "4125550300", "+14125550300"),)
    parties = [
        Party(PartyKind.CONTACT, 0, "", 0, "ACME Corp", office),
        Party(PartyKind.CONTACT, 0, "Beta LLC", 0, "Beta LLC", office),
        Party(PartyKind.VENDOR, 0, "Bell & Whistle", numbers=bell),
        Party(PartyKind.VENDOR, 0, "Bell & Whistle", numbers=bell),
    ]
    book = build_book(parties, PLAN, PhonebookSettings())
    assert [e.name for e in book.entries] == ["ACME Corp", "Beta LLC", "Bell & Whistle", "Bell & Whistle"]
    assert len({e.key for e in book.entries}) == 4
