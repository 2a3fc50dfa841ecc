"""Cisco ``CiscoIPPhoneDirectory`` (enterprise XML services and MPP/SPA): one number per entry, at most
32 entries per object, so the book is paged with soft keys whose URLs come from ``http.public_url``
(docs/phonebook.md).

Cisco's "Mandatory Escape Sequences" (IP Phone Services guide OL-20949-01, p. 3-21) list ``&``, ``<``,
``>``, ``'`` and ``"``: all five are written as entities in element text (libxml2 leaves the quotes raw
in text, so they are replaced after serialising; the objects carry no attributes). The answer is UTF-8;
a phone whose ``Accept-Charset`` refuses UTF-8 gets ISO-8859-1 (see ``phonebook/charset.py``)."""

from __future__ import annotations

from lxml import etree

from pbx_bridge.phonebook.entries import Book
from pbx_bridge.phonebook.formats.base import (
    XML_DECLARATION,
    XML_MEDIA,
    FormatSpec,
    Limiter,
    RenderContext,
    Rendered,
    one_per_number,
    pages_of,
    sub,
)

ID = "cisco"
PAGE_SIZE = 32
FIELD = 32  # Title/Prompt/Name/Telephone lengths commonly cited (unverified per model)


def render(book: Book, ctx: RenderContext) -> Rendered:
    lim = Limiter.for_spec(ID, SPEC.max_entries, SPEC.max_name, ctx)
    records = lim.take(list(one_per_number(book, ctx)))
    pages = pages_of(records, PAGE_SIZE)
    total = len(pages)
    title = lim.name(ctx.settings.title)
    out: list[bytes] = []
    for number, page in enumerate(pages, start=1):
        # a page is small (<= 32 entries): one tree, serialised by libxml2 in one call
        root = etree.Element("CiscoIPPhoneDirectory")
        sub(root, "Title", title)
        sub(root, "Prompt", f"Page {number}/{total}")
        for r in page:
            entry = etree.SubElement(root, "DirectoryEntry")
            etree.SubElement(entry, "Name").text = lim.record_name(r.base, r.suffix)
            etree.SubElement(entry, "Telephone").text = r.dial
        _softkey(root, "Dial", "SoftKey:Dial", 1)
        if number > 1:
            _softkey(root, "Prev", ctx.page_url(ID, number - 1), 2)
        if number < total:
            _softkey(root, "Next", ctx.page_url(ID, number + 1), 3)
        _softkey(root, "Exit", "SoftKey:Exit", 4)
        out.append(XML_DECLARATION + escape_quotes(etree.tostring(root, encoding="UTF-8", pretty_print=True)))
    return lim.report(Rendered(out, records=len(records)))


def escape_quotes(xml: bytes) -> bytes:
    """``'`` and ``"`` as entities: in an attribute-free serialisation they only occur in text."""
    return xml.replace(b"'", b"&apos;").replace(b'"', b"&quot;")


def _softkey(root: etree._Element, name: str, url: str, position: int) -> None:
    el = etree.SubElement(root, "SoftKeyItem")
    sub(el, "Name", name)
    sub(el, "URL", url)
    sub(el, "Position", str(position))


SPEC = FormatSpec(
    id=ID,
    description="Cisco IP phone XML directory, 32 entries per page with Next/Prev soft keys",
    media_type=XML_MEDIA,
    file_name="cisco-directory.xml",
    render=render,
    max_name=FIELD,
    page_size=PAGE_SIZE,
    charset_negotiable=True,
    provisioning="<directoryURL> in SEP<MAC>.cnf.xml; MPP: XML_Directory_Service_URL",
)
