"""Name and number search for the phones that ask the server (Gigaset online directory, Yealink
``#SEARCH``): one matching rule for both.

A name term matches when it starts a word of the displayed name, case-insensitively (``o'bri`` finds
``O'Brien "Bob" Müller``; ``*`` is a wildcard and ignored); every term must match. A number term
matches on its digits.

Yealink: a remote-book URL holding ``#SEARCH`` makes the phone put what the user typed there, e.g.
``…/phonebook/yealink?search=#SEARCH`` (``term`` is accepted too). The answer is the published flat
book's ``DirectoryEntry`` elements that match, read from the published bytes as a stream (the entries
are not held in memory for this), at most :data:`MAX_RESULTS`.
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Iterable

from lxml import etree

from pbx_bridge.phonebook.formats.base import XML_DECLARATION
from pbx_bridge.phonebook.text import clean

__all__ = ["MAX_RESULTS", "YEALINK_KEYS", "digits_of", "name_matches", "terms", "yealink_search"]

MAX_RESULTS = 100  # one answer stays small whatever is typed
YEALINK_KEYS = ("search", "term")
_NON_DIGITS = re.compile(r"[^0-9]")


def terms(values: Iterable[str]) -> list[str]:
    """The casefolded name terms in ``values`` (``*`` is a wildcard, ignored)."""
    out: list[str] = []
    for value in values:
        out += clean(value).replace("*", " ").casefold().split()
    return out


def digits_of(text: str) -> str:
    return _NON_DIGITS.sub("", text)


def _starts_word(text: str, term: str) -> bool:
    at = text.find(term)
    while at >= 0:
        if at == 0 or not text[at - 1].isalnum():
            return True
        at = text.find(term, at + 1)
    return False


def name_matches(name: str, wanted: list[str]) -> bool:
    """True when every term in ``wanted`` (from :func:`terms`) starts a word of ``name``."""
    folded = name.casefold()
    return all(_starts_word(folded, t) for t in wanted)


def yealink_search(book: bytes, typed: str, limit: int = MAX_RESULTS) -> bytes:
    """The ``YealinkIPPhoneDirectory`` entries of ``book`` that match ``typed``: by number when it is
    a number (digits, spaces, ``+ - ( )``), else by name."""
    number = digits_of(typed) if re.fullmatch(r"[0-9+\-() ]+", typed.strip()) else ""
    wanted = [] if number else terms([typed])
    root = etree.Element("YealinkIPPhoneDirectory")
    found = 0
    parser = etree.iterparse(
        io.BytesIO(book),
        events=("end",),
        tag="DirectoryEntry",
        resolve_entities=False,
        no_network=True,
        huge_tree=True,
    )
    for _event, entry in parser:
        if number:
            hit = any(number in digits_of(t.text or "") for t in entry.iter("Telephone"))
        else:
            hit = name_matches(entry.findtext("Name") or "", wanted)
        if hit:
            root.append(copy.deepcopy(entry))
            found += 1
        entry.clear()
        while entry.getprevious() is not None:  # the parsed part of the book does not pile up
            del entry.getparent()[0]
        if found >= limit:
            break
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True)
