"""What the call tracker concludes about one call (one Linkedid); the tickets policy consumes this."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Outcome(StrEnum):
    ANSWERED = "answered"
    MISSED = "missed"  # caller hung up while ringing, or no answer
    BUSY = "busy"  # busy / unavailable, no voicemail
    UNAVAILABLE = "unavailable"
    VOICEMAIL_NO_MESSAGE = "voicemail-no-message"
    VOICEMAIL = "voicemail"  # a message was left
    ABANDONED = "abandoned"  # left a queue before a member answered
    INTERNAL = "internal"
    APPLICATION = "application"  # ended in an IVR/application without reaching a person
    LOST = "lost"  # PBX restart/crash or AMI connection lost within the grace period


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One finished call, as the tracker saw it. Times are timezone-aware."""

    linkedid: str
    outcome: Outcome
    caller_num: str  # from CallerIDNum (or Cdr Source), never parsed from Cdr CallerID
    caller_name: str = ""
    started: datetime | None = None
    ended: datetime | None = None
    ring_seconds: float = 0.0
    talk_seconds: float = 0.0
    did: str = ""  # the dialled number / inbound exten
    context: str = ""  # the first dialplan context of the caller channel
    queue: str = ""
    mailbox: str = ""  # "202@default" when voicemail was reached
    voicemail_msg: str = ""  # "msg0000" when known
    answered_by: str = ""
    events: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    voicemail_path: str = ""  # VM_MESSAGEFILE: spool path without extension, when a message was left

    @property
    def duration_seconds(self) -> float:
        if self.started and self.ended:
            return max(0.0, (self.ended - self.started).total_seconds())
        return 0.0
