"""Yealink local contact import: ``<root_group>`` then ``<root_contact>`` in one file (two top-level
elements, as Yealink's own template has them; not a single-rooted XML document). Up to 1000 contacts and
48 groups; ``display_name`` must be unique (docs/phonebook.md)."""

from __future__ import annotations

import logging

from lxml import etree

from pbx_bridge.phonebook.entries import Book
from pbx_bridge.phonebook.formats.base import (
    XML_DECLARATION,
    XML_MEDIA,
    FormatSpec,
    Limiter,
    RenderContext,
    Rendered,
    slots,
    sub,
)
from pbx_bridge.phonebook.text import truncate

ID = "yealink-local"
MAX_GROUPS = 48
ALL_CONTACTS = "All Contacts"

log = logging.getLogger("pbx_bridge.phonebook")


def render(book: Book, ctx: RenderContext) -> Rendered:
    lim = Limiter.for_spec(ID, SPEC.max_entries, SPEC.max_name, ctx)
    entries = lim.take(list(book.entries))
    groups = list(dict.fromkeys(lim.name(e.group) for e in entries))
    if len(groups) > MAX_GROUPS:
        log.warning(
            "phonebook %s: %d groups, Yealink keeps %d; the rest go to %r",
            ID,
            len(groups),
            MAX_GROUPS,
            ALL_CONTACTS,
        )
    kept = set(groups[:MAX_GROUPS])
    root_group = etree.Element("root_group")
    for g in groups[:MAX_GROUPS]:
        sub(root_group, "group", display_name=g, ring="Auto")
    root_contact = etree.Element("root_contact")
    seen: dict[str, int] = {}
    dropped = 0
    for e in entries:
        base = lim.name(e.name)
        n = seen.get(base, 0)
        seen[base] = n + 1
        # display_name must be unique: number the repeats ("Front Desk (2)")
        name = base if n == 0 else f"{truncate(base, (lim.max_name or len(base)) - 4)} ({n + 1})"
        office, mobile, other = slots(e, 3)
        dropped += max(0, len(e.numbers) - 3)
        group = lim.name(e.group)
        sub(
            root_contact,
            "contact",
            display_name=name,
            office_number=office,
            mobile_number=mobile,
            other_number=other,
            line="-1",
            ring="Auto",
            group_id_name=group if group in kept else ALL_CONTACTS,
        )
    body = (
        XML_DECLARATION
        + etree.tostring(root_group, encoding="UTF-8", pretty_print=True)
        + etree.tostring(root_contact, encoding="UTF-8", pretty_print=True)
    )
    return lim.report(Rendered([body], records=len(entries), numbers_dropped=dropped))


SPEC = FormatSpec(
    id=ID,
    description="Yealink local directory import (replaces the phone's local contacts)",
    media_type=XML_MEDIA,
    file_name="yealink-local-contacts.xml",
    render=render,
    max_entries=1000,
    single_rooted=False,
    provisioning="local_contact.data.url",
)
