"""Talk time -> ITFlow's ``ticket_reply_time_worked`` (``H:MM:SS``, docs/itflow-api.md; the simulator
and ITFlow store anything else as 0:00:00)."""

from __future__ import annotations

import math

from pbx_bridge.journal.settings import Rounding

__all__ = ["format_hms", "time_worked"]


def time_worked(talk_seconds: float, rounding: Rounding) -> int:
    """Seconds to bill: 0 when rounding is off; else exact, up or to the nearest step, never below
    the minimum."""
    if rounding.mode == "off":
        return 0
    seconds = max(0, math.ceil(talk_seconds))
    step = rounding.minutes * 60
    if rounding.mode == "up":
        seconds = math.ceil(seconds / step) * step
    elif rounding.mode == "nearest":
        seconds = max(step, math.floor(seconds / step + 0.5) * step) if seconds else 0
    return max(seconds, rounding.minimum_minutes * 60)


def format_hms(seconds: int) -> str:
    """``H:MM:SS`` (hours unpadded, as ITFlow's own time fields)."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
