"""The layout ITFlow's legacy ``api.php?phonebook`` produced (itflow-api.md §1.7), correctly escaped:
``AddressBook/Contact`` with ``LastName``, ``Phone/phonenumber`` and ``Groups/groupid`` (0 contacts,
1 vendors, 2 locations), for setups that were pointed at the old URL."""

from __future__ import annotations

from lxml import etree

from pbx_bridge.directory.model import PartyKind
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

ID = "itflow-legacy"
GROUP_ID = {PartyKind.CONTACT: "0", PartyKind.VENDOR: "1", PartyKind.LOCATION: "2"}


def render(book: Book, ctx: RenderContext) -> Rendered:
    lim = Limiter.for_spec(ID, SPEC.max_entries, SPEC.max_name, ctx)
    entries = lim.take(list(book.entries))

    def children():
        # one element per number count, refilled per entry (serialised as it is yielded)
        protos: dict[int, tuple[etree._Element, etree._Element, list[etree._Element], etree._Element]] = {}
        for e in entries:
            count = len(e.numbers)
            if count not in protos:
                c = etree.Element("Contact")
                last = sub(c, "LastName")
                phones = [sub(sub(c, "Phone"), "phonenumber") for _ in range(count)]
                protos[count] = (c, last, phones, sub(sub(c, "Groups"), "groupid"))
            c, last, phones, group = protos[count]
            last.text = lim.name(e.name)
            for el, n in zip(phones, e.numbers, strict=True):
                el.text = n.dial
            group.text = GROUP_ID.get(e.kind, "0")
            yield c

    body = xml_document("AddressBook", children(), sink=ctx.sink)
    return lim.report(Rendered([body], records=len(entries)))


SPEC = FormatSpec(
    id=ID, description="ITFlow legacy AddressBook layout (Grandstream-style), escaped",
    media_type=XML_MEDIA, file_name="itflow-phonebook.xml", render=render,
    provisioning="whatever pointed at api.php?phonebook before",
)
