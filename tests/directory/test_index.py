"""DirectoryIndex: one answer per number, the documented preference, ambiguity, display names."""

from __future__ import annotations

from pbx_bridge.directory.display import cut, sanitize
from pbx_bridge.directory.index import DirectoryIndex
from pbx_bridge.directory.model import MatchKind, NumberLabel, PartyKind
from pbx_bridge.directory.settings import DirectorySettings

from .helpers import PLAN, num, party, snapshot

C, L, V = PartyKind.CONTACT, PartyKind.LOCATION, PartyKind.VENDOR
ACME = {"client_id": 1, "client_name": "ACME Corp"}
GLOBEX = {"client_id": 2, "client_name": "Globex"}


def build(*parties, **settings):
    return DirectoryIndex.build(snapshot(*parties), PLAN, DirectorySettings(**settings))


def test_contact_found_under_every_spelling_with_template() -> None:
    idx = build(
        party(
            C,
            7,
            "Alice Example",
            num("4125550101"),
            num("4125550199", NumberLabel.MOBILE),
            primary=True,
            **ACME,
        )
    )
    for raw in ("+1 (412) 555-0101", "14125550101", "4125550101", "0114125550101"):
        r = idx.lookup(PLAN.canonical(raw))
        assert (r.match, r.display, r.client_id, r.contact_id) == (
            MatchKind.CONTACT,
            "ACME Corp - Alice Example",
            1,
            7,
        )
    assert idx.lookup("+14125550199").display == "ACME Corp - Alice Example"
    miss = idx.lookup("+14125550000")
    assert miss.match is MatchKind.NONE and miss.display == "" and not miss.found


def test_preference_contact_over_location_over_vendor() -> None:
    shared = "4125550300"
    idx = build(
        party(V, 1, "Vendor V", num(shared), **ACME),
        party(L, 1, "HQ", num(shared), **ACME),
        party(C, 9, "Bob", num(shared), **ACME),
    )
    r = idx.lookup("+14125550300")
    assert (r.match, r.display, r.contact_id) == (MatchKind.CONTACT, "ACME Corp - Bob", 9)
    assert [p.kind for p in r.candidates] == [C, L, V]
    idx2 = build(party(V, 1, "Vendor V", num(shared), **ACME), party(L, 4, "HQ", num(shared), **ACME))
    r2 = idx2.lookup("+14125550300")
    assert (r2.match, r2.display, r2.contact_id) == (MatchKind.LOCATION, "ACME Corp - HQ", 0)


def test_primary_contact_first_then_lowest_id() -> None:
    shared = "4125550400"
    idx = build(
        party(C, 3, "Carol", num(shared), **ACME),
        party(C, 8, "Dave", num(shared), primary=True, **ACME),
        party(C, 2, "Erin", num(shared), **ACME),
    )
    assert idx.lookup("+14125550400").display == "ACME Corp - Dave"
    idx = build(party(C, 3, "Carol", num(shared), **ACME), party(C, 2, "Erin", num(shared), **ACME))
    assert idx.lookup("+14125550400").display == "ACME Corp - Erin"


def test_two_clients_on_one_number_is_ambiguous_never_a_client() -> None:
    shared = "4125550500"
    parties = (
        party(C, 1, "Frank", num(shared), primary=True, **ACME),
        party(C, 2, "Grace", num(shared), **GLOBEX),
    )
    r = build(*parties).lookup("+14125550500")
    assert r.match is MatchKind.AMBIGUOUS
    assert r.display == "+14125550500" and r.client_id == 0 and r.client_name == "" and r.party is None
    assert {p.name for p in r.candidates} == {"Frank", "Grace"}
    labelled = build(*parties, ambiguous_label="Several clients").lookup("+14125550500")
    assert labelled.display == "Several clients"


def test_global_vendor_does_not_make_a_number_ambiguous() -> None:
    shared = "4125550600"
    r = build(party(V, 5, "Bell & Whistle", num(shared)), party(C, 1, "Heidi", num(shared), **ACME)).lookup(
        "+14125550600"
    )
    assert (r.match, r.display) == (MatchKind.CONTACT, "ACME Corp - Heidi")
    r = build(party(V, 5, "Bell & Whistle", num(shared))).lookup("+14125550600")
    assert (r.match, r.display, r.client_id) == (MatchKind.VENDOR, "Bell & Whistle", 0)


def test_archived_and_unkeyed_numbers_are_not_indexed() -> None:
    idx = build(
        party(C, 1, "Old", num("4125550700"), archived=True, **ACME),
        party(C, 2, "Local", num("5550101"), **ACME),
    )
    assert len(idx) == 0
    assert idx.stats().unkeyed_numbers == 1


def test_display_template_and_length_cut() -> None:
    p = party(C, 1, 'Zoë "Z" O\'Brien $\\{x}\n', num("4125550800"), **ACME)
    r = build(p, name_template="{name} ({client})", max_name_length=100).lookup("+14125550800")
    assert r.display == 'Zoë "Z" O\'Brien $\\{x} (ACME Corp)'
    r = build(p, max_name_length=12).lookup("+14125550800")
    assert r.display == "ACME Corp"  # "ACME Corp - " cut: no dangling separator


def test_cut_never_splits_a_character() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji of five code points
    assert cut("ab" + family, 4) == "ab"
    assert cut("ab" + family + "c", 7) == "ab" + family
    assert cut("Cafe\u0301 au lait", 4) == "Caf"  # e + combining acute stay together
    assert cut("Cafe\u0301 au lait", 5) == "Cafe\u0301"
    assert cut("Café", 10) == "Café"
    assert cut("👍🏽ok", 1) == ""  # skin-tone modifier kept with its emoji


def test_sanitize_removes_only_control_characters() -> None:
    # breaks and tabs separate words (one space, as in the phonebooks); other controls are removed
    assert sanitize("A\rB\nC\x00D\x1bE\u2028F\tG") == "A B CDE F G"
    assert sanitize("Tab\tCR") == "Tab CR"
    hostile = 'Ann "Q" \\ $ {x} \' Ünïcödé 😀 a\u200db'
    assert sanitize(hostile) == hostile


def test_cut_to_freepbx_byte_budget_never_leaves_half_a_character() -> None:
    # FreePBX keeps 40 bytes of CALLERID(name); we cut first, on a character boundary.
    name = "Müller Bäckerei GmbH - Jürgen Größmann-Ölçü"
    out = cut(name, 40, 40)
    assert len(out.encode()) <= 40
    assert name.startswith(out) and out.encode().decode("utf-8") == out
    assert cut("ACME Corp - Alice", 40, 40) == "ACME Corp - Alice"
    assert cut("日本語の会社 - 山田太郎さん", 40, 12) == "日本語の"  # 3 bytes each
    assert cut("ab👍🏽", 40, 5) == "ab"  # emoji + modifier kept together
