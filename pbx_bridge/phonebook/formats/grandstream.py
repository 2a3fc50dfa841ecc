"""Grandstream XML phonebook: ``AddressBook`` with ``pbgroup`` declarations and one ``Contact`` per entry,
each number a ``Phone type=...`` holding ``phonenumber`` and ``accountindex`` (handset-phonebooks.md §3).
The phone appends ``/phonebook.xml`` to the configured path, hence the file name."""

from __future__ import annotations

from lxml import etree

from pbx_bridge.directory.model import NumberLabel
from pbx_bridge.phonebook.entries import Book
from pbx_bridge.phonebook.formats.base import (
    XML_MEDIA,
    FormatSpec,
    RenderContext,
    Rendered,
    render_streamed,
    sub,
)

ID = "grandstream"
PHONE_TYPE = {NumberLabel.OFFICE: "Work", NumberLabel.MOBILE: "Cell", NumberLabel.OTHER: "Other"}


def render(book: Book, ctx: RenderContext) -> Rendered:
    account = str(ctx.settings.grandstream_account_index)

    def children(entries, lim, out):
        group_ids = {g: i for i, g in enumerate(dict.fromkeys(e.group for e in entries), start=1)}
        for group, gid in group_ids.items():
            g = etree.Element("pbgroup")
            sub(g, "id", str(gid))
            sub(g, "name", lim.name(group))
            yield g
        for e in entries:
            c = etree.Element("Contact")
            sub(c, "LastName", lim.name(e.name))
            for n in e.numbers:
                p = sub(c, "Phone", type=PHONE_TYPE.get(n.label, "Other"))
                sub(p, "phonenumber", n.dial)
                sub(p, "accountindex", account)
            sub(sub(c, "Groups"), "groupid", str(group_ids[e.group]))
            yield c

    return render_streamed(SPEC, ctx, book.entries, "AddressBook", children)


SPEC = FormatSpec(
    id=ID, description="Grandstream GXP/GRP/WP downloadable XML phonebook", media_type=XML_MEDIA,
    file_name="phonebook.xml", render=render, max_entries=2000,
    provisioning="P330 (download mode HTTP/HTTPS), P331 (server path without file name), P332 (interval)",
)
