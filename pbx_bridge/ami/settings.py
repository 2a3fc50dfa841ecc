"""Config section ``ami`` (owned by the AMI listener)."""

from __future__ import annotations

from pydantic import Field

from pbx_bridge.settings_base import Section


class AmiSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str
    secret: str = Field(repr=False)
    # A Ping every ping_interval s must be answered within ping_timeout s, else the connection is
    # treated as dead (half-open) and re-established.
    ping_interval: float = Field(default=10.0, gt=0)
    ping_timeout: float = Field(default=5.0, gt=0)
    # Longest wait between reconnect attempts (exponential backoff with jitter up to this).
    reconnect_max: float = Field(default=30.0, gt=0)
    # seconds after the last Hangup before a call is final
    grace: float = Field(default=3.0, ge=0)
    # A call with no event for this long lost its Hangups: ended as "lost", never guessed.
    max_call_age: float = Field(default=4 * 3600.0, gt=0)
    # At most this many calls are tracked at once (memory bound); beyond it the idlest are ended as lost.
    max_calls: int = Field(default=20000, ge=10)
