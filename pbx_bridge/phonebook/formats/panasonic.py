"""Panasonic KX-HDV/KX-TGP600 XML application phonebook: ``ppxml/PhoneBook version="2.0"/Personnel``,
20 per response page, ``Name`` at most 24 characters, numbers in ``PhoneNums/PhoneNum type=...`` with
1-32 digits (docs/phonebook.md). Pages are served as ``?page=N``."""

from __future__ import annotations

from lxml import etree

from pbx_bridge.directory.model import NumberLabel
from pbx_bridge.phonebook.entries import Book
from pbx_bridge.phonebook.formats.base import (
    XML_DECLARATION,
    XML_MEDIA,
    FormatSpec,
    Limiter,
    RenderContext,
    Rendered,
    pages_of,
    sub,
)

ID = "panasonic"
PAGE_SIZE = 20
MAX_DIGITS = 32
PHONE_TYPE = {NumberLabel.OFFICE: "company", NumberLabel.MOBILE: "mobile", NumberLabel.OTHER: "home"}


def render(book: Book, ctx: RenderContext) -> Rendered:
    lim = Limiter.for_spec(ID, SPEC.max_entries, SPEC.max_name, ctx)
    entries = lim.take(list(book.entries))
    out: list[bytes] = []
    dropped = 0
    for page in pages_of(entries, PAGE_SIZE):
        pb = etree.Element("PhoneBook", version="2.0")
        for pid, e in enumerate(page, start=1):
            person = sub(pb, "Personnel", id=str(pid))
            sub(person, "Name", lim.name(e.name))
            nums = sub(person, "PhoneNums")
            for n in e.numbers:
                if len(n.dial.lstrip("+")) > MAX_DIGITS:
                    dropped += 1
                    continue
                sub(nums, "PhoneNum", n.dial, type=PHONE_TYPE.get(n.label, "home"))
        root = etree.Element("ppxml")
        root.append(pb)
        out.append(XML_DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True))
    return lim.report(Rendered(out, records=len(entries), numbers_dropped=dropped))


SPEC = FormatSpec(
    id=ID,
    description="Panasonic XML application phonebook (20 per page, 24-character names)",
    media_type=XML_MEDIA,
    file_name="panasonic-phonebook.xml",
    render=render,
    max_name=24,
    page_size=PAGE_SIZE,
    provisioning="XML application settings: XML phonebook URL (XMLAPP_* family)",
)
