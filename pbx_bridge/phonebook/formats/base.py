"""What every format module provides, and the helpers they share (XML writing, limits, number slots).

XML is always produced by lxml (element trees serialised by libxml2), so names holding ``&``, ``<`` or
quotes are escaped by the library; text is cleaned of control characters before it reaches lxml.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO, Protocol, TypeVar, cast

from lxml import etree

from pbx_bridge.directory.model import NumberLabel
from pbx_bridge.phonebook.entries import Book, Entry
from pbx_bridge.phonebook.settings import PhonebookSettings
from pbx_bridge.phonebook.text import truncate, truncate_bytes

__all__ = [
    "XML_DECLARATION",
    "Child",
    "FormatSpec",
    "Limiter",
    "RenderContext",
    "Rendered",
    "XmlWriter",
    "element",
    "fill",
    "one_per_number",
    "pages_of",
    "refilled",
    "render_streamed",
    "slots",
    "sub",
    "xml_document",
]

log = logging.getLogger("pbx_bridge.phonebook")

R = TypeVar("R")  # a record a format renders (an Entry, or a one-number Record)
# What xml_document streams: an element, or a function writing itself through the incremental writer.
Child = etree._Element | Callable[["XmlWriter"], None]

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
XML_MEDIA = "text/xml; charset=utf-8"


@dataclass(frozen=True, slots=True)
class RenderContext:
    settings: PhonebookSettings
    public_url: str = "http://127.0.0.1:8734"  # base of links in paged formats (http.public_url)
    # Where a single-page renderer may stream its bytes (the publisher's temp file) instead of returning
    # them: a 100k book is tens of MB per format. A renderer that used it returns an empty page.
    sink: BinaryIO | None = None

    def page_url(self, format_id: str, page: int) -> str:
        return f"{self.public_url.rstrip('/')}/phonebook/{format_id}?page={page}"


@dataclass(slots=True)
class Rendered:
    pages: list[bytes]  # one element for unpaged formats
    records: int = 0  # records written (entries, or entry-number pairs in one-number formats)
    cut: int = 0  # records dropped by a vendor limit
    shortened: int = 0  # names cut to the vendor's length
    numbers_dropped: int = 0  # numbers beyond the format's slots (e.g. a fourth number in a 3-slot format)

    @property
    def body(self) -> bytes:
        return self.pages[0]


@dataclass(frozen=True, slots=True)
class FormatSpec:
    id: str
    description: str
    media_type: str
    file_name: str
    render: Callable[[Book, RenderContext], Rendered]
    max_entries: int | None = None  # vendor's record limit (None: none documented)
    max_name: int | None = None  # characters
    page_size: int | None = None  # paged over HTTP (?page=N), files page-numbered
    single_rooted: bool = True  # False: not one XML document by the vendor's definition
    xml: bool = True
    provisioning: str = ""  # the phone-side setting that takes the URL
    charset_negotiable: bool = False  # a UTF-8 page may be re-encoded for the phone's Accept-Charset

    def page_file_name(self, page: int) -> str:
        if page == 1:
            return self.file_name
        stem, dot, ext = self.file_name.rpartition(".")
        return f"{stem}-{page}.{ext}" if dot else f"{self.file_name}-{page}"


@dataclass(slots=True)
class Limiter:
    """Applies one format's entry and name limits; logs once per render what was cut."""

    spec_id: str
    max_entries: int | None
    max_name: int | None
    max_name_bytes: int | None = None
    cut: int = 0
    shortened: int = 0
    reason: str = ""  # what limit cut records, when it is not max_entries (e.g. a size)

    @classmethod
    def for_spec(
        cls,
        spec_id: str,
        default_entries: int | None,
        default_name: int | None,
        ctx: RenderContext,
        *,
        name_bytes: int | None = None,
    ) -> Limiter:
        s = ctx.settings
        return cls(
            spec_id,
            s.max_entries.get(spec_id, default_entries),
            s.max_name_length.get(spec_id, default_name),
            name_bytes,
        )

    def take(self, records: list[R]) -> list[R]:
        if self.max_entries is not None and len(records) > self.max_entries:
            self.cut += len(records) - self.max_entries
            return records[: self.max_entries]
        return records

    def name(self, text: str) -> str:
        if self.max_name is None or len(text) <= self.max_name:
            # the common case, kept cheap: this runs once per record (ASCII: one byte per character)
            if self.max_name_bytes is None or (len(text) <= self.max_name_bytes and text.isascii()):
                return text
        out = truncate(text, self.max_name)
        out = truncate_bytes(out, self.max_name_bytes)
        if out != text:
            self.shortened += 1
        return out

    def record_name(self, base: str, suffix: str) -> str:
        """A name with a label suffix, cut so the suffix survives ("Alice Sm... (Mobile)")."""
        if not suffix:
            return self.name(base)
        full = base + suffix
        cut = self.name(full)
        if cut == full:
            return full
        room_chars = None if self.max_name is None else max(1, self.max_name - len(suffix))
        room_bytes = (
            None if self.max_name_bytes is None else max(1, self.max_name_bytes - len(suffix.encode("utf-8")))
        )
        return truncate_bytes(truncate(base, room_chars), room_bytes) + suffix

    def report(self, rendered: Rendered) -> Rendered:
        rendered.cut += self.cut
        rendered.shortened += self.shortened
        if rendered.cut:
            log.warning(
                "phonebook %s: %d records over the vendor limit of %s were left out",
                self.spec_id,
                rendered.cut,
                self.reason or self.max_entries,
            )
        if rendered.numbers_dropped:
            log.info(
                "phonebook %s: %d numbers did not fit the format's number fields",
                self.spec_id,
                rendered.numbers_dropped,
            )
        if rendered.shortened:
            log.info(
                "phonebook %s: %d names shortened to %s characters",
                self.spec_id,
                rendered.shortened,
                self.max_name if self.max_name_bytes is None else f"{self.max_name_bytes} bytes",
            )
        return rendered


def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


class XmlWriter(Protocol):
    """The part of lxml's incremental writer (``etree.xmlfile``; its stubs leave it untyped) that a
    streamed child uses."""

    def write(self, *args: str | etree._Element, pretty_print: bool = False) -> None: ...
    def element(
        self, tag: str, attrib: dict[str, str] | None = None, **attrs: str
    ) -> AbstractContextManager[None]: ...


def xml_document(
    root: str,
    children: Iterable[Child],
    *,
    attrs: dict[str, str] | None = None,
    wrap: tuple[str, ...] = (),
    sink: BinaryIO | None = None,
) -> bytes:
    """A UTF-8 document: declaration, ``<root>`` (and the ``wrap`` elements nested in it) holding
    ``children``, streamed through libxml2 one child at a time (a 100k book never is one tree).
    A child may also be a function that writes itself through the ``etree.xmlfile`` it is given (a
    big element streamed in parts). With ``sink`` the document is written there and ``b""`` returned."""
    memory = io.BytesIO()
    buf = sink if sink is not None else memory
    buf.write(XML_DECLARATION)
    with (
        etree.xmlfile(buf, encoding="UTF-8") as xf,
        xf.element(root, attrs or {}),
        contextlib.ExitStack() as stack,
    ):
        xf.write("\n")
        for tag in wrap:
            stack.enter_context(xf.element(tag))
            xf.write("\n")
        for child in children:
            if callable(child):
                child(xf)
            else:
                xf.write(child, pretty_print=True)
    buf.write(b"\n")
    return b"" if sink is not None else memory.getvalue()


Shape = tuple[etree._Element, list[etree._Element]]  # a reusable element and its leaves


def element(tag: str, paths: tuple[str, ...], **attrs: str) -> Shape:
    """``<tag>`` with one chain of children per path (``"Name"``, ``"Phone/phonenumber"``), returned with
    the leaf of each chain. Records are serialised as they are yielded, so one element refilled per record
    saves building a tree per entry (a 100k book)."""
    el = etree.Element(tag, attrs)
    leaves = []
    for path in paths:
        node = el
        for part in path.split("/"):
            node = sub(node, part)
        leaves.append(node)
    return el, leaves


def refilled(tag: str, layout: Callable[[int], tuple[str, ...]], **attrs: str) -> Callable[[int], Shape]:
    """Reusable :func:`element` s, one per shape key (e.g. the number count, or a flag), laid out by
    ``layout(key)`` on first use."""
    built: dict[int, Shape] = {}

    def shape(key: int) -> Shape:
        found = built.get(key)
        if found is None:
            found = built[key] = element(tag, layout(key), **attrs)
        return found

    return shape


def fill(leaves: Iterable[etree._Element], values: Iterable[str]) -> None:
    for leaf, value in zip(leaves, values, strict=True):
        leaf.text = value


def render_streamed(
    spec: FormatSpec,
    ctx: RenderContext,
    records: Iterable[R],
    root: str,
    children: Callable[[list[R], Limiter, Rendered], Iterable[Child]],
    *,
    attrs: dict[str, str] | None = None,
    wrap: tuple[str, ...] = (),
    title: bool = False,
    name_bytes: int | None = None,
) -> Rendered:
    """The skeleton of a single-document XML format: the spec's limits applied to ``records``, then
    ``children(kept, limiter, rendered)`` streamed into ``<root>`` (after a ``<Title>`` when ``title``)
    through :func:`xml_document`. ``children`` may add to ``rendered.numbers_dropped`` as it goes."""
    lim = Limiter.for_spec(spec.id, spec.max_entries, spec.max_name, ctx, name_bytes=name_bytes)
    kept = lim.take(list(records))
    out = Rendered([], records=len(kept))
    items: Iterable[Child] = children(kept, lim, out)
    if title:
        items = itertools.chain([_title(ctx)], items)
    out.pages.append(xml_document(root, items, attrs=attrs, wrap=wrap, sink=ctx.sink))
    return lim.report(out)


def _title(ctx: RenderContext) -> etree._Element:
    el = etree.Element("Title")
    el.text = ctx.settings.title
    return el


@dataclass(frozen=True, slots=True)
class Record:
    """One entry with one number, for formats that carry a single number per record."""

    entry: Entry
    label: NumberLabel
    dial: str
    base: str  # the entry name
    suffix: str = ""  # the label suffix for its second and later numbers

    @property
    def name(self) -> str:
        return self.base + self.suffix


def one_per_number(book: Book, ctx: RenderContext) -> list[Record]:
    """The shared rule for one-number formats: the first number under the plain name, each further number
    as its own record named with the label suffix (``Alice Smith (Mobile)``). Computed once per book
    and suffix set (Cisco, Polycom and Snom share it)."""
    suffixes = ctx.settings.label_suffixes.model_dump()  # keyed by label (StrEnum == its value)
    key = ("one_per_number", tuple(sorted(suffixes.items())))
    cached = book.cache.get(key)
    if cached is None:
        cached = [
            Record(e, n.label, n.dial, e.name, "" if i == 0 else suffixes.get(n.label, ""))
            for e in book.entries
            for i, n in enumerate(e.numbers)
        ]
        book.cache[key] = cached
    return cast(list[Record], cached)  # the cache is keyed per computation: this key holds Records


def slots(entry: Entry, count: int = 3) -> list[str]:
    """Numbers for formats with fixed typed slots (office, mobile, other): each label in its own slot,
    extra numbers fill empty slots, anything beyond ``count`` is dropped."""
    out = [""] * count
    order = {NumberLabel.OFFICE: 0, NumberLabel.MOBILE: 1, NumberLabel.OTHER: 2}
    extra: list[str] = []
    for n in entry.numbers:
        i = order.get(n.label, 2)
        if i < count and not out[i]:
            out[i] = n.dial
        else:
            extra.append(n.dial)
    for dial in extra:
        if "" in out:
            out[out.index("")] = dial
    return out


def pages_of(items: list[R], size: int) -> list[list[R]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]
