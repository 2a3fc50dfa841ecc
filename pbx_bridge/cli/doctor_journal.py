"""``check`` lines for the call journal, the technicians and the shape of the voicemail spool.

Nothing here writes to ITFlow. A technician's key is probed as the daemon's is: one read (is the key
accepted?) and a GET to ``ticket_replies/create``, which RBAC refuses (403) or the method check stops
(405: allowed). ITFlow's API lists no users, so a mapped ``itflow_user_id`` is confirmed through
``technicians/time`` (it names every user who logged time this month or last); one that has not is
reported as not confirmable, never as wrong.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Literal

from pbx_bridge.itflow.capabilities import Capabilities
from pbx_bridge.itflow.errors import (
    AuthError,
    ItflowError,
    MethodNotAllowed,
    NotAvailable,
    PermissionDenied,
)
from pbx_bridge.itflow.v1 import V1Client
from pbx_bridge.journal.availability import journal_availability
from pbx_bridge.settings import Settings
from pbx_bridge.technicians import Technician

__all__ = ["journal_checks", "spool_shape"]

Level = Literal["ok", "warn", "info", "fail"]
Line = tuple[Level, str, str, str]  # level, name, detail, hint


async def journal_checks(settings: Settings, caps: Capabilities, v1: V1Client | None) -> list[Line]:
    out: list[Line] = []
    js = settings.journal
    if not js.enabled:
        out.append(("info", "journal", "off (journal.enabled: false)", ""))
    elif settings.ami is None:
        out.append(
            ("warn", "journal", "enabled, but it follows calls through AMI: no ami section", "add ami:")
        )
    else:
        state, why = journal_availability(caps)
        if state == "yes":
            out.append(("ok", "journal", f"answered calls are journaled: {why}", ""))
        else:
            out.append(("warn", "journal", why, "ITFlow v26.08 or newer with a v1 key"))
        if js.link_calls_page and not settings.http.public_url:
            out.append(
                (
                    "warn",
                    "journal link",
                    "journal.link_calls_page needs http.public_url: notes carry no link",
                    "set http.public_url",
                )
            )
    if not settings.technicians.people:
        return out
    known = await _users_with_time(v1) if v1 is not None and caps.tickets == "v1" else None
    for person in settings.technicians.people:
        out.extend(await _technician(settings, person, known))
    return out


async def _users_with_time(v1: V1Client) -> dict[int, str] | None:
    """user id -> name of everyone who logged time this month or last; None when unreadable."""
    now = time.gmtime()
    months = [(now.tm_year, now.tm_mon), (now.tm_year - (now.tm_mon == 1), (now.tm_mon - 2) % 12 + 1)]
    names: dict[int, str] = {}
    try:
        for year, month in months:
            async for row in v1.iter_rows("technicians", "time", year=year, month=month):
                try:
                    names[int(row.get("technician_id") or 0)] = row.get("technician") or ""
                except ValueError:
                    continue
    except ItflowError:
        return None
    return names


async def _technician(settings: Settings, person: Technician, known: dict[int, str] | None) -> list[Line]:
    name = f"technician {person.name}"
    out: list[Line] = []
    if person.itflow_user_id is None:
        out.append(("info", name, "no itflow_user_id: their calls' tickets are not assigned", ""))
    elif known is not None and person.itflow_user_id in known:
        out.append(
            ("ok", name, f"ITFlow user {person.itflow_user_id} is {known[person.itflow_user_id]!r}", "")
        )
    else:
        out.append(
            (
                "info",
                name,
                f"ITFlow user {person.itflow_user_id}: not confirmable (ITFlow's API lists no users; it "
                "names those who logged time this month or last)",
                "",
            )
        )
    if person.api_key_file is None:
        out.append(("info", name, "no api_key_file: notes are credited to the daemon key's user", ""))
        return out
    path = person.api_key_file
    try:
        mode = path.stat().st_mode
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        return [
            *out,
            ("fail", name, f"api_key_file {path}: {exc.strerror}", "make it readable by the service"),
        ]
    if mode & (stat.S_IRWXO):
        out.append(("warn", name, f"api_key_file {path} is readable by others", f"chmod 600 {path}"))
    if not key:
        return [
            *out,
            ("fail", name, f"api_key_file {path} is empty", "put the technician's ITFlow key in it"),
        ]
    it = settings.itflow
    async with V1Client(it.url, key, timeout=it.timeout, verify_tls=it.verify_tls) as client:
        try:
            rows = (await client.tickets_read(limit=1)).rows
        except AuthError as exc:
            return [
                *out,
                ("fail", name, f"ITFlow refuses their key: {exc}", "create a new key for that user"),
            ]
        except PermissionDenied as exc:
            return [
                *out,
                (
                    "fail",
                    name,
                    f"their key may not read tickets: {exc.message}",
                    "give the user a role that reads tickets",
                ),
            ]
        except ItflowError as exc:
            return [*out, ("warn", name, f"their key could not be checked: {exc}", "")]
        # A restricted user may not write client 0: probe for a client the key sees (docs/itflow-api.md §2.3).
        seen = int(rows[0].get("ticket_client_id") or 0) if rows else 0
        try:
            await client.call("ticket_replies", "create", method="GET", client_id=seen)
        except MethodNotAllowed:
            out.append(("ok", name, f"own key accepted, may write ticket replies ({path})", ""))
        except PermissionDenied as exc:
            out.append(
                (
                    "fail",
                    name,
                    f"their key may not write replies: {exc.message}",
                    "give the user the Technician role",
                )
            )
        except NotAvailable:
            out.append(
                ("warn", name, "ticket_replies/create missing (ITFlow before v26.08)", "upgrade ITFlow")
            )
        except ItflowError as exc:
            out.append(("warn", name, f"reply permission not checkable: {exc}", ""))
        else:
            out.append(("info", name, "ticket_replies/create answered a GET; not checkable", ""))
    return out


def spool_shape(root: Path) -> Line | None:
    """A readable spool that is not Asterisk's voicemail spool (``<context>/<mailbox>/INBOX``): the
    tickets then say "details not readable" and voicemail links cannot find the audio."""
    try:
        children = [p for p in root.iterdir() if p.is_dir()]
    except OSError:
        return None
    names = {p.name for p in children}
    hint = "set voicemail.spool_root to the directory holding the voicemail contexts (default/ ...)"
    if "voicemail" in names:
        return ("fail", "voicemail spool", f"{root} holds voicemail/: one level too high", hint)
    if names & {"INBOX", "Old", "Urgent"}:
        return ("fail", "voicemail spool", f"{root} is a mailbox, not the spool root", hint)
    if any((c / "INBOX").is_dir() for c in children):
        return ("fail", "voicemail spool", f"{root} is a voicemail context, not the spool root", hint)
    contexts = [c for c in children if any((m / "INBOX").is_dir() for m in _dirs(c))]
    if children and not contexts and os.access(root, os.R_OK):
        return ("warn", "voicemail spool", f"{root}: no <context>/<mailbox>/INBOX in it yet", hint)
    return None


def _dirs(path: Path) -> list[Path]:
    try:
        return [p for p in path.iterdir() if p.is_dir()]
    except OSError:
        return []
