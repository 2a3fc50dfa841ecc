"""Yealink remote phonebook, grouped: ``YealinkIPPhoneBook`` with one ``Menu`` per group and a ``Unit``
per entry carrying up to three numbers as ``Phone1``/``Phone2``/``Phone3`` (office, mobile, other;
docs/phonebook.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import groupby

from lxml import etree

from pbx_bridge.phonebook.entries import Book, Entry
from pbx_bridge.phonebook.formats.base import (
    XML_MEDIA,
    Child,
    FormatSpec,
    Limiter,
    RenderContext,
    Rendered,
    XmlWriter,
    render_streamed,
    slots,
)

ID = "yealink-grouped"


def render(book: Book, ctx: RenderContext) -> Rendered:
    def children(entries: list[Entry], lim: Limiter, out: Rendered) -> Iterator[Child]:
        # entries are sorted by group already, so each group is one run; a group (the vendors: 10k
        # units) is streamed unit by unit, laid out as libxml2 pretty-prints a whole Menu
        unit = etree.Element("Unit", Name="", Phone1="", Phone2="", Phone3="", default_photo="")
        for group, members in groupby(entries, key=lambda e: e.group):
            yield _menu(lim.name(group), list(members), unit, lim, out)

    return render_streamed(SPEC, ctx, book.entries, "YealinkIPPhoneBook", children, title=True)


def _menu(
    name: str, members: list[Entry], unit: etree._Element, lim: Limiter, out: Rendered
) -> Callable[[XmlWriter], None]:
    def write(xf: XmlWriter) -> None:
        with xf.element("Menu", Name=name):
            xf.write("\n")
            for e in members:
                p1, p2, p3 = slots(e, 3)
                out.numbers_dropped += max(0, len(e.numbers) - 3)
                unit.set("Name", lim.name(e.name))
                unit.set("Phone1", p1)
                unit.set("Phone2", p2)
                unit.set("Phone3", p3)
                xf.write("  ")
                xf.write(unit)
                xf.write("\n")
        xf.write("\n")

    return write


SPEC = FormatSpec(
    id=ID,
    description="Yealink remote phonebook, one menu per group, three numbers per unit",
    media_type=XML_MEDIA,
    file_name="yealink-phonebook-grouped.xml",
    render=render,
    provisioning="remote_phonebook.data.N.url",
)
