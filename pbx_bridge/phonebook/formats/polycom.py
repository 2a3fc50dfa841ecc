"""Polycom/Poly UC Software local directory: ``directory/item_list/item`` with one number per item in
``ct``, which must be unique in the file (the phone matches incoming calls against it); ``fn``/``ln`` at
most 40 bytes (docs/phonebook.md). The shared seed file name is ``000000000000-directory.xml``."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from pbx_bridge.phonebook.entries import Book
from pbx_bridge.phonebook.formats.base import (
    XML_MEDIA,
    Child,
    FormatSpec,
    Limiter,
    Record,
    RenderContext,
    Rendered,
    element,
    one_per_number,
    render_streamed,
)

ID = "polycom"
NAME_BYTES = 40
LABEL = {"office": "Office", "mobile": "Mobile", "other": "Other"}

log = logging.getLogger("pbx_bridge.phonebook")


def render(book: Book, ctx: RenderContext) -> Rendered:
    seen: set[str] = set()
    records = []
    duplicates = 0
    for r in one_per_number(book, ctx):
        if r.dial in seen:  # ct must be unique: the first entry (in book order) keeps the number
            duplicates += 1
            continue
        seen.add(r.dial)
        records.append(r)
    if duplicates:
        log.info(
            "phonebook %s: %d numbers shared by several entries kept once (ct must be unique)", ID, duplicates
        )

    def children(records: list[Record], lim: Limiter, out: Rendered) -> Iterator[Child]:
        item, (ln, ct, lb) = element("item", ("ln", "ct", "lb"))
        for r in records:
            ln.text = lim.record_name(r.base, r.suffix)
            ct.text = r.dial
            lb.text = LABEL.get(r.label, "Other")
            yield item

    return render_streamed(
        SPEC, ctx, records, "directory", children, wrap=("item_list",), name_bytes=NAME_BYTES
    )


SPEC = FormatSpec(
    id=ID,
    description="Polycom/Poly local contact directory (seed file for every phone)",
    media_type=XML_MEDIA,
    file_name="000000000000-directory.xml",
    render=render,
    provisioning="on the provisioning server next to the phone configs (or CONTACTS_DIRECTORY)",
)
