"""Cisco ``CiscoIPPhoneDirectory`` (enterprise XML services and MPP/SPA): one number per entry, at most
32 entries per object, so the book is paged with soft keys whose URLs come from ``http.public_url``
(handset-phonebooks.md §4)."""

from __future__ import annotations

from lxml import etree

from pbx_bridge.phonebook.entries import Book
from pbx_bridge.phonebook.formats.base import (
    XML_MEDIA,
    FormatSpec,
    Limiter,
    RenderContext,
    Rendered,
    one_per_number,
    pages_of,
    sub,
    xml_document,
)

ID = "cisco"
PAGE_SIZE = 32
FIELD = 32  # Title/Prompt/Name/Telephone lengths commonly cited (unverified per model)


def render(book: Book, ctx: RenderContext) -> Rendered:
    lim = Limiter.for_spec(ID, SPEC.max_entries, SPEC.max_name, ctx)
    records = lim.take(list(one_per_number(book.entries, ctx)))
    pages = pages_of(records, PAGE_SIZE)
    total = len(pages)
    title = lim.name(ctx.settings.title)
    out: list[bytes] = []
    proto = etree.Element("DirectoryEntry")
    name_el, tel_el = sub(proto, "Name"), sub(proto, "Telephone")
    for number, page in enumerate(pages, start=1):
        def children(page=page, number=number):
            yield _text("Title", title)
            yield _text("Prompt", f"Page {number}/{total}")
            # one element, refilled per record: xml_document serialises each child as it is yielded
            for r in page:
                name_el.text = lim.record_name(r.base, r.suffix)
                tel_el.text = r.dial
                yield proto
            yield _softkey("Dial", "SoftKey:Dial", 1)
            if number > 1:
                yield _softkey("Prev", ctx.page_url(ID, number - 1), 2)
            if number < total:
                yield _softkey("Next", ctx.page_url(ID, number + 1), 3)
            yield _softkey("Exit", "SoftKey:Exit", 4)

        out.append(xml_document("CiscoIPPhoneDirectory", children()))
    return lim.report(Rendered(out, records=len(records)))


def _text(tag: str, text: str) -> etree._Element:
    el = etree.Element(tag)
    el.text = text
    return el


def _softkey(name: str, url: str, position: int) -> etree._Element:
    el = etree.Element("SoftKeyItem")
    sub(el, "Name", name)
    sub(el, "URL", url)
    sub(el, "Position", str(position))
    return el


SPEC = FormatSpec(
    id=ID, description="Cisco IP phone XML directory, 32 entries per page with Next/Prev soft keys",
    media_type=XML_MEDIA, file_name="cisco-directory.xml", render=render, max_name=FIELD,
    page_size=PAGE_SIZE,
    provisioning="<directoryURL> in SEP<MAC>.cnf.xml; MPP: XML_Directory_Service_URL",
)
