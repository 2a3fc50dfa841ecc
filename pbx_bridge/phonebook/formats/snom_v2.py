"""Snom remote XML directory, ``tbook version="2.0"`` (firmware >= 10.1.178): one ``contact`` per entry with
``numbers/number no= type=`` for each number (docs/phonebook.md). Phones fetch it with POST."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from pbx_bridge.directory.model import NumberLabel
from pbx_bridge.phonebook.entries import Book, Entry
from pbx_bridge.phonebook.formats.base import (
    XML_MEDIA,
    Child,
    FormatSpec,
    Limiter,
    RenderContext,
    Rendered,
    render_streamed,
    sub,
)

ID = "snom-v2"
NUMBER_TYPE = {NumberLabel.OFFICE: "business", NumberLabel.MOBILE: "mobile", NumberLabel.OTHER: "home"}


def render(book: Book, ctx: RenderContext) -> Rendered:
    def children(entries: list[Entry], lim: Limiter, out: Rendered) -> Iterator[Child]:
        # one element per number count, refilled per entry (serialised as it is yielded); the numbers
        # share one <numbers> parent and carry attributes, so this shape is built here
        protos: dict[int, tuple[etree._Element, etree._Element, list[etree._Element]]] = {}
        for e in entries:
            count = len(e.numbers)
            if count not in protos:
                c = etree.Element("contact", fav="false", vip="false", blocked="false")
                sub(c, "first_name", "")
                last = sub(c, "last_name")
                nums = sub(c, "numbers")
                protos[count] = (
                    c,
                    last,
                    [sub(nums, "number", no="", type="", outgoing_id="0") for _ in range(count)],
                )
            c, last, numbers = protos[count]
            last.text = lim.name(e.name)
            for el, n in zip(numbers, e.numbers, strict=True):
                el.set("no", n.dial)
                el.set("type", NUMBER_TYPE.get(n.label, "home"))
            yield c

    return render_streamed(SPEC, ctx, book.entries, "tbook", children, attrs={"e": "2", "version": "2.0"})


SPEC = FormatSpec(
    id=ID,
    description="Snom remote XML directory (tbook 2.0, several numbers per contact)",
    media_type=XML_MEDIA,
    file_name="snom-directory.xml",
    render=render,
    provisioning="web UI Directory -> remote XML directory URL (up to three)",
)
