"""Fanvil remote phonebook, v1: ``FanvilIPPhoneDirectory`` with ``DirectoryEntry`` holding ``Name``,
``Telephone``, ``Mobile``, ``Other`` and ``Group`` (handset-phonebooks.md §7)."""

from __future__ import annotations

from lxml import etree

from pbx_bridge.phonebook.entries import Book
from pbx_bridge.phonebook.formats.base import (
    XML_MEDIA,
    FormatSpec,
    Limiter,
    RenderContext,
    Rendered,
    slots,
    sub,
    xml_document,
)

ID = "fanvil"


def render(book: Book, ctx: RenderContext) -> Rendered:
    lim = Limiter.for_spec(ID, SPEC.max_entries, SPEC.max_name, ctx)
    entries = lim.take(list(book.entries))
    dropped = 0

    def children():
        nonlocal dropped
        title = etree.Element("Title")
        title.text = ctx.settings.title
        yield title
        el = etree.Element("DirectoryEntry")  # refilled per entry (serialised as it is yielded)
        fields = [sub(el, tag) for tag in ("Name", "Telephone", "Mobile", "Other", "Group")]
        for e in entries:
            office, mobile, other = slots(e, 3)
            dropped += max(0, len(e.numbers) - 3)
            for field, value in zip(fields, (lim.name(e.name), office, mobile, other, e.group), strict=True):
                field.text = value
            yield el

    body = xml_document("FanvilIPPhoneDirectory", children(), sink=ctx.sink)
    return lim.report(Rendered([body], records=len(entries), numbers_dropped=dropped))


SPEC = FormatSpec(
    id=ID, description="Fanvil XML phonebook (Telephone, Mobile, Other, Group)", media_type=XML_MEDIA,
    file_name="fanvil-phonebook.xml", render=render,
    provisioning="<Xml_PhoneBook_Entry> Addr (URL) and Auth in the phone .cfg",
)
