"""Config section ``balance`` (IVR balance lookup)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pbx_bridge.settings_base import Section


class BalanceSettings(Section):
    enabled: bool = True
    verification: Literal["callerid", "pin", "both"] = "callerid"
    default_currency: str = "USD"
    max_attempts: int = Field(default=3, ge=1, le=10)
