"""What an observer of the call tracker sees while a call runs: one :class:`CallProgress` per relevant
event (a channel dialled, answered, hung up) and one when the call is final.

The calls page (docs/screen.md) follows calls through this; nothing here changes how a call is
classified (``ami/outcome.py``, ``CallTracker._classify``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["CallProgress", "ProgressObserver"]


@dataclass(frozen=True, slots=True)
class CallProgress:
    """A call's state right after ``event`` (the AMI event that changed it, empty when the call became
    final). ``outcome`` is set (an ``Outcome`` value) only once the call is final."""

    linkedid: str
    caller_num: str
    caller_name: str
    did: str
    queue: str
    answered: bool
    answered_by: str  # the answering channel ("PJSIP/202-0000001c") or queue member name
    all_down: bool  # every channel hung up (the outcome follows after the grace period)
    started: float  # Asterisk's event timestamp (epoch seconds)
    outcome: str = ""
    voicemail: bool = False  # the call reached VoiceMail() (the caller hears a greeting or leaves a message)
    event: Mapping[str, str] = field(default_factory=dict)


ProgressObserver = Callable[[CallProgress], None]
