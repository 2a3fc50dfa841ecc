"""Grandstream XML phonebook: ``AddressBook`` with ``pbgroup`` declarations and one ``Contact`` per entry,
each number a ``Phone type=...`` holding ``phonenumber`` and ``accountindex`` (docs/phonebook.md).
The phone appends ``/phonebook.xml`` to the configured path, hence the file name.

Vendor facts relied on: ``Phone@type`` is one of Work, Home, Mobile, Fax, Other; GXP21xx ``groupid`` is
0..9, so at most ten groups: when the book has more, the nine largest keep their own id and every other
entry goes to group 9, named by ``grandstream_overflow_group``; ``accountindex`` is the configured
``grandstream_account_index`` (1..6 on GXP21xx 1.0.5.x, 0-based on newer firmware)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from lxml import etree

from pbx_bridge.directory.model import NumberLabel
from pbx_bridge.phonebook.entries import Book, Entry
from pbx_bridge.phonebook.formats.base import (
    XML_MEDIA,
    FormatSpec,
    Limiter,
    RenderContext,
    Rendered,
    render_streamed,
    sub,
)

log = logging.getLogger("pbx_bridge.phonebook")

ID = "grandstream"
PHONE_TYPE = {NumberLabel.OFFICE: "Work", NumberLabel.MOBILE: "Mobile", NumberLabel.OTHER: "Other"}
GROUP_IDS = 10  # groupid 0..9


def group_ids(groups: list[str], overflow: str) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """Each group's ``groupid`` and the declared ``(id, name)`` list: one id per group while they fit
    in 0..9, else the nine largest (ties: book order) keep theirs and the rest share 9 (``overflow``)."""
    order = list(dict.fromkeys(groups))
    if len(order) <= GROUP_IDS:
        ids = {g: i for i, g in enumerate(order)}
        return ids, [(i, g) for g, i in ids.items()]
    sizes: dict[str, int] = {}
    for g in groups:
        sizes[g] = sizes.get(g, 0) + 1
    rank = {g: i for i, g in enumerate(order)}
    own = sorted(sorted(order, key=lambda g: (-sizes[g], rank[g]))[: GROUP_IDS - 1], key=rank.__getitem__)
    ids = {g: i for i, g in enumerate(own)}
    while overflow in ids:  # a client really named "Other" keeps its group; the shared one is told apart
        overflow += " (more)"
    declared = [(i, g) for g, i in ids.items()] + [(GROUP_IDS - 1, overflow)]
    return {g: ids.get(g, GROUP_IDS - 1) for g in order}, declared


def render(book: Book, ctx: RenderContext) -> Rendered:
    account = str(ctx.settings.grandstream_account_index)

    def children(entries: list[Entry], lim: Limiter, out: Rendered) -> Iterator[etree._Element]:
        ids, declared = group_ids([e.group for e in entries], ctx.settings.grandstream_overflow_group)
        if len(ids) > GROUP_IDS:
            log.info(
                "phonebook %s: %d groups share group %d (%r): GXP phones have groupid 0..9 only",
                ID,
                len(ids) - GROUP_IDS + 1,
                GROUP_IDS - 1,
                ctx.settings.grandstream_overflow_group,
            )
        for gid, group in declared:
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
            sub(sub(c, "Groups"), "groupid", str(ids[e.group]))
            yield c

    return render_streamed(SPEC, ctx, book.entries, "AddressBook", children)


SPEC = FormatSpec(
    id=ID,
    description="Grandstream GXP/GRP/WP downloadable XML phonebook",
    media_type=XML_MEDIA,
    file_name="phonebook.xml",
    render=render,
    max_entries=2000,
    provisioning="P330 (download mode HTTP/HTTPS), P331 (server path without file name), P332 (interval)",
)
