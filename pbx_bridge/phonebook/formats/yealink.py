"""Yealink remote phonebook, flat: ``YealinkIPPhoneDirectory`` with one ``DirectoryEntry`` per entry and
one ``Telephone`` element per number (handset-phonebooks.md §2a)."""

from __future__ import annotations

from lxml import etree

from pbx_bridge.phonebook.entries import Book
from pbx_bridge.phonebook.formats.base import (
    XML_MEDIA,
    FormatSpec,
    Limiter,
    RenderContext,
    Rendered,
    sub,
    xml_document,
)

ID = "yealink"


def render(book: Book, ctx: RenderContext) -> Rendered:
    lim = Limiter.for_spec(ID, SPEC.max_entries, SPEC.max_name, ctx)
    entries = lim.take(list(book.entries))

    def children():
        yield _title(ctx)
        protos: dict[int, tuple[etree._Element, list[etree._Element]]] = {}
        for e in entries:
            # one element per number count, refilled per entry (serialised as it is yielded)
            if len(e.numbers) not in protos:
                el = etree.Element("DirectoryEntry")
                protos[len(e.numbers)] = (el, [sub(el, "Name")] + [sub(el, "Telephone") for _ in e.numbers])
            el, fields = protos[len(e.numbers)]
            fields[0].text = lim.name(e.name)
            for field, n in zip(fields[1:], e.numbers, strict=True):
                field.text = n.dial
            yield el

    body = xml_document("YealinkIPPhoneDirectory", children(), sink=ctx.sink)
    return lim.report(Rendered([body], records=len(entries)))


def _title(ctx: RenderContext) -> etree._Element:
    el = etree.Element("Title")
    el.text = ctx.settings.title
    return el


SPEC = FormatSpec(
    id=ID, description="Yealink remote phonebook, flat list", media_type=XML_MEDIA,
    file_name="yealink-phonebook.xml", render=render,
    provisioning="remote_phonebook.data.1.url (+ features.remote_phonebook.enable = 1)",
)
