"""Config section ``tickets`` (policy only; ticketing runs whenever the AMI listener does)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from pbx_bridge.settings_base import Section

Action = Literal["ticket", "none"]
_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class OutcomeActions(Section):
    """What each call outcome does (the issue's table; every row configurable)."""

    answered: Action = "none"
    missed: Action = "ticket"
    busy: Action = "ticket"
    unavailable: Action = "ticket"
    voicemail_no_message: Action = "ticket"
    voicemail: Action = "ticket"
    abandoned: Action = "ticket"
    internal: Action = "none"
    application: Action = "none"
    lost: Action = "none"


class BusinessHours(Section):
    """Calls outside these hours get ``outside`` as their action. Off by default."""

    enabled: bool = False
    timezone: str = "UTC"
    # weekday -> list of "HH:MM-HH:MM"; a weekday not listed is closed all day
    weekly: dict[str, list[str]] = Field(
        default_factory=lambda: {d: ["08:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    )
    holidays: list[date] = Field(default_factory=list)
    outside: Action = "none"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (an IANA name such as Europe/Berlin)") from None
        return v

    @field_validator("weekly")
    @classmethod
    def _weekly(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, ranges in v.items():
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not a weekday ({', '.join(WEEKDAYS)})")
            for r in ranges:
                m = _RANGE.match(r)
                if not m or (m[1], m[2]) >= (m[3], m[4]):
                    raise ValueError(f"{day}: {r!r} is not a range HH:MM-HH:MM with start < end")
        return v


class TicketOwner(Section):
    """Who owns the calls to a DID, ring group or queue: their missed-call and voicemail tickets are
    assigned to them (``ticket_assigned_to``). Matches when any listed value matches."""

    dids: list[str] = Field(default_factory=list)  # the DID, or the number dialled (a ring group's)
    queues: list[str] = Field(default_factory=list)
    # The owner: a technician's name (technicians:, their itflow_user_id) or an ITFlow user id.
    technician: str | None = Field(default=None, min_length=1)
    user_id: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_owner(self) -> TicketOwner:
        if (self.technician is None) == (self.user_id is None):
            raise ValueError("name the owner by technician or by user_id (exactly one)")
        if not (self.dids or self.queues):
            raise ValueError("list the dids or queues this owner takes")
        return self


class TicketsSettings(Section):
    # Shorthands: false turns off every missed-type row (missed, busy, unavailable, no message,
    # abandoned) / the voicemail row, whatever ``outcomes`` says.
    missed: bool = True
    voicemail: bool = True
    outcomes: OutcomeActions = Field(default_factory=OutcomeActions)
    # Which calls count as inbound. All empty (default): every call whose caller is not an internal
    # extension. Otherwise a call counts when its first context, its DID or its queue is listed.
    inbound_contexts: list[str] = Field(default_factory=list)
    inbound_dids: list[str] = Field(default_factory=list)
    inbound_queues: list[str] = Field(default_factory=list)
    min_ring_seconds: float = Field(default=0.0, ge=0, description="missed calls that rang less: no ticket")
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    # Callers the directory does not know: "ticket" (with unknown_client_id) or "skip".
    unknown_callers: Literal["ticket", "skip"] = "ticket"
    unknown_client_id: int = Field(default=0, ge=0, description="0: a ticket without a client")
    # When ITFlow answers 403 "no access to the target client", retry the ticket for this client
    # (null: dead-letter it).
    fallback_client_id: int | None = Field(default=None, ge=1)
    # Repeat callers: while a ticket we opened for the same number/contact is open and younger than
    # this (seconds), a new outcome is a reply on it (v26.08+) or a new ticket naming it (older).
    repeat_window: float = Field(default=24 * 3600.0, ge=0)
    repeat_callers: bool = True
    # Sent with every ticket (ITFlow's API default is not relied on): Low, Medium or High in the UI.
    priority: str = Field(default="Medium", min_length=1)
    # An ITFlow user id to assign new tickets to (null: unassigned). From 26.09.3 ITFlow then stores
    # the ticket as Open (2) instead of New (1).
    assigned_to: int | None = Field(default=None, ge=1)
    # Per DID / ring group / queue owner: the first matching entry assigns the ticket (else
    # assigned_to). docs/tickets.md, "Who gets the ticket".
    owners: list[TicketOwner] = Field(default_factory=list)
    subject_max: int = Field(default=200, ge=20, le=500)
    # Outbox delivery.
    retry_first: float = Field(default=5.0, gt=0, description="seconds before the first retry")
    retry_max: float = Field(default=600.0, gt=0, description="longest wait between retries")
    dead_letter_after: float = Field(
        default=3 * 86400.0, gt=0, description="ITFlow 5xx for this long: dead-letter the ticket"
    )
    held_probe_interval: float = Field(
        default=60.0, gt=0, description="while the key is rejected, try again this often"
    )
    reconcile_window: int = Field(
        default=200, ge=10, le=5000, description="tickets per page of the search for the call marker"
    )
    # A create whose outcome is unknown (timeout, cut connection, 502/504) is searched for only this
    # long after it was sent: a slow ITFlow may still commit it (PHP runs on after we gave up).
    reconcile_after: float = Field(
        default=30.0, ge=0, description="seconds after an unknown-outcome send before searching"
    )


class VoicemailSettings(Section):
    """Config section ``voicemail`` (the key name ``voicemail.spool_root`` is relied on by other tools)."""

    # Where voicemail msgNNNN.txt files are read (pbx-bridge needs group read access: the asterisk
    # group). A missing file only leaves the recording details out of the ticket (FreePBX may delete
    # messages after mailing them).
    spool_root: Path = Path("/var/spool/asterisk/voicemail")
    # A link to the message audio in its ticket, served by the daemon on http.public_url (signed,
    # expiring; docs/tickets.md, "Voicemail audio links"). Needs http.public_url.
    audio_links: bool = True
    link_days: float = Field(default=30.0, gt=0, le=3650, description="days a voicemail link stays valid")
