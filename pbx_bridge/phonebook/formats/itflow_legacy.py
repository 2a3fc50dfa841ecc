"""The layout ITFlow's legacy ``api.php?phonebook`` produced (docs/itflow-api.md §1.7), correctly escaped:
``AddressBook/Contact`` with ``LastName``, ``Phone/phonenumber`` and ``Groups/groupid`` (0 contacts,
1 vendors, 2 locations), for setups that were pointed at the old URL."""

from __future__ import annotations

from collections.abc import Iterator

from pbx_bridge.directory.model import PartyKind
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

ID = "itflow-legacy"
GROUP_ID = {PartyKind.CONTACT: "0", PartyKind.VENDOR: "1", PartyKind.LOCATION: "2"}


def render(book: Book, ctx: RenderContext) -> Rendered:
    def children(entries: list[Entry], lim: Limiter, out: Rendered) -> Iterator[Child]:
        shape = refilled(
            "Contact", lambda count: ("LastName",) + ("Phone/phonenumber",) * count + ("Groups/groupid",)
        )
        for e in entries:
            c, fields = shape(len(e.numbers))
            fields[0].text = lim.name(e.name)
            fill(fields[1:-1], [n.dial for n in e.numbers])
            fields[-1].text = GROUP_ID.get(e.kind, "0")
            yield c

    return render_streamed(SPEC, ctx, book.entries, "AddressBook", children)


SPEC = FormatSpec(
    id=ID,
    description="ITFlow legacy AddressBook layout (Grandstream-style), escaped",
    media_type=XML_MEDIA,
    file_name="itflow-phonebook.xml",
    render=render,
    provisioning="whatever pointed at api.php?phonebook before",
)
