"""Snom settings ``tbook`` (local directory provisioning): ``<tbook e="2" complete="true">`` with one
``item`` per number (``name``, ``number``, ``number_type``) and a unique ``index`` (handset-phonebooks.md
§6a). ``complete="true"`` makes the phone drop entries not in the file, so only whole files are served."""

from __future__ import annotations

from lxml import etree

from pbx_bridge.directory.model import NumberLabel
from pbx_bridge.phonebook.entries import Book
from pbx_bridge.phonebook.formats.base import (
    XML_MEDIA,
    FormatSpec,
    Limiter,
    RenderContext,
    Rendered,
    one_per_number,
    sub,
    xml_document,
)

ID = "snom"
NUMBER_TYPE = {NumberLabel.OFFICE: "business", NumberLabel.MOBILE: "mobile", NumberLabel.OTHER: "fixed"}


def render(book: Book, ctx: RenderContext) -> Rendered:
    lim = Limiter.for_spec(ID, SPEC.max_entries, SPEC.max_name, ctx)
    records = lim.take(list(one_per_number(book, ctx)))

    def children():
        # two shapes (with and without organization), refilled per record as each is serialised on yield
        protos = []
        for with_org in (False, True):
            item = etree.Element("item", context="active", type="none", index="")
            fields = [sub(item, "name"), sub(item, "number"), sub(item, "number_type")]
            if with_org:
                fields.append(sub(item, "organization"))
            protos.append((item, fields))
        for index, r in enumerate(records):
            item, fields = protos[bool(r.entry.organization)]
            item.set("index", str(index))
            fields[0].text = lim.record_name(r.base, r.suffix)
            fields[1].text = r.dial
            fields[2].text = NUMBER_TYPE.get(r.label, "fixed")
            if r.entry.organization:
                fields[3].text = r.entry.organization
            yield item

    body = xml_document("tbook", children(), attrs={"e": "2", "complete": "true"}, sink=ctx.sink)
    return lim.report(Rendered([body], records=len(records)))


SPEC = FormatSpec(
    id=ID, description="Snom tbook (settings file, one number per item)", media_type=XML_MEDIA,
    file_name="snom-tbook.xml", render=render,
    provisioning="<setting-files><file url=\".../phonebook/snom\"/></setting-files>",
)
