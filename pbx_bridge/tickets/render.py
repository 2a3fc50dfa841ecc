"""Ticket subject and HTML details for a call, plus the voicemail spool reader.

ITFlow strips anything in angle brackets from a subject and answers HTTP 500 for one over 500
characters, so the subject is shaped (brackets replaced, control characters removed) and cut before it
is sent. Details are stored verbatim as HTML: every value is escaped here. The call marker
(``pbx-bridge:call=<Linkedid>;kind=<kind>``) lets the worker find a ticket whose creation answer was lost.
"""

from __future__ import annotations

import configparser
import html
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from pbx_bridge.ami.outcome import DETAILS, CallRecord, Outcome

__all__ = [
    "TicketDraft",
    "VoicemailInfo",
    "call_marker",
    "describe_detail",
    "read_voicemail",
    "render_ticket",
    "shape_subject",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_WHAT = {
    Outcome.MISSED: ("Missed call", "the caller hung up while ringing, or nobody answered"),
    Outcome.BUSY: ("Missed call", "busy, no voicemail"),
    Outcome.UNAVAILABLE: ("Missed call", "unavailable, no voicemail"),
    Outcome.VOICEMAIL_NO_MESSAGE: ("Missed call", "reached voicemail, no message left"),
    Outcome.ABANDONED: ("Abandoned call", "the caller left the queue before anyone answered"),
    Outcome.VOICEMAIL: ("Voicemail", "the caller left a voicemail message"),
}


def call_marker(linkedid: str, kind: str) -> str:
    return f"pbx-bridge:call={linkedid};kind={kind}"


@dataclass(frozen=True, slots=True)
class VoicemailInfo:
    mailbox: str = ""
    msg: str = ""
    duration: int | None = None
    callerid: str = ""
    origtime: int | None = None
    file_found: bool = False
    msg_id: str = ""  # the message's own id (msg_id=): stays when Asterisk renumbers msgNNNN
    box: str = ""  # "202@default" as found in the spool path (context from the path)


@dataclass(frozen=True, slots=True)
class TicketDraft:
    subject: str
    details: str
    client_id: int
    contact_id: int
    priority: str
    marker: str


def shape_subject(text: str, limit: int) -> str:
    """No angle brackets (ITFlow would strip them and what is between), no control characters, and
    not longer than ``limit`` once HTML-escaped (ITFlow escapes before storing in varchar 500)."""
    text = _CONTROL.sub(" ", text).replace("<", "\u2039").replace(">", "\u203a")
    text = " ".join(text.split())
    limit = min(limit, 500)
    if len(html.escape(text, quote=True)) <= limit:
        return text
    cut = text[:limit]
    while cut and len(html.escape(cut + "\u2026", quote=True)) > limit:  # at most `limit` steps
        cut = cut[:-1]
    return cut.rstrip() + "\u2026"


def read_voicemail(spool_root: Path, record: CallRecord) -> VoicemailInfo:
    """Voicemail details from the spool's ``msgNNNN.txt`` when readable; from the events otherwise."""
    info = VoicemailInfo(mailbox=record.mailbox, msg=record.voicemail_msg)
    if not record.voicemail_path:
        return info
    # VM_MESSAGEFILE is the PBX's absolute path; keep the part below ".../voicemail/".
    parts = PurePosixPath(record.voicemail_path).parts
    rel = parts[parts.index("voicemail") + 1 :] if "voicemail" in parts else parts[-4:]
    path = spool_root.joinpath(*rel).with_suffix(".txt")
    box = f"{rel[1]}@{rel[0]}" if len(rel) == 4 else ""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return info  # FreePBX may delete messages after mailing them: ticket anyway
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        cp.read_string(text)
        sec = cp["message"]
    except (configparser.Error, KeyError):
        return info

    def num(key: str) -> int | None:
        try:
            return int(sec.get(key, ""))
        except ValueError:
            return None

    return VoicemailInfo(
        mailbox=info.mailbox or sec.get("origmailbox", ""),
        msg=info.msg,
        duration=num("duration"),
        callerid=sec.get("callerid", ""),
        origtime=num("origtime"),
        file_found=True,
        msg_id=sec.get("msg_id", "").strip(),
        box=box,
    )


def describe_detail(record: CallRecord) -> str:
    """The finer outcome in words, with the codes the PBX gave ("busy (SIP 486, cause 17)")."""
    codes = [f"SIP {record.tech_cause}"] if record.tech_cause else []
    if record.hangup_cause:
        codes.append(f"cause {record.hangup_cause}")
    text = DETAILS.get(record.detail, record.detail)
    return f"{text} ({', '.join(codes)})" if codes else text


def _fmt_time(when: datetime | None, tz: ZoneInfo) -> str:
    if when is None:
        return "unknown"
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def render_ticket(
    record: CallRecord,
    *,
    kind: str,
    number_display: str,
    client_id: int,
    contact_id: int,
    client_name: str = "",
    contact_name: str = "",
    voicemail: VoicemailInfo | None = None,
    tz: ZoneInfo | None = None,
    priority: str = "Medium",
    subject_max: int = 200,
    audio_link: tuple[str, datetime] | None = None,
) -> TicketDraft:
    tz = tz or ZoneInfo("UTC")
    title, why = _WHAT.get(record.outcome, ("Call", record.outcome.value))
    who_name = " - ".join(p for p in (client_name, contact_name) if p)
    if who_name and number_display:
        who = f"{who_name} ({number_display})"
    else:
        who = who_name or number_display or "an anonymous caller"
    subject = shape_subject(f"{title} from {who}", subject_max)

    e = html.escape
    rows: list[tuple[str, str]] = [
        ("Time", _fmt_time(record.started, tz)),
        ("Duration", f"{record.duration_seconds:.0f} s"),
        ("Rang", f"{record.ring_seconds:.0f} s"),
        (
            "Caller",
            " ".join(p for p in (record.caller_name, number_display or record.caller_num) if p)
            or "anonymous",
        ),
    ]
    if record.detail:
        rows.append(("Outcome", describe_detail(record)))
    if record.did:
        rows.append(("Dialled", record.did))
    if record.queue:
        rows.append(("Queue", record.queue))
    if client_name or contact_name:
        rows.append(("Matched", who_name))
    else:
        rows.append(("Matched", "not in ITFlow"))
    if voicemail is not None and (voicemail.mailbox or record.mailbox):
        rows.append(("Mailbox", voicemail.mailbox or record.mailbox))
        if voicemail.msg:
            rows.append(("Message", voicemail.msg))
        if voicemail.duration is not None:
            rows.append(("Recording", f"{voicemail.duration} s"))
        if not voicemail.file_found and record.outcome is Outcome.VOICEMAIL:
            rows.append(("Recording", "details not readable in the voicemail spool"))
    elif record.mailbox:
        rows.append(("Mailbox", record.mailbox))
    marker = call_marker(record.linkedid, kind)
    items = "".join(f"<li><b>{e(k)}:</b> {e(v)}</li>" for k, v in rows)
    if audio_link is not None:
        url, until = audio_link
        items += (
            f'<li><b>Listen:</b> <a href="{e(url, quote=True)}">the message (WAV)</a>, '
            f"link valid until {e(_fmt_time(until, tz))}</li>"
        )
    details = f"<p><b>{e(title)}</b> ({e(why)})</p><ul>{items}</ul><p><small>{e(marker)}</small></p>"
    return TicketDraft(
        subject=subject,
        details=details,
        client_id=client_id,
        contact_id=contact_id,
        priority=priority,
        marker=marker,
    )
