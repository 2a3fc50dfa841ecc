"""Accept-Charset negotiation for Cisco pages: UTF-8 unless the phone refuses it and takes ISO-8859-1."""

from __future__ import annotations

import pytest
from lxml import etree

from pbx_bridge.phonebook.charset import LATIN1, to_latin1, wanted_charset


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "utf-8"),
        ("", "utf-8"),
        ("utf-8", "utf-8"),
        ("ISO-8859-1", LATIN1),
        ("iso-8859-1, utf-8;q=0.7", "utf-8"),
        ("iso-8859-1;q=1.0, *;q=0.5", "utf-8"),  # * covers UTF-8
        ("iso-8859-1, utf-8;q=0", LATIN1),  # UTF-8 explicitly refused
        ("iso-8859-1, *;q=0", LATIN1),
        ("koi8-r", "utf-8"),  # nothing we can offer: UTF-8 anyway
        ("iso-8859-1;q=bogus", "utf-8"),
    ],
)
def test_wanted_charset(header, expected):
    assert wanted_charset(header) == expected


def test_latin1_page_keeps_every_character():
    utf8 = '<?xml version="1.0" encoding="UTF-8"?>\n<Name>Müller 😀 &amp; Söhne</Name>\n'.encode()
    latin = to_latin1(utf8)
    assert latin.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    assert b"M\xfcller" in latin and b"&#128512;" in latin
    assert etree.fromstring(latin).text == etree.fromstring(utf8).text
