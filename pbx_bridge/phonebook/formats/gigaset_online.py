"""Gigaset online directory (server search, older N510/N720 and similar): the phone asks the configured
URL with a search and an offset, the answer is one page of ``<list response="get_list" type="pr"
total="T" first="F" last="L">`` holding ``<entry id="N">`` with ``<ln>``, ``<fn>`` and ``<hm>`` (the
number) (docs/phonebook.md). It is an answer to a query, not a published file, so it is not in
the format registry: :mod:`pbx_bridge.phonebook.http` answers it on ``/phonebook/gigaset`` when the
request carries ``command=get_list``.

Request parameters read (names as the Gigaset protocol uses them; only ``command``, the search and the
offset are in the reference, the others are marked unverified in docs/phonebook.md): ``command=get_list``,
``type`` (echoed; ``pr`` private, the default), ``ln``/``fn`` (name search: each term must start a word
of the name, ``*`` is a wildcard and ignored), ``hm``/``mb``/``nr`` (number search: the digits must
end the published number, a reverse lookup), ``first`` (1-based offset) and ``count`` (page size).
One entry per number, the extra numbers named with the label suffix, as in the other one-number formats.
"""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree

from pbx_bridge.phonebook.entries import Book
from pbx_bridge.phonebook.formats.base import XML_DECLARATION, RenderContext, one_per_number, sub
from pbx_bridge.phonebook.search import digits_of, name_matches, terms

__all__ = ["DEFAULT_COUNT", "MAX_COUNT", "answer"]

DEFAULT_COUNT = 10
MAX_COUNT = 100  # one answer stays small whatever the phone asks


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        n = int(value) if value else default
    except ValueError:
        n = default
    return max(low, min(high, n))


def answer(book: Book, ctx: RenderContext, query: Mapping[str, str]) -> bytes:
    """One ``get_list`` page for ``query`` (the request's parameters)."""
    names = terms(query.get(k, "") for k in ("ln", "fn"))
    digits = "".join(digits_of(query.get(k, "")) for k in ("hm", "mb", "nr"))
    records = one_per_number(book, ctx)
    hits = []
    for r in records:
        if digits and not digits_of(r.dial).endswith(digits):
            continue
        if names and not name_matches(r.name, names):
            continue
        hits.append(r)
    first = _int(query.get("first"), 1, 1, len(hits) + 1)  # past the end: an empty page
    count = _int(query.get("count"), DEFAULT_COUNT, 1, MAX_COUNT)
    page = hits[first - 1 : first - 1 + count]
    kind = query.get("type", "pr") if query.get("type", "pr") in ("pr", "pb", "yp") else "pr"
    attrs = {"response": "get_list", "type": kind, "total": str(len(hits))}
    if page:
        attrs |= {"first": str(first), "last": str(first + len(page) - 1)}
    root = etree.Element("list", attrs)
    for i, r in enumerate(page, start=first):
        entry = sub(root, "entry", id=str(i))
        sub(entry, "ln", r.name)
        sub(entry, "hm", r.dial)
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True)
