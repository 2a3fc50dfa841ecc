"""The journal note (an Internal reply, or a new ticket's details) for one answered call.

Stored verbatim as HTML by ITFlow, so every value is escaped here. The call marker
(``pbx-bridge:call=<Linkedid>;kind=journal``) lets the outbox find a note whose answer was lost.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from pbx_bridge.ami.outcome import DETAILS, CallRecord

__all__ = ["JournalNote", "journal_marker", "render_note"]

KIND = "journal"


def journal_marker(linkedid: str) -> str:
    return f"pbx-bridge:call={linkedid};kind={KIND}"


@dataclass(frozen=True, slots=True)
class JournalNote:
    subject: str  # for a new ticket
    details: str
    marker: str


def _duration(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def render_note(
    record: CallRecord,
    *,
    number_display: str,
    who: str,
    technician: str,
    time_worked: str,
    link_base: str | None,
    tz: ZoneInfo,
    subject_max: int = 200,
) -> JournalNote:
    """``who``: the matched client/contact ("ACME Corp - Alice"); ``technician``: "Dana (202)" or "202";
    ``link_base``: ``http.public_url`` when the calls page is on (else no link)."""
    e = html.escape
    inbound = record.direction == "inbound"
    title = "Inbound call" if inbound else "Outbound call"
    number = number_display or (record.caller_num if inbound else record.dialled) or "anonymous"
    party = f"{who} ({number})" if who else number
    subject = f"{title} {'from' if inbound else 'to'} {party}"
    subject = " ".join(subject.replace("<", "\u2039").replace(">", "\u203a").split())[: min(subject_max, 500)]
    rows: list[tuple[str, str]] = [
        ("Direction", "inbound" if inbound else "outbound"),
        ("From" if inbound else "To", party),
        ("Answered by" if inbound else "Called by", technician or "unknown extension"),
        ("Time", _when(record.started, tz)),
        ("Talk time", _duration(record.talk_seconds)),
    ]
    if record.queue:
        rows.append(("Queue", f"{record.queue}, waited {_duration(record.queue_wait_seconds)}"))
    if record.did and inbound:
        rows.append(("Dialled", record.did))
    outcome = "answered"
    if record.detail:
        outcome += f" ({DETAILS.get(record.detail, record.detail)})"
    rows.append(("Outcome", outcome))
    rows.append(("Time worked", time_worked))
    marker = journal_marker(record.linkedid)
    items = "".join(f"<li><b>{e(k)}:</b> {e(v)}</li>" for k, v in rows)
    link = ""
    if link_base:
        url = f"{link_base.rstrip('/')}/calls/{quote(record.linkedid, safe='')}"
        link = f'<p><a href="{e(url, quote=True)}">This call on the calls page</a></p>'
    details = f"<p><b>{e(title)}</b></p><ul>{items}</ul>{link}<p><small>{e(marker)}</small></p>"
    return JournalNote(subject=subject, details=details, marker=marker)


def _when(when: datetime | None, tz: ZoneInfo) -> str:
    return "unknown" if when is None else when.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")
