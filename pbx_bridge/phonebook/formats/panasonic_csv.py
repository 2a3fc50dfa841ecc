"""Panasonic local phonebook import (KX-UTG and similar): CSV in UTF-16LE with a byte-order mark, at most
1000 records, name at most 24 characters, up to five numbers of at most 32 digits each
(docs/phonebook.md). Columns: record ID, name, number 1..5 (no header row: the phone would import
it as a contact). The name cell is neutralised for spreadsheets, numbers hold only dial characters
(:mod:`csv_cells`)."""

from __future__ import annotations

import csv
import io

from pbx_bridge.phonebook.entries import Book
from pbx_bridge.phonebook.formats.base import FormatSpec, Limiter, RenderContext, Rendered
from pbx_bridge.phonebook.formats.csv_cells import number_cell, text_cell
from pbx_bridge.phonebook.text import truncate

ID = "panasonic-csv"
NUMBERS = 5
MAX_DIGITS = 32


def render(book: Book, ctx: RenderContext) -> Rendered:
    lim = Limiter.for_spec(ID, SPEC.max_entries, SPEC.max_name, ctx)
    entries = lim.take(list(book.entries))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    dropped = 0
    for rid, e in enumerate(entries, start=1):
        nums = [
            n.dial
            for n in e.numbers
            if len(n.dial.lstrip("+")) <= MAX_DIGITS and number_cell(n.dial) is not None
        ]
        dropped += len(e.numbers) - min(len(nums), NUMBERS)
        nums = (nums + [""] * NUMBERS)[:NUMBERS]
        # the quote prefixes count against the 24 characters the phone keeps (bounded: one per step)
        full = lim.name(e.name)
        name, budget = text_cell(full), len(full)
        while lim.max_name is not None and len(name) > lim.max_name and budget > 1:
            budget -= 1
            name = text_cell(truncate(full, budget))
        w.writerow([str(rid), name, *nums])
    body = b"\xff\xfe" + buf.getvalue().encode("utf-16-le")
    return lim.report(Rendered([body], records=len(entries), numbers_dropped=dropped))


SPEC = FormatSpec(
    id=ID,
    description="Panasonic phonebook CSV import (UTF-16LE with BOM)",
    media_type="text/csv; charset=utf-16",
    file_name="panasonic-phonebook.csv",
    render=render,
    max_entries=1000,
    max_name=24,
    xml=False,
    provisioning="web UI: phonebook import",
)
