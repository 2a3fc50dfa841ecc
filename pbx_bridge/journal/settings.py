"""Config section ``journal`` (config.example.yaml, ``journal:``; docs/tickets.md, "The call journal").

Off by default. A call is journaled by the first rule that matches it (direction, DID, queue, client),
else by ``action``; every rule may set its own ``min_talk_seconds``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from pbx_bridge.settings_base import Section

__all__ = ["JournalAction", "JournalRule", "JournalSettings", "Rounding"]

# note: an Internal reply on the open ticket, nothing when there is none; note-or-ticket: the reply,
# else a new ticket; ticket: always a new ticket; none: not journaled.
JournalAction = Literal["note", "note-or-ticket", "ticket", "none"]


class Rounding(Section):
    """Talk time -> ``ticket_reply_time_worked``. ``off`` (default) sends 0:00:00: nothing billed."""

    mode: Literal["off", "exact", "up", "nearest"] = "off"
    # The step for ``up``/``nearest`` (15: a 2-minute call is billed 0:15:00 with ``up``).
    minutes: int = Field(default=15, ge=1, le=480)
    # Never bill less than this (minutes) once the call is journaled; 0: no minimum.
    minimum_minutes: int = Field(default=0, ge=0, le=480)

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_off(cls, v: object) -> object:
        return "off" if v is False else v  # YAML 1.1 reads a bare `off` as false


class JournalRule(Section):
    """Matches when every criterion given matches (an empty list matches anything)."""

    direction: Literal["inbound", "outbound", "any"] = "any"
    dids: list[str] = Field(default_factory=list)
    queues: list[str] = Field(default_factory=list)
    clients: list[int] = Field(default_factory=list)  # ITFlow client ids of the matched caller
    action: JournalAction = "note"
    min_talk_seconds: float | None = Field(default=None, ge=0)


class JournalSettings(Section):
    enabled: bool = False
    # What a call no rule matches gets.
    action: JournalAction = "note"
    rules: list[JournalRule] = Field(default_factory=list)
    # Shorter calls are not journaled (a wrong number, a hang-up on answer).
    min_talk_seconds: float = Field(default=10.0, ge=0)
    rounding: Rounding = Field(default_factory=Rounding)
    # Calls from numbers ITFlow does not know: skip, or a ticket for unknown_client_id (action
    # ticket/note-or-ticket only: there is no open ticket to note on).
    unknown_callers: Literal["skip", "ticket"] = "skip"
    unknown_client_id: int = Field(default=0, ge=0)
    # Link each note to the call on the live calls page, {http.public_url}/calls/{linkedid}: only when
    # that page is enabled on this daemon (it needs http.public_url).
    link_calls_page: bool = False
    priority: str = Field(default="Low", min_length=1)  # of tickets the journal opens
    # Tickets the journal opens are assigned (ticket_assigned_to) to the technician who took the call
    # when their itflow_user_id is known (technicians:), else left unassigned.
    assign_to_technician: bool = True
    subject_max: int = Field(default=200, ge=20, le=500)
