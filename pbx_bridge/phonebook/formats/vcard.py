"""vCard 3.0 (RFC 2426) for softphones: one card per entry, ``FN``/``N``/``ORG``/``TEL;TYPE=``/``CATEGORIES``,
text values escaped, lines folded at 75 octets (CRLF + space) without splitting a UTF-8 sequence."""

from __future__ import annotations

from pbx_bridge.directory.model import NumberLabel
from pbx_bridge.phonebook.entries import Book, Entry
from pbx_bridge.phonebook.formats.base import FormatSpec, Limiter, RenderContext, Rendered

ID = "vcard"
FOLD = 75
TEL_TYPE = {NumberLabel.OFFICE: "WORK,VOICE", NumberLabel.MOBILE: "CELL,VOICE", NumberLabel.OTHER: "VOICE"}


def escape(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> bytes:
    """``line`` as UTF-8, folded so no physical line exceeds 75 octets (continuations start with a space)."""
    data = line.encode("utf-8")
    if len(data) <= FOLD:
        return data + b"\r\n"
    out = bytearray()
    limit = FOLD
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # never cut inside a UTF-8 sequence
            end -= 1
        if out:
            out += b" "
        out += data[start:end] + b"\r\n"
        start = end
        limit = FOLD - 1  # the leading space counts
    return bytes(out)


def card(e: Entry) -> bytes:
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"UID:pbx-bridge-{escape(e.key)}",
        f"FN:{escape(e.name)}",
        f"N:{escape(e.last_name)};{escape(e.first_name)};;;",
    ]
    if e.organization:
        lines.append(f"ORG:{escape(e.organization)}")
    if e.title:
        lines.append(f"TITLE:{escape(e.title)}")
    for n in e.numbers:
        lines.append(f"TEL;TYPE={TEL_TYPE.get(n.label, 'VOICE')}:{n.dial}")
    if e.email:
        lines.append(f"EMAIL;TYPE=INTERNET:{escape(e.email)}")
    lines.append(f"CATEGORIES:{escape(e.group)}")
    lines.append("END:VCARD")
    return b"".join(fold(line) for line in lines)


def render(book: Book, ctx: RenderContext) -> Rendered:
    lim = Limiter.for_spec(ID, SPEC.max_entries, SPEC.max_name, ctx)
    entries = lim.take(list(book.entries))
    if ctx.sink is not None:  # streamed card by card into the publisher's file
        for e in entries:
            ctx.sink.write(card(e))
        body = b""
    else:
        body = b"".join(card(e) for e in entries)
    return lim.report(Rendered([body], records=len(entries)))


SPEC = FormatSpec(
    id=ID,
    description="vCard 3.0 address book (softphones, contact import)",
    media_type="text/vcard; charset=utf-8",
    file_name="phonebook.vcf",
    render=render,
    xml=False,
    provisioning="softphone contact import / remote address book URL",
)
