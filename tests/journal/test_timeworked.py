"""Talk time -> ticket_reply_time_worked (H:MM:SS): off by default bills nothing."""

from __future__ import annotations

import pytest

from pbx_bridge.journal.settings import Rounding
from pbx_bridge.journal.timeworked import format_hms, time_worked


@pytest.mark.parametrize(
    ("talk", "rounding", "hms"),
    [
        (125.0, Rounding(), "0:00:00"),  # off by default: nothing billed
        (125.2, Rounding(mode="exact"), "0:02:06"),
        (125.0, Rounding(mode="up", minutes=15), "0:15:00"),
        (900.0, Rounding(mode="up", minutes=15), "0:15:00"),
        (901.0, Rounding(mode="up", minutes=15), "0:30:00"),
        (400.0, Rounding(mode="nearest", minutes=15), "0:15:00"),  # never rounded down to nothing
        (1400.0, Rounding(mode="nearest", minutes=15), "0:30:00"),
        (30.0, Rounding(mode="exact", minimum_minutes=5), "0:05:00"),
        (3 * 3600 + 61.0, Rounding(mode="exact"), "3:01:01"),
    ],
)
def test_time_worked(talk: float, rounding: Rounding, hms: str) -> None:
    assert format_hms(time_worked(talk, rounding)) == hms
