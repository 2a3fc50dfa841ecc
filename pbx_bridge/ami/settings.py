"""Config section ``ami`` (owned by the AMI listener)."""

from __future__ import annotations

from pydantic import Field

from pbx_bridge.settings_base import Section


class AmiSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str
    secret: str = Field(repr=False)
    ping_interval: float = Field(default=10.0, gt=0)
    ping_timeout: float = Field(default=5.0, gt=0)
    reconnect_max: float = Field(default=30.0, gt=0)
    # seconds after the last Hangup before a call is final
    grace: float = Field(default=3.0, ge=0)
    max_call_age: float = Field(default=4 * 3600.0, gt=0)
