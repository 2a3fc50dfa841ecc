"""Yealink remote phonebook, flat: ``YealinkIPPhoneDirectory`` with one ``DirectoryEntry`` per entry and
one ``Telephone`` element per number (docs/phonebook.md)."""

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
    fill,
    refilled,
    render_streamed,
)

ID = "yealink"


def render(book: Book, ctx: RenderContext) -> Rendered:
    def children(entries: list[Entry], lim: Limiter, out: Rendered) -> Iterator[Child]:
        shape = refilled("DirectoryEntry", lambda count: ("Name",) + ("Telephone",) * count)
        for e in entries:
            el, fields = shape(len(e.numbers))
            fields[0].text = lim.name(e.name)
            fill(fields[1:], [n.dial for n in e.numbers])
            yield el

    return render_streamed(SPEC, ctx, book.entries, "YealinkIPPhoneDirectory", children, title=True)


SPEC = FormatSpec(
    id=ID,
    description="Yealink remote phonebook, flat list",
    media_type=XML_MEDIA,
    file_name="yealink-phonebook.xml",
    render=render,
    provisioning="remote_phonebook.data.1.url (+ features.remote_phonebook.enable = 1)",
)
