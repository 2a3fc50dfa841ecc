"""Gigaset N610/N670/N870 central phonebook: ``<!DOCTYPE LocalDirectory>`` followed by one ``<entry/>``
per contact with the attributes ``surname``, ``name``, ``office1/2``, ``mobile1/2``, ``home1/2``, as
Gigaset's own example shows (several top-level elements: not a single-rooted document). Limit: 2000
entries or 2 MB (docs/phonebook.md)."""

from __future__ import annotations

from lxml import etree

from pbx_bridge.directory.model import NumberLabel
from pbx_bridge.phonebook.entries import Book, Entry
from pbx_bridge.phonebook.formats.base import (
    XML_DECLARATION,
    XML_MEDIA,
    FormatSpec,
    Limiter,
    RenderContext,
    Rendered,
)

ID = "gigaset"
MAX_BYTES = 2 * 1024 * 1024
DOCTYPE = b"<!DOCTYPE LocalDirectory>\n"
SLOT = {
    NumberLabel.OFFICE: ("office1", "office2"),
    NumberLabel.MOBILE: ("mobile1", "mobile2"),
    NumberLabel.OTHER: ("home1", "home2"),
}


def _attrs(e: Entry, lim: Limiter) -> tuple[dict[str, str], int]:
    attrs = {
        "surname": lim.name(e.name),
        "name": "",
        "office1": "",
        "office2": "",
        "mobile1": "",
        "mobile2": "",
        "home1": "",
        "home2": "",
    }
    spill = []
    for n in e.numbers:
        free = [k for k in SLOT.get(n.label, SLOT[NumberLabel.OTHER]) if not attrs[k]]
        if free:
            attrs[free[0]] = n.dial
        else:
            spill.append(n.dial)
    dropped = 0
    for dial in spill:  # a third office number goes to a free home/mobile slot rather than nowhere
        free = [k for k in ("home1", "home2", "mobile1", "mobile2", "office1", "office2") if not attrs[k]]
        if free:
            attrs[free[0]] = dial
        else:
            dropped += 1
    return attrs, dropped


def render(book: Book, ctx: RenderContext) -> Rendered:
    lim = Limiter.for_spec(ID, SPEC.max_entries, SPEC.max_name, ctx)
    entries = lim.take(list(book.entries))
    parts = [XML_DECLARATION, DOCTYPE]
    size = len(XML_DECLARATION) + len(DOCTYPE)
    written = dropped = 0
    for e in entries:
        attrs, lost = _attrs(e, lim)
        chunk = etree.tostring(etree.Element("entry", attrs), encoding="UTF-8") + b"\n"
        if size + len(chunk) > MAX_BYTES:
            lim.reason = "2 MB"
            break
        parts.append(chunk)
        size += len(chunk)
        written += 1
        dropped += lost
    lim.cut += len(entries) - written
    return lim.report(Rendered([b"".join(parts)], records=written, numbers_dropped=dropped))


SPEC = FormatSpec(
    id=ID,
    description="Gigaset N610/N670/N870 central phonebook",
    media_type=XML_MEDIA,
    file_name="gigaset-phonebook.xml",
    render=render,
    max_entries=2000,
    single_rooted=False,
    provisioning="CentralBook.0.ServerURL (+ Netdir.21.Activated = 1, CentralBook.0.DownloadTime)",
)
