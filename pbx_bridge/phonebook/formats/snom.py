"""Snom settings ``tbook`` (local directory provisioning): ``<tbook e="2" complete="true">`` with one
``item`` per number (``name``, ``number``, ``number_type``) and a unique ``index`` (docs/phonebook.md).
``complete="true"`` makes the phone drop entries not in the file, so only whole files are served."""

from __future__ import annotations

from collections.abc import Iterator

from pbx_bridge.directory.model import NumberLabel
from pbx_bridge.phonebook.entries import Book
from pbx_bridge.phonebook.formats.base import (
    XML_MEDIA,
    Child,
    FormatSpec,
    Limiter,
    Record,
    RenderContext,
    Rendered,
    one_per_number,
    refilled,
    render_streamed,
)

ID = "snom"
NUMBER_TYPE = {NumberLabel.OFFICE: "business", NumberLabel.MOBILE: "mobile", NumberLabel.OTHER: "fixed"}


def render(book: Book, ctx: RenderContext) -> Rendered:
    def children(records: list[Record], lim: Limiter, out: Rendered) -> Iterator[Child]:
        # two shapes (with and without organization)
        shape = refilled(
            "item",
            lambda org: ("name", "number", "number_type") + (("organization",) * org),
            context="active",
            type="none",
            index="",
        )
        for index, r in enumerate(records):
            org = r.entry.organization
            item, fields = shape(bool(org))
            item.set("index", str(index))
            fields[0].text = lim.record_name(r.base, r.suffix)
            fields[1].text = r.dial
            fields[2].text = NUMBER_TYPE.get(r.label, "fixed")
            if org:
                fields[3].text = org
            yield item

    return render_streamed(
        SPEC, ctx, one_per_number(book, ctx), "tbook", children, attrs={"e": "2", "complete": "true"}
    )


SPEC = FormatSpec(
    id=ID,
    description="Snom tbook (settings file, one number per item)",
    media_type=XML_MEDIA,
    file_name="snom-tbook.xml",
    render=render,
    provisioning='<setting-files><file url=".../phonebook/snom"/></setting-files>',
)
