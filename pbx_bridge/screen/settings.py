"""The ``screen`` section: the technicians' live calls page (docs/screen.md), off by default."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from pbx_bridge.allow import networks
from pbx_bridge.screen.links import Layout
from pbx_bridge.settings_base import Section

__all__ = ["DialSettings", "ScreenSettings"]


def _regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
    return value


class DialSettings(Section):
    """Click-to-dial: an AMI ``Originate`` rings the technician's own extension, then the number."""

    enabled: bool = True
    # The context the technician's extension is rung through (Local/<ext>@<this>) and the one the
    # number is dialled in (Exten=<digits>, Context=<this>). FreePBX: from-internal.
    extension_context: str = Field(default="from-internal", pattern=r"^[A-Za-z0-9_-]{1,80}$")
    context: str = Field(default="from-internal", pattern=r"^[A-Za-z0-9_-]{1,80}$")
    # Seconds the technician's phone rings before the attempt is given up.
    ring_timeout: float = Field(default=30.0, ge=5, le=300)
    # Calls one technician may start per minute (a stuck key or a script cannot dial in a loop).
    per_minute: int = Field(default=6, ge=1, le=120)
    # Optional patterns on the digits to dial (after normalisation): allow must match, deny must not.
    # e.g. deny: "^1?900" (no premium numbers in North America).
    allow_pattern: str | None = None
    deny_pattern: str | None = None

    @field_validator("allow_pattern", "deny_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        return _regex(value)


class ScreenSettings(Section):
    enabled: bool = False
    # Who may reach the page (CIDR), on the plain and the TLS listener; e.g. the office LAN.
    allow: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    # ITFlow's web address as the technicians' browsers reach it (null: itflow.url).
    itflow_web_url: str | None = Field(default=None, pattern=r"^https?://")
    # The page layout of the ITFlow release links point into (docs/screen.md, "Links"): "agent"
    # (v26.08 on), "agent-2025" (v25.10 ... v26.07), "user" (v25.09), "root" (v25.02 ... v25.06),
    # "legacy" (before v25.02).
    itflow_ui: Layout = "agent"
    # A signed-in session ends after this many hours (and after idle_minutes without a request).
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    idle_minutes: float = Field(default=120.0, gt=0, le=24 * 60)
    # Recent calls kept on the page (ended calls, newest first).
    recent_calls: int = Field(default=30, ge=1, le=500)
    # A client's open tickets are read over the API at most once per this many seconds.
    tickets_cache_seconds: float = Field(default=60.0, ge=0, le=3600)
    # Failed sign-ins allowed per user name within 15 minutes (per address: five times as many).
    login_attempts: int = Field(default=10, ge=1, le=1000)
    dial: DialSettings = Field(default_factory=DialSettings)

    @field_validator("allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        networks(value)  # ValueError names the item that is no network
        return value

    @model_validator(mode="after")
    def _url(self) -> ScreenSettings:
        if self.itflow_web_url is not None and self.itflow_web_url != self.itflow_web_url.strip():
            raise ValueError("itflow_web_url: no spaces")
        return self
