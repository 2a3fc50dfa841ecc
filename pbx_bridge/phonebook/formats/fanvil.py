"""Fanvil remote phonebook, v1: ``FanvilIPPhoneDirectory`` with ``DirectoryEntry`` holding ``Name``,
``Telephone``, ``Mobile``, ``Other`` and ``Group`` (docs/phonebook.md)."""

from __future__ import annotations

from collections.abc import Iterator

from pbx_bridge.phonebook.entries import Book, Entry
from pbx_bridge.phonebook.formats.base import (
    XML_MEDIA,
    Child,
    FormatSpec,
    Limiter,
    RenderContext,
    Rendered,
    element,
    fill,
    render_streamed,
    slots,
)

ID = "fanvil"


def render(book: Book, ctx: RenderContext) -> Rendered:
    def children(entries: list[Entry], lim: Limiter, out: Rendered) -> Iterator[Child]:
        el, fields = element("DirectoryEntry", ("Name", "Telephone", "Mobile", "Other", "Group"))
        for e in entries:
            office, mobile, other = slots(e, 3)
            out.numbers_dropped += max(0, len(e.numbers) - 3)
            fill(fields, (lim.name(e.name), office, mobile, other, e.group))
            yield el

    return render_streamed(SPEC, ctx, book.entries, "FanvilIPPhoneDirectory", children, title=True)


SPEC = FormatSpec(
    id=ID,
    description="Fanvil XML phonebook (Telephone, Mobile, Other, Group)",
    media_type=XML_MEDIA,
    file_name="fanvil-phonebook.xml",
    render=render,
    provisioning="<Xml_PhoneBook_Entry> Addr (URL) and Auth in the phone .cfg",
)
