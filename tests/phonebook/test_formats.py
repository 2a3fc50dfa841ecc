"""Every format: well-formed with hostile names, and each vendor's structure from the vendors' documents
(docs/phonebook.md), checked by parsing the output, not by comparing with files we wrote."""

from __future__ import annotations

import csv
import io
import logging
import re

import pytest
import vobject
from lxml import etree

from pbx_bridge.directory.model import NumberLabel
from pbx_bridge.phonebook.formats import FORMATS, RenderContext
from pbx_bridge.phonebook.settings import ALL_FORMATS, PhonebookSettings
from tests.phonebook.helpers import NASTY_NAMES, book_of, contact, many_parties, nasty_parties, vendor

STRICT = etree.XMLParser(recover=False, resolve_entities=False, no_network=True)
XML_FORMATS = [f for f, s in FORMATS.items() if s.xml]
SINGLE_ROOTED = [f for f in XML_FORMATS if FORMATS[f].single_rooted]
MULTI_ROOTED = [f for f in XML_FORMATS if not FORMATS[f].single_rooted]
OFF, MOB, OTH = NumberLabel.OFFICE, NumberLabel.MOBILE, NumberLabel.OTHER


def render(format_id: str, parties, public_url: str = "http://pbx.example:8734", **settings):
    book = book_of(parties, **settings)
    return FORMATS[format_id].render(book, RenderContext(PhonebookSettings(**settings), public_url))


def parse(body: bytes) -> etree._Element:
    return etree.fromstring(body, STRICT)


def fragments(body: bytes) -> list[etree._Element]:
    """Top-level elements of a multi-root file (Yealink local import, Gigaset central book): the body
    without its declaration and doctype must parse as the children of one synthetic root."""
    text = body.decode("utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    text = re.sub(r"^<\?xml[^>]*\?>\s*", "", text)
    text = re.sub(r"^<!DOCTYPE [A-Za-z]+>\s*", "", text)
    return list(etree.fromstring(f"<wrapper>{text}</wrapper>".encode(), STRICT))


def all_text(root: etree._Element) -> str:
    parts = []
    for el in root.iter():
        parts.append(el.text or "")
        parts.extend(el.attrib.values())
    return "\n".join(parts)


def test_registry_has_exactly_the_issue_ids():
    assert tuple(FORMATS) == ALL_FORMATS
    assert len(ALL_FORMATS) == 16
    assert FORMATS["polycom"].file_name == "000000000000-directory.xml"
    assert FORMATS["grandstream"].file_name == "phonebook.xml"
    for fid in ("vcard", "csv", "panasonic-csv"):
        assert not FORMATS[fid].file_name.endswith(".xml")
    assert set(MULTI_ROOTED) == {"yealink-local", "gigaset"}


@pytest.mark.parametrize("format_id", SINGLE_ROOTED)
def test_xml_is_well_formed_with_hostile_names(format_id):
    rendered = render(format_id, nasty_parties())
    assert rendered.records > 0
    for page in rendered.pages:  # gigaset-de is UTF-16: lxml reads its BOM and declaration
        root = parse(page)
        text = all_text(root)
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)


@pytest.mark.parametrize("format_id", MULTI_ROOTED)
def test_multi_root_formats_are_well_formed_fragments(format_id):
    body = render(format_id, nasty_parties()).body
    top = fragments(body)
    if format_id == "yealink-local":
        assert [el.tag for el in top] == ["root_group", "root_contact"]
        names = [c.get("display_name") for c in top[1]]
    else:
        assert body.splitlines()[1] == b"<!DOCTYPE LocalDirectory>"
        assert {el.tag for el in top} == {"entry"}
        names = [el.get("surname") for el in top]
    assert "Bell & Whistle" in names
    assert any("<script>" in n for n in names)


@pytest.mark.parametrize("format_id", XML_FORMATS)
def test_every_hostile_name_survives_somewhere(format_id):
    spec = FORMATS[format_id]
    rendered = render(format_id, nasty_parties(), max_entries={format_id: 10_000})
    texts = []
    for page in rendered.pages:
        roots = fragments(page) if not spec.single_rooted else [parse(page)]
        texts.extend(all_text(r) for r in roots)
    blob = "\n".join(texts)
    assert "Bell & Whistle"[: spec.max_name or 99] in blob
    assert "😀" in blob or (spec.max_name or 99) < 10
    assert "שלום" in blob


# ------------------------------------------------------------------ vendor structure


def test_grandstream_phone_has_phonenumber_and_accountindex():
    parties = [contact(1, "Alice Smith", "ACME", (OFF, "4125550101"), (MOB, "4125550199"))]
    for base in (0, 1):
        root = parse(render("grandstream", parties, grandstream_account_index=base).body)
        assert root.tag == "AddressBook"
        contacts = root.findall("Contact")
        assert len(contacts) == 1
        phones = contacts[0].findall("Phone")
        assert [p.get("type") for p in phones] == ["Work", "Mobile"]  # the documented set has no "Cell"
        for p in phones:
            assert p.findtext("accountindex") == str(base)
            assert p.findtext("phonenumber").startswith("+1412555")
        gid = contacts[0].findtext("Groups/groupid")
        declared = {g.findtext("id"): g.findtext("name") for g in root.findall("pbgroup")}
        assert declared[gid] == "ACME"


def test_grandstream_limit_is_logged(caplog):
    with caplog.at_level(logging.WARNING, "pbx_bridge.phonebook"):
        rendered = render("grandstream", many_parties(2100, numbers=1))
    assert len(parse(rendered.body).findall("Contact")) == 2000
    assert rendered.cut == 100
    assert "grandstream: 100 records over the vendor limit of 2000" in caplog.text


def test_polycom_ct_is_unique_even_when_entries_share_a_number():
    shared = "4125550101"
    parties = [
        contact(1, "Alice", "ACME", (OFF, shared), (MOB, "4125550199")),
        contact(2, "Bob", "ACME", (OFF, shared)),
        vendor(3, "Switchboard", shared),
    ]
    root = parse(render("polycom", parties).body)
    assert root.tag == "directory"
    items = root.findall("item_list/item")
    cts = [i.findtext("ct") for i in items]
    assert len(cts) == len(set(cts)) == 2
    assert all(i.findtext("ln") for i in items)
    # one item per number: Alice's mobile is its own item, labelled
    mobile = next(i for i in items if i.findtext("ct") == "+14125550199")
    assert mobile.findtext("lb") == "Mobile" and mobile.findtext("ln").endswith("(Mobile)")
    assert all(len(i.findtext("ln").encode()) <= 40 for i in items)


def test_polycom_names_fit_40_bytes_without_breaking_utf8():
    parties = [contact(1, "Ünïcödé " * 10, "", (OFF, "4125550101"))]
    ln = parse(render("polycom", parties).body).findtext("item_list/item/ln")
    assert len(ln.encode("utf-8")) <= 40 and ln.startswith("Ünïcödé")


def test_cisco_pages_hold_at_most_32_and_link_onwards_from_public_url():
    parties = many_parties(50, numbers=2)  # 100 records: 4 pages
    rendered = render("cisco", parties, public_url="https://pbx.example.com:8443/")
    assert len(rendered.pages) == 4
    seen = []
    for n, page in enumerate(rendered.pages, start=1):
        root = parse(page)
        assert root.tag == "CiscoIPPhoneDirectory"
        entries = root.findall("DirectoryEntry")
        assert 1 <= len(entries) <= 32
        for e in entries:
            assert len(e.findall("Telephone")) == 1
            assert len(e.findtext("Name")) <= 32
            seen.append(e.findtext("Telephone"))
        keys = {k.findtext("Name"): k.findtext("URL") for k in root.findall("SoftKeyItem")}
        if n < 4:
            assert keys["Next"] == f"https://pbx.example.com:8443/phonebook/cisco?page={n + 1}"
        else:
            assert "Next" not in keys
        if n > 1:
            assert keys["Prev"] == f"https://pbx.example.com:8443/phonebook/cisco?page={n - 1}"
    assert len(seen) == len(set(seen)) == 100


def test_cisco_suffix_survives_name_cut():
    parties = [
        contact(
            1,
            "Bartholomew Longname-Smithers",
            "Very Long Client Name Inc",
            (OFF, "4125550101"),
            (MOB, "4125550199"),
        )
    ]
    names = [e.findtext("Name") for e in parse(render("cisco", parties).body).findall("DirectoryEntry")]
    assert len(names[1]) <= 32 and names[1].endswith(" (Mobile)")


def test_gigaset_de_is_utf16_with_at_most_500_sequential_uids():
    parties = [*many_parties(600, numbers=2), vendor(9, "Bell & Whistle", "4125550300")]
    rendered = render("gigaset-de", parties)
    body = rendered.body
    assert body[:2] == b"\xff\xfe"
    text = body[2:].decode("utf-16-le")
    assert text.startswith('<?xml version="1.0" encoding="UTF-16"?>')
    root = parse(body)
    contacts = root.findall("Contact")
    assert len(contacts) == 500
    assert [c.findtext("UID") for c in contacts] == [str(i) for i in range(1, 501)]
    for c in contacts:
        assert len(c.findtext("Surname")) <= 16 and len(c.findtext("FirstName")) <= 16
    assert rendered.cut == 101
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")


def test_panasonic_names_at_most_24_characters_and_20_per_page():
    parties = [*many_parties(45, numbers=1), contact(99, "A" * 40, "B" * 40, (OFF, "4125550999"))]
    rendered = render("panasonic", parties)
    assert len(rendered.pages) == 3
    total = 0
    for page in rendered.pages:
        root = parse(page)
        assert root.tag == "ppxml"
        people = root.findall("PhoneBook/Personnel")
        assert root.find("PhoneBook").get("version") == "2.0"
        assert 1 <= len(people) <= 20
        assert [p.get("id") for p in people] == [str(i) for i in range(1, len(people) + 1)]
        for p in people:
            assert len(p.findtext("Name")) <= 24
            assert p.find("PhoneNums/PhoneNum").get("type") in ("company", "mobile", "home")
        total += len(people)
    assert total == 46


def test_panasonic_csv_is_utf16le_with_bom_and_parses():
    rendered = render("panasonic-csv", nasty_parties())
    assert rendered.body[:2] == b"\xff\xfe"
    rows = list(csv.reader(io.StringIO(rendered.body[2:].decode("utf-16-le"), newline="")))
    assert all(len(r) == 7 for r in rows)
    assert all(len(r[1]) <= 24 for r in rows)
    assert "Bell & Whistle" in [r[1] for r in rows]
    assert [r[0] for r in rows] == [str(i) for i in range(1, len(rows) + 1)]


def test_panasonic_csv_keeps_1000():
    rendered = render("panasonic-csv", many_parties(1005, numbers=1))
    assert len(rendered.body[2:].decode("utf-16-le").splitlines()) == 1000


def test_gigaset_central_book_attributes_and_limit():
    parties = [contact(1, "Alice", "ACME", (OFF, "4125550101"), (MOB, "4125550199"), (OTH, "4125550188"))]
    (entry,) = fragments(render("gigaset", parties).body)
    assert entry.get("office1") == "+14125550101"
    assert entry.get("mobile1") == "+14125550199"
    assert entry.get("home1") == "+14125550188"
    assert set(entry.attrib) == {
        "surname",
        "name",
        "office1",
        "office2",
        "mobile1",
        "mobile2",
        "home1",
        "home2",
    }
    assert len(fragments(render("gigaset", many_parties(2050, numbers=1)).body)) == 2000


def test_yealink_local_has_unique_display_names_and_1000_limit():
    parties = [contact(i, "Front Desk", "ACME", (OFF, f"41255501{i:02d}")) for i in range(1, 4)]
    root_group, root_contact = fragments(render("yealink-local", parties).body)
    names = [c.get("display_name") for c in root_contact]
    assert len(set(names)) == 3
    assert {g.get("display_name") for g in root_group} == {c.get("group_id_name") for c in root_contact}
    big = fragments(render("yealink-local", many_parties(1200, numbers=1)).body)
    assert len(big[1]) == 1000


def test_yealink_flat_and_grouped_carry_every_number():
    parties = [contact(1, "Alice", "ACME", (OFF, "4125550101"), (MOB, "4125550199"))]
    flat = parse(render("yealink", parties).body)
    assert flat.tag == "YealinkIPPhoneDirectory"
    assert [t.text for t in flat.findall("DirectoryEntry/Telephone")] == ["+14125550101", "+14125550199"]
    grouped = parse(render("yealink-grouped", parties).body)
    (menu,) = grouped.findall("Menu")
    assert menu.get("Name") == "ACME"
    unit = menu.find("Unit")
    phones = (unit.get("Phone1"), unit.get("Phone2"), unit.get("Phone3"))
    assert phones == ("+14125550101", "+14125550199", "")


def test_snom_tbook_and_v2():
    parties = [contact(1, "Alice", "ACME", (OFF, "4125550101"), (MOB, "4125550199"))]
    tbook = parse(render("snom", parties).body)
    assert (tbook.tag, tbook.get("e"), tbook.get("complete")) == ("tbook", "2", "true")
    items = tbook.findall("item")
    assert [i.get("index") for i in items] == ["0", "1"]
    assert [i.findtext("number_type") for i in items] == ["business", "mobile"]
    v2 = parse(render("snom-v2", parties).body)
    assert (v2.get("version"), v2.get("e")) == ("2.0", "2")
    nums = v2.findall("contact/numbers/number")
    assert [(n.get("no"), n.get("type")) for n in nums] == [
        ("+14125550101", "business"),
        ("+14125550199", "mobile"),
    ]


def test_fanvil_typed_numbers_and_group():
    parties = [contact(1, "Alice", "ACME", (MOB, "4125550199"))]
    e = parse(render("fanvil", parties).body).find("DirectoryEntry")
    got = (e.findtext("Telephone"), e.findtext("Mobile"), e.findtext("Group"))
    assert got == ("", "+14125550199", "ACME")


def test_itflow_legacy_layout_escaped():
    root = parse(render("itflow-legacy", [vendor(1, "Bell & Whistle", "4125550300")]).body)
    c = root.find("Contact")
    assert c.findtext("LastName") == "Bell & Whistle"
    assert c.findtext("Phone/phonenumber") == "+14125550300"
    assert c.findtext("Groups/groupid") == "1"


# ------------------------------------------------------------------ vCard and CSV


def test_vcard_lines_fold_at_75_octets_and_parse_with_vobject():
    long_name = "Ünïcödé " * 20 + "😀"
    parties = [*nasty_parties(), contact(500, long_name, "ACME; Inc, \\ Ltd", (OFF, "4125550101"))]
    body = render("vcard", parties).body
    physical = body.split(b"\r\n")
    assert all(len(line) <= 75 for line in physical)
    assert any(line.startswith(b" ") for line in physical)  # folding happened
    for line in physical:
        line.decode("utf-8")  # no UTF-8 sequence split across a fold
    cards = list(vobject.readComponents(body.decode("utf-8")))
    assert len(cards) == len(book_of(parties).entries)
    by_name = {c.fn.value: c for c in cards}
    full = long_name.strip() + " (ACME; Inc, \\ Ltd)"
    assert full in by_name  # escaped ; , \ and the folds undone by a standard parser
    assert by_name[full].org.value == ["ACME; Inc, \\ Ltd"]
    assert "Bell & Whistle" in by_name
    alice = by_name["Bell & Whistle (Client Bell & Whistle)"]
    assert sorted(t.value for t in alice.contents["tel"]) == ["+14125550100", "+14125550200"]
    assert any("CELL" in t.params["TYPE"] for t in alice.contents["tel"])
    assert all(c.version.value == "3.0" for c in cards)


def test_csv_parses_with_the_csv_module():
    body = render("csv", nasty_parties()).body
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))
    assert len(rows) == len(book_of(nasty_parties()).entries)
    names = {r["name"] for r in rows}
    assert "Quote \"double\" and 'single' (Client Quote \"double\" and 'single')" in names
    assert "Semi;colon, comma\\back" in names
    assert all("\n" not in r["name"] and "\x01" not in r["name"] for r in rows)
    bell = next(r for r in rows if r["name"] == "Bell & Whistle")
    assert (bell["kind"], bell["office"], bell["group"]) == ("vendor", "+14125550300", "Vendors")


def test_nasty_names_list_is_used():
    assert len(NASTY_NAMES) >= 8


def test_gigaset_central_book_stays_under_2_mb(caplog):
    parties = [contact(i, f"{i:05d} " + "N" * 600, "", (OFF, f"412{i:07d}")) for i in range(1, 4001)]
    with caplog.at_level(logging.WARNING, "pbx_bridge.phonebook"):
        rendered = render("gigaset", parties, max_entries={"gigaset": 10_000})
    assert len(rendered.body) <= 2 * 1024 * 1024
    written = len(fragments(rendered.body))
    assert 2000 < written < 4000 and rendered.cut == 4000 - written
    assert "over the vendor limit of 2 MB were left out" in caplog.text


FORMULAS = ['=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "-2+3+cmd", "@SUM(1)", "\uff1d1+1"]


@pytest.mark.parametrize("format_id", ["csv", "panasonic-csv"])
def test_csv_formulas_are_neutralised_and_numbers_stay_numbers(format_id):
    parties = [
        contact(i + 1, name, "", (OFF, f"41255507{i:02d}"), (MOB, f"41255508{i:02d}"))
        for i, name in enumerate(FORMULAS)
    ]
    parties.append(contact(50, "Plain Name", "=cmd()", (OFF, "4125550799")))
    body = render(format_id, parties).body
    text = body[2:].decode("utf-16-le") if format_id == "panasonic-csv" else body.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if format_id == "csv":
        rows = rows[1:]
    names = [r[0] if format_id == "csv" else r[1] for r in rows]
    for formula in FORMULAS:
        assert "'" + formula[:23] in {n[:24] for n in names}  # kept, prefixed (24 chars on Panasonic)
    for row in rows:
        for cell in row:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r", "\uff1d"):
                assert re.fullmatch(r"\+[0-9]+", cell), f"{format_id}: {cell!r} would be evaluated"
    numbers = {c for r in rows for c in r if c.startswith("+1412")}
    assert {"+14125550700", "+14125550800", "+14125550799"} <= numbers  # dialable, never prefixed
    if format_id == "csv":
        plain = next(r for r in rows if r[0].startswith("Plain Name"))
        assert plain[3] == "'=cmd()"  # the organization cell too
    if format_id == "panasonic-csv":
        assert all(len(n) <= 24 for n in names)


def test_grandstream_more_than_ten_groups_share_group_nine():
    # 12 clients: client 0 has 12 people, client 1 has 11, ... client 11 has 1
    parties = [
        contact(
            100 * c + k, f"P{c:02d} {k:02d}", f"Client {c:02d}", (OFF, f"412{c:02d}{k:05d}"), client_id=c + 1
        )
        for c in range(12)
        for k in range(12 - c)
    ]
    root = parse(render("grandstream", parties, grandstream_overflow_group="More clients").body)
    declared = {int(g.findtext("id")): g.findtext("name") for g in root.findall("pbgroup")}
    assert sorted(declared) == list(range(10)) and declared[9] == "More clients"
    # the nine largest clients keep their own group; the three smallest share group 9
    assert set(declared.values()) == {f"Client {c:02d}" for c in range(9)} | {"More clients"}
    contacts = root.findall("Contact")
    assert len(contacts) == len(parties)  # nobody left out
    by_group = {}
    for c in contacts:
        gid = int(c.findtext("Groups/groupid"))
        assert 0 <= gid <= 9
        by_group.setdefault(gid, set()).add(c.findtext("LastName")[:3])
    assert by_group[9] == {"P09", "P10", "P11"}


def test_grandstream_few_groups_get_ids_from_zero():
    parties = [contact(1, "A", "Alpha", (OFF, "4125550101")), contact(2, "B", "Beta", (OFF, "4125550102"))]
    root = parse(render("grandstream", parties).body)
    assert {g.findtext("id") for g in root.findall("pbgroup")} == {"0", "1"}
    assert {p.findtext("accountindex") for p in root.iter("Phone")} == {"1"}  # account 1 by default


def test_grandstream_overflow_group_name_never_repeats_a_kept_group():
    # the largest client is called "Other", like the default overflow group: two groups, two names
    names = ["Other"] + [f"Client {c:02d}" for c in range(1, 12)]
    parties = [
        contact(100 * c + k, f"P{c:02d} {k:02d}", name, (OFF, f"412{c:02d}{k:05d}"), client_id=c + 1)
        for c, name in enumerate(names)
        for k in range(12 - c)
    ]
    root = parse(render("grandstream", parties).body)
    declared = [g.findtext("name") for g in root.findall("pbgroup")]
    assert len(declared) == len(set(declared)) == 10 and "Other" in declared
