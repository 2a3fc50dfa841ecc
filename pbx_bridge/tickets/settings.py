"""Config section ``tickets`` (policy only; ticketing runs whenever the AMI listener does)."""

from __future__ import annotations

from pydantic import Field

from pbx_bridge.settings_base import Section


class TicketsSettings(Section):
    missed: bool = True
    voicemail: bool = True
    repeat_window: float = Field(default=24 * 3600.0, ge=0)
