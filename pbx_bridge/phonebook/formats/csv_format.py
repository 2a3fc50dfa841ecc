"""Plain CSV (RFC 4180 quoting, UTF-8 without BOM): a header row and one row per entry, one column per
number type. Text cells that a spreadsheet would evaluate are neutralised; number cells hold only dial
characters (:mod:`csv_cells`). Every cell is quoted, as OWASP advises for CSV exports (a quoted number
is still a number to a spreadsheet)."""

from __future__ import annotations

import csv
import io

from pbx_bridge.phonebook.entries import Book
from pbx_bridge.phonebook.formats.base import FormatSpec, Limiter, RenderContext, Rendered, slots
from pbx_bridge.phonebook.formats.csv_cells import number_cell, text_cell

ID = "csv"
_CHUNK = 2000  # rows per write when streaming into ctx.sink
HEADER = [
    "name",
    "first_name",
    "last_name",
    "organization",
    "group",
    "kind",
    "office",
    "mobile",
    "other",
    "email",
]


def render(book: Book, ctx: RenderContext) -> Rendered:
    lim = Limiter.for_spec(ID, SPEC.max_entries, SPEC.max_name, ctx)
    entries = lim.take(list(book.entries))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    w.writerow(HEADER)
    dropped = 0
    for i, e in enumerate(entries, start=1):
        numbers = [number_cell(n) for n in slots(e, 3)]
        dropped += max(0, len(e.numbers) - 3) + numbers.count(None)
        w.writerow(
            [
                text_cell(lim.name(e.name)),
                text_cell(e.first_name),
                text_cell(e.last_name),
                text_cell(e.organization),
                text_cell(e.group),
                str(e.kind),
                *(n or "" for n in numbers),
                text_cell(e.email),
            ]
        )
        if ctx.sink is not None and i % _CHUNK == 0:  # streamed: the text never holds the whole book
            ctx.sink.write(buf.getvalue().encode("utf-8"))
            buf.seek(0)
            buf.truncate()
    body = buf.getvalue().encode("utf-8")
    if ctx.sink is not None:
        ctx.sink.write(body)
        body = b""
    return lim.report(Rendered([body], records=len(entries), numbers_dropped=dropped))


SPEC = FormatSpec(
    id=ID,
    description="CSV, one row per entry (UTF-8)",
    media_type="text/csv; charset=utf-8",
    file_name="phonebook.csv",
    render=render,
    xml=False,
    provisioning="spreadsheet / generic import",
)
