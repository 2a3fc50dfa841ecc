"""Gigaset DE900/DE700 XML phonebook: ``AddressBook/Contact`` in UTF-16 (declared ``encoding="UTF-16"``,
with a byte-order mark), ``UID`` 1..500 in order, first name and surname at most 16 characters each,
at most 500 entries (docs/phonebook.md). The number element names follow Gigaset's template
naming (``Office``, ``Mobile``, ``Home``) and are marked unverified in docs/phonebook.md."""

from __future__ import annotations

from lxml import etree

from pbx_bridge.phonebook.entries import Book
from pbx_bridge.phonebook.formats.base import FormatSpec, Limiter, RenderContext, Rendered, slots, sub

ID = "gigaset-de"
DECLARATION = '<?xml version="1.0" encoding="UTF-16"?>\n'


def render(book: Book, ctx: RenderContext) -> Rendered:
    lim = Limiter.for_spec(ID, SPEC.max_entries, SPEC.max_name, ctx)
    entries = lim.take(list(book.entries))
    root = etree.Element("AddressBook")
    dropped = 0
    for uid, e in enumerate(entries, start=1):
        c = sub(root, "Contact")
        sub(c, "UID", str(uid))
        sub(c, "FirstName", "")
        sub(c, "Surname", lim.name(e.name))
        if e.email:
            sub(c, "Email", e.email[:128])
        office, mobile, other = slots(e, 3)
        dropped += max(0, len(e.numbers) - 3)
        sub(c, "Office", office)
        sub(c, "Mobile", mobile)
        sub(c, "Home", other)
    text = DECLARATION + etree.tostring(root, encoding="unicode", pretty_print=True)
    body = b"\xff\xfe" + text.encode("utf-16-le")
    return lim.report(Rendered([body], records=len(entries), numbers_dropped=dropped))


SPEC = FormatSpec(
    id=ID,
    description="Gigaset DE900/DE700 phonebook (UTF-16, 500 entries)",
    media_type="text/xml; charset=utf-16",
    file_name="gigaset-de-phonebook.xml",
    render=render,
    max_entries=500,
    max_name=16,
    provisioning="web UI: phonebook download URL",
)
