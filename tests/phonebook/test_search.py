"""The server search rule (Yealink #SEARCH, Gigaset online directory) on a published Yealink book."""

from __future__ import annotations

from lxml import etree

from pbx_bridge.phonebook.search import MAX_RESULTS, yealink_search
from tests.phonebook.test_formats import OFF, contact, render


def names(body: bytes) -> list[str]:
    return [e.findtext("Name") or "" for e in etree.fromstring(body).iter("DirectoryEntry")]


def test_every_term_starts_a_word_and_the_answer_is_bounded():
    parties = [contact(i, f"Person {i:03d}", "Acme", (OFF, f"4125550{i:03d}")) for i in range(1, 151)]
    parties.append(contact(500, "Zoë Ánderson", "Beta", (OFF, "4125551999")))
    book = render("yealink", parties).body
    assert names(yealink_search(book, "zoë ánd")) == ["Zoë Ánderson (Beta)"]
    assert names(yealink_search(book, "ANDERSON")) == []  # "Ánderson": accents count
    assert names(yealink_search(book, "erson")) == []  # not the start of a word
    assert len(names(yealink_search(book, "person"))) == MAX_RESULTS  # 150 match, 100 are sent
    assert names(yealink_search(book, "+1 412 555 1999")) == ["Zoë Ánderson (Beta)"]
