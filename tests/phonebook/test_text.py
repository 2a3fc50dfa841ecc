"""Text hygiene: control characters out, cuts at grapheme boundaries."""

from __future__ import annotations

from pbx_bridge.phonebook.text import clean, truncate, truncate_bytes


def test_clean_removes_controls_and_collapses_breaks():
    assert clean("  A\x00l\x01i\x1fce\x7f\x9f \r\n Smith\t ") == "Alice Smith"
    assert clean(None) == ""
    assert clean("bad \ud800 surrogate \ufffe") == "bad surrogate"


def test_truncate_never_splits_a_grapheme():
    family = "👩\u200d👩\u200d👧"
    assert truncate("ab" + family, 4) == "ab"
    assert truncate("e\u0301e\u0301", 3) == "e\u0301"
    assert truncate("short", 24) == "short"
    assert truncate("thumb 👍🏽 up", 7) == "thumb"


def test_truncate_bytes_counts_utf8():
    text = "ü" * 30
    cut = truncate_bytes(text, 40)
    assert len(cut.encode()) <= 40 and cut == "ü" * 20
