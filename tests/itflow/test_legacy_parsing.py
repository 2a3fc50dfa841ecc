"""The legacy answers' framing, byte for byte from docs/itflow-api.md (§1.3-1.8, §6.2, §6.4)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pbx_bridge.itflow.errors import AuthError, MalformedResponse, NotAvailable, ServerError
from pbx_bridge.itflow.legacy import (
    LegacyPhonebookEntry,
    check_answer,
    parse_cid_answer,
    parse_phonebook,
    parse_php_float,
)


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ("Jane Doe - 4125551234", "Jane Doe"),
        ("\nJane Doe - 4125551234", "Jane Doe"),  # 2019-08 .. 2022-02 leading newline
        (" - 4125551234", None),  # no match
        ("\n - 4125551234", None),
        ("", None),  # before 2019-08-21: empty = no match
        ("Jane Doe", "Jane Doe"),  # before 2019-08-21: the bare name
        ("Smith - Jones Plumbing - 4125551234", "Smith - Jones Plumbing"),  # " - " inside a name
        ("O'Brien Paving - 7245550121", "O'Brien Paving"),
        (
            "<br />\n<b>Notice</b>:  Undefined variable: x in <b>/var/www/api.php</b> "
            "on line <b>9</b><br />\n"
            "Jane Doe - 4125551234",
            "Jane Doe",
        ),  # display_errors=On
    ],
)
def test_cid_answers(body: str, name: str | None) -> None:
    assert parse_cid_answer(body) == name


@pytest.mark.parametrize(
    ("body", "value"),
    [
        ("100.5", Decimal("100.5")),
        ("150", Decimal("150")),
        ("0", Decimal("0")),
        ("-25", Decimal("-25")),
        ("\n100.5", Decimal("100.5")),
        ("1.0E+15", Decimal("1E+15")),
        ("-0", Decimal("0")),
    ],
)
def test_php_float(body: str, value: Decimal) -> None:
    assert parse_php_float(body) == value


@pytest.mark.parametrize("body", ["", "abc", "Incorrect API Key", "INF", "NAN", "1,000.00"])
def test_php_float_rejects(body: str) -> None:
    with pytest.raises(ValueError):
        parse_php_float(body)


def _entry(name: str, number: str, group: str, indent: int = 8) -> str:
    pad = " " * indent
    return (
        f"<Contact>\n{pad}    <LastName>{name}</LastName>\n{pad}    <Phone>\n"
        f"{pad}        <phonenumber>{number}</phonenumber>\n{pad}    </Phone>\n{pad}    <Groups>\n"
        f"{pad}        <groupid>{group}</groupid>\n{pad}    </Groups>\n{pad}</Contact>"
    )


def test_phonebook_survives_unescaped_ampersand_and_glued_declaration() -> None:
    # docs/itflow-api.md §6.2 whitespace: 8 spaces before the first Contact, "\n" + 16 spaces before
    # later ones, "</Contact>\n\n" + 16 spaces between vendors, "\n\n        </AddressBook>" at the end.
    body = (
        '\n<?xml version="1.0" encoding="utf-8"?><AddressBook>        '
        + _entry("Alice Able", "4125550101", "0")
        + "\n                "
        + _entry("", "", "0")
        + "\n                "
        + _entry("Bell & Whistle", "4125550300", "1")
        + "\n\n                "
        + _entry("R&D <Labs> AT&T", "4125550301", "1")
        + "\n\n                "
        + _entry("Zed Vendor", "4125550302", "1")
        + "\n\n        </AddressBook>"
    )
    assert parse_phonebook(body) == [
        LegacyPhonebookEntry("Alice Able", "4125550101", "0"),
        LegacyPhonebookEntry("", "", "0"),
        LegacyPhonebookEntry("Bell & Whistle", "4125550300", "1"),
        LegacyPhonebookEntry("R&D <Labs> AT&T", "4125550301", "1"),
        LegacyPhonebookEntry("Zed Vendor", "4125550302", "1"),
    ]


def test_phonebook_keeps_real_entities_and_alpha_era_without_groups() -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><AddressBook><Contact><LastName>A &amp; B</LastName>'
        "<Phone><phonenumber>1</phonenumber></Phone></Contact></AddressBook>"
    )
    assert parse_phonebook(body) == [LegacyPhonebookEntry("A & B", "1", "")]


def test_phonebook_truncated_document_keeps_complete_entries() -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><AddressBook>'
        + _entry("One", "1", "0")
        + _entry("Two & Co", "2", "1")
        + "<Contact><LastName>Thr"
    )
    got = parse_phonebook(body)
    assert got[:2] == [LegacyPhonebookEntry("One", "1", "0"), LegacyPhonebookEntry("Two & Co", "2", "1")]


@pytest.mark.parametrize(
    ("status", "body", "location"),
    [
        (200, "<h1> Ma!! You've been BAAAAADDDDD!! </h1>", ""),  # K1a, 2019-05..07
        (302, "", "login.php"),  # K1b, 2019-07..08
        (200, "\nMissing the API Key", ""),  # K2, docs/itflow-api.md §1.3 newline
        (200, "\nIncorrect API Key", ""),
        (401, "Missing the API Key.", ""),  # K3..K5
        (401, "Incorrect API Key.", ""),
        (401, "Incorrect or expired API Key.", ""),
        (200, "\nIncorrect or expired API Key.", ""),  # no output buffering: header() failed
    ],
)
def test_auth_failures_of_every_era(status: int, body: str, location: str) -> None:
    with pytest.raises(AuthError):
        check_answer(status, body, location)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (404, "<html>Not Found</html>", NotAvailable),
        (500, "", ServerError),
        (302, "", MalformedResponse),
        (418, "", MalformedResponse),
    ],
)
def test_other_failures(status: int, body: str, error: type) -> None:
    with pytest.raises(error):
        check_answer(status, body)


@pytest.mark.parametrize(
    "body",
    ["", "\n", "Jane Doe - 4125551234", "Incorrect API Key Holdings - 4125550000", "100.5", "Asset added!"],
)
def test_usable_answers_pass(body: str) -> None:
    check_answer(200, body)
    check_answer(500, body, allow_500=True)


def test_phonebook_control_character_does_not_eat_later_ampersands() -> None:
    # libxml2's recovery, after an illegal control character, dropped "&amp;" further on.
    from pbx_bridge.itflow.legacy import parse_phonebook

    xml = (
        '<?xml version="1.0"?><AddressBook><Contact><LastName>A\x01b</LastName><Phone>'
        "<phonenumber>1</phonenumber></Phone></Contact><Contact><LastName>Bell & Whistle</LastName>"
        "<Phone><phonenumber>2</phonenumber></Phone></Contact></AddressBook>"
    )
    assert [(e.name, e.number) for e in parse_phonebook(xml)] == [("Ab", "1"), ("Bell & Whistle", "2")]
