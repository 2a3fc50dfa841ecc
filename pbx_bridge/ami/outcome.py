"""What the call tracker concludes about one call (one Linkedid); the tickets policy and the journal
consume this.

Besides the coarse :class:`Outcome` a record carries a finer :attr:`CallRecord.detail` (busy, declined,
unavailable, congestion, cancelled, no-answer) read by :func:`fine_outcome` from whatever the PBX sent:
``DialStatus``, the channels' ``Cause`` (HANGUPCAUSE), Asterisk 22.7+'s ``TechCause`` (the SIP response
code) and a Cdr ``Disposition`` of ``CANCEL`` (22.6+, only with ``canceldispositionenabled=yes``). All of
it is optional on the wire: older Asterisk sends less, and the detail is then coarser or empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = ["DETAILS", "CallRecord", "Outcome", "fine_outcome"]


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
    # inbound | outbound (an internal extension dialled an outside number) | internal
    direction: str = "inbound"
    # The extension that took the call: inbound, the answering phone's; outbound, the calling phone's.
    extension: str = ""
    dialled: str = ""  # outbound: the number dialled
    queue_wait_seconds: float = 0.0  # from joining the queue to a member answering (or leaving)
    detail: str = ""  # one of DETAILS, "" when the PBX said nothing finer
    hangup_cause: int | None = None  # the most telling Cause (Q.850) seen on the call's channels
    tech_cause: int | None = None  # the SIP response code (TechCause, Asterisk 22.7+)

    @property
    def duration_seconds(self) -> float:
        if self.started and self.ended:
            return max(0.0, (self.ended - self.started).total_seconds())
        return 0.0


# The finer outcomes, in words a ticket and the calls page show.
DETAILS = {
    "busy": "busy",
    "declined": "declined by the callee",
    "unavailable": "unavailable (not registered or unreachable)",
    "congestion": "congestion (no route or circuit)",
    "cancelled": "cancelled by the caller while ringing",
    "no-answer": "not answered",
}
# SIP response codes (TechCause) and Q.850 causes (Cause / HANGUPCAUSE) -> a detail.
_SIP = {
    486: "busy",
    600: "busy",
    603: "declined",
    607: "declined",
    404: "unavailable",
    410: "unavailable",
    480: "unavailable",
    503: "congestion",
    408: "no-answer",
    487: "cancelled",
}
_Q850 = {
    17: "busy",
    21: "declined",
    1: "unavailable",
    3: "unavailable",
    20: "unavailable",
    27: "unavailable",
    34: "congestion",
    38: "congestion",
    41: "congestion",
    42: "congestion",
    44: "congestion",
    18: "no-answer",
    19: "no-answer",
}
_DIAL = {
    "BUSY": "busy",
    "CONGESTION": "congestion",
    "CHANUNAVAIL": "unavailable",
    "NOANSWER": "no-answer",
    "CANCEL": "cancelled",
}
_CDR = {
    "CANCEL": "cancelled",
    "BUSY": "busy",
    "FAILED": "unavailable",
    "CONGESTION": "congestion",
    "NO ANSWER": "no-answer",
}


def fine_outcome(
    *,
    dial_statuses: frozenset[str] | set[str] = frozenset(),
    causes: tuple[int, ...] = (),
    tech_causes: tuple[int, ...] = (),
    cdr_dispositions: frozenset[str] | set[str] = frozenset(),
) -> tuple[str, int | None, int | None]:
    """(detail, cause, tech cause) of a call nobody answered; every input may be empty.

    The caller giving up (DialStatus ``CANCEL``, TechCause 487, Cdr ``CANCEL``) wins: the callees' own
    answers did not end the call. Otherwise the SIP code is the most specific (603 declined is a
    "BUSY" DialStatus to app_dial), then the Q.850 cause, then DialStatus, then the Cdr.
    """
    tech = next((c for c in tech_causes if c in _SIP and c != 487), None)
    cause = next((c for c in causes if c in _Q850), None)
    if "CANCEL" in dial_statuses or 487 in tech_causes or "CANCEL" in cdr_dispositions:
        return "cancelled", cause, tech if tech is not None else (487 if 487 in tech_causes else None)
    if tech is not None:
        return _SIP[tech], cause, tech
    if cause is not None:
        return _Q850[cause], cause, None
    for status in ("BUSY", "CONGESTION", "CHANUNAVAIL", "NOANSWER"):
        if status in dial_statuses:
            return _DIAL[status], None, None
    for disp in ("BUSY", "CONGESTION", "FAILED", "NO ANSWER"):
        if disp in cdr_dispositions:
            return _CDR[disp], None, None
    return "", None, None
