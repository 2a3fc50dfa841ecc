"""Text hygiene: control characters out, cuts at grapheme boundaries, one rule with caller ID."""

from __future__ import annotations

from pbx_bridge.directory.display import cut, sanitize
from pbx_bridge.phonebook.text import clean, truncate, truncate_bytes


def test_clean_removes_controls_and_collapses_breaks():
    assert clean("  A\x00l\x01i\x1fce\x7f\x9f \r\n Smith\t ") == "Alice Smith"
    assert clean(None) == ""
    assert clean("bad \ud800 surrogate \ufffe") == "bad surrogate"


def test_caller_id_and_phonebook_clean_names_the_same_way():
    for raw in ("Tab\tCR", "Line\nbreak\r", "A\x00B\u2028C", "  two  spaces  ", 'Zoë "Z" O\'Brien'):
        assert clean(raw) == sanitize(raw)
    assert clean("Tab\tCR") == "Tab CR"


def test_truncate_never_splits_a_grapheme():
    family = "👩\u200d👩\u200d👧"
    assert truncate("ab" + family, 4) == "ab"
    assert truncate("e\u0301e\u0301", 3) == "e\u0301"
    assert truncate("short", 24) == "short"
    assert truncate("thumb 👍🏽 up", 7) == "thumb"
    scotland = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # tag sequence
    assert truncate("go " + scotland, 5) == "go"
    assert truncate("🇩🇪🇫🇷", 3) == "🇩🇪"  # never half a flag


def test_a_cut_leaves_no_dangling_opener_or_separator():
    # Gigaset DE900 names are 16 characters: "Alice Anderson (ACME)" used to end on " ("
    assert truncate("Alice Anderson (ACME)", 16) == "Alice Anderson"
    assert truncate("ACME Corp - Front Desk", 11) == "ACME Corp"
    assert truncate("Smith & Sons", 7) == "Smith"
    assert cut("Alice Anderson (ACME)", 16) == truncate("Alice Anderson (ACME)", 16)
    assert truncate("Alice (ACME)", 40) == "Alice (ACME)"  # uncut names are never touched


def test_truncate_bytes_counts_utf8():
    text = "ü" * 30
    cut_ = truncate_bytes(text, 40)
    assert len(cut_.encode()) <= 40 and cut_ == "ü" * 20


def test_a_cut_never_leaves_an_empty_name():
    # a name made of openers and separators up to the cut keeps them (phones reject a blank name)
    assert truncate("---- Reception ----", 4) == "----"
    assert truncate("(((Acme)))", 2) == "(("
    assert truncate('"Q" Corp', 1) == '"'
    assert cut("«Ltd» and sons", 1) == "«"
