"""Call tracker: AMI events -> exactly one :class:`CallRecord` per call (Linkedid).

Pure and synchronous; the clock is injected (``clock() -> epoch seconds``). Facts it relies on, from the
lab traces (tests/fixtures/ami-traces/EVENTS.md):

* every channel of a call carries the call's Linkedid (trunk leg, ring-group members, both halves of a
  queue member's Local channel); a call is over when every channel seen with it has a ``Hangup``; Cdr
  and MessageWaiting events come within about a millisecond of the last Hangup, before or after it, so
  we finalise only after all Hangups plus ``grace`` seconds;
* a ``Cdr`` has no Linkedid unless cdr_manager maps it (``linkedid => Linkedid`` in
  ``cdr_manager_mapping_custom.conf``); its ``UniqueID`` is the channel owning the CDR, which for a
  FreePBX queue call is the ``Local/..;2`` member leg. We map UniqueID -> Linkedid through the channels
  we saw, and use ``Linkedid`` directly when the mapping is configured;
* "answered by a person" is a ``DialEnd ANSWER`` to a non-Local channel, or ``AgentConnect``; a DialEnd
  ANSWER to ``Local/..;1`` only means the Local half answered;
* voicemail left = ``MessageWaiting`` or ``VarSet VM_MESSAGEFILE`` on the Linkedid; voicemail reached =
  ``Newexten Application=VoiceMail``; ``VMSTATUS=FAILED`` without a message = no message left;
* the caller's number is ``CallerIDNum`` of the first channel (or the Cdr's ``Source``); the Cdr
  ``CallerID`` may end mid-character and is never parsed.

Calls whose events were lost are expired, never guessed: a ``Shutdown`` event or a lost connection marks
open calls; after a reconnect :meth:`resync` (from ``CoreShowChannels``) keeps the calls whose channels
still exist and ends the others as :attr:`Outcome.LOST`; a call without events for ``max_call_age`` is
ended as LOST too. The number of calls (and of channels per call) is bounded.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pbx_bridge.ami.framing import EventFilter
from pbx_bridge.ami.outcome import CallRecord, Outcome, fine_outcome
from pbx_bridge.ami.progress import CallProgress, ProgressObserver

__all__ = ["CallTracker", "TrackerStats", "default_is_internal"]

_INTERNAL = re.compile(r"^\d{2,6}$")
# Events that can carry call evidence; everything else is dropped before any work (VarSet and Newexten
# are 76-93 % of the traffic on FreePBX and only a few of them matter).
_VARS = frozenset({"VMSTATUS", "VM_MESSAGEFILE", "__FROM_DID", "FROM_DID", "DIALSTATUS", "ABANDONED"})
_MAX_CHANNELS = 64  # per call: a call with more channels than this is pathological
_MAX_NOTES = 8
# Events an observer (the calls page) is told about: ringing, answered, hung up.
_OBSERVED = frozenset(
    {"Newchannel", "DialBegin", "DialEnd", "AgentConnect", "QueueCallerJoin", "Hangup", "Newexten"}
)


def default_is_internal(number: str) -> bool:
    """An internal extension: 2-6 digits (numbers.internal_pattern's default)."""
    return bool(_INTERNAL.match(number))


@dataclass(slots=True)
class _Call:
    linkedid: str
    last_event: float  # tracker clock
    channels: dict[str, bool] = field(default_factory=dict)  # uniqueid -> hung up
    caller_num: str = ""
    caller_name: str = ""
    context: str = ""
    exten: str = ""
    did: str = ""
    started_ts: float = 0.0  # event timestamps (Asterisk's clock)
    ended_ts: float = 0.0
    ring_start: float = 0.0
    ring_end: float = 0.0
    answer_ts: float = 0.0
    answered: bool = False
    answered_by: str = ""
    dial_status: set[str] = field(default_factory=set)
    dialstatus_var: str = ""
    dial_seen: set[tuple[str, str, str]] = field(default_factory=set)
    vm_reached: bool = False
    vm_mailbox: str = ""
    vm_status: str = ""
    vm_file: str = ""
    vm_left: bool = False
    mwi_seen: bool = False  # the first MessageWaiting names the mailbox the message went to
    queue: str = ""
    queue_leave: float = 0.0
    abandoned: bool = False
    cdr_source: str = ""
    events: int = 0
    all_down_at: float | None = None  # tracker clock when the last channel hung up
    suspect: bool = False  # events may have been lost (connection dropped)
    resynced: bool = False
    notes: list[str] = field(default_factory=list)
    queue_join: float = 0.0
    dial_string: str = ""  # the first DialBegin's DialString (outbound: the trunk and number)
    causes: list[int] = field(default_factory=list)  # Hangup Cause of every channel, in order
    tech_causes: list[int] = field(default_factory=list)  # Hangup TechCause (Asterisk 22.7+)
    cdr_dispositions: set[str] = field(default_factory=set)

    def note(self, text: str) -> None:
        if len(self.notes) < _MAX_NOTES and text not in self.notes:
            self.notes.append(text)


@dataclass(slots=True)
class TrackerStats:
    events: int = 0
    ignored: int = 0
    malformed: int = 0
    finished: int = 0
    lost: int = 0
    expired: int = 0
    evicted: int = 0


def _ts(event: Mapping[str, str], fallback: float) -> float:
    raw = event.get("Timestamp")
    if raw:
        try:
            return float(raw)
        except ValueError:
            pass
    return fallback


class CallTracker:
    """Follows calls by Linkedid; ``feed`` and ``tick`` return the calls that became final."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        grace: float = 3.0,
        max_call_age: float = 4 * 3600.0,
        max_calls: int = 20000,
        is_internal: Callable[[str], bool] = default_is_internal,
    ) -> None:
        self._clock = clock
        self.grace = grace
        self.max_call_age = max_call_age
        self.max_calls = max_calls
        self._is_internal = is_internal
        self._calls: dict[str, _Call] = {}
        self._resync_known: set[str] | None = None
        self._chan_call: dict[str, str] = {}  # uniqueid -> linkedid (for Cdr and moves)
        # (deadline, linkedid) of calls whose channels are all down, in deadline order (the clock only
        # moves forward), so each event checks only the head: O(1), not O(pending calls).
        self._pending: deque[tuple[float, str]] = deque()
        # Calls whose channels are all down (or that got an event since): their provisional record is
        # persisted right away, so a crash within the grace period loses nothing (take_ended).
        self._ended: set[str] = set()
        self._reopened: set[str] = set()
        self.stats = TrackerStats()
        self._observers: list[ProgressObserver] = []
        self._handlers: dict[str, Callable[[_Call, Mapping[str, str], float], None]] = {
            "Newchannel": self._on_newchannel,
            "NewCallerid": self._on_newcallerid,
            "Newstate": self._noop,  # only registers the channel
            "DialBegin": self._on_dialbegin,
            "DialEnd": self._on_dialend,
            "Hangup": self._on_hangup,
            "VarSet": self._on_varset,
            "Newexten": self._on_newexten,
            "MessageWaiting": self._on_messagewaiting,
            "QueueCallerJoin": self._on_queuejoin,
            "QueueCallerLeave": self._on_queueleave,
            "QueueCallerAbandon": self._on_queueabandon,
            "AgentConnect": self._on_agentconnect,
            "BridgeEnter": self._noop,
            "LocalBridge": self._noop,
            "Cdr": self._noop,  # routed specially (no Linkedid)
        }

    # ------------------------------------------------------------------ public API

    @property
    def active(self) -> int:
        return len(self._calls)

    def next_due(self) -> float | None:
        """When (tracker clock) the next call's grace period ends, if one is pending: :meth:`tick` then
        finishes it. Possibly earlier than that (a re-opened call's stale entry), never later."""
        return self._pending[0][0] if self._pending else None

    def linkedids(self) -> list[str]:
        return list(self._calls)

    def event_filter(self) -> EventFilter:
        """The events :meth:`feed` can use, as a filter the connection applies to the raw bytes: every
        other event would only be counted as ignored here, so it need not be decoded at all."""
        conditional = {"VarSet": ("Variable", _VARS), "Newexten": ("Application", ("VoiceMail",))}
        keep = {n for n in self._handlers if n not in conditional} | {"Shutdown"}
        return EventFilter(keep, conditional)

    def observe(self, observer: ProgressObserver) -> Callable[[], None]:
        """Call ``observer(progress)`` after each event that changes what a person would see of a call
        (ringing, answered, hung up) and once when it is final; returns an unsubscriber. The observer
        runs inside event handling: it must be quick and must not raise (an exception is its own bug and
        is logged by the listener, the event stays tracked)."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer) if observer in self._observers else None

    def feed(self, event: Mapping[str, str]) -> list[CallRecord]:
        """Apply one event; return calls that became final (those whose grace ran out, too)."""
        self.stats.events += 1
        name = event.get("Event")
        out: list[CallRecord] = []
        if name == "Shutdown":
            out.extend(self._lose_all("Asterisk shut down (Shutdown event)"))
            return out
        handler = self._handlers.get(name) if name else None
        if handler is None:
            self.stats.ignored += 1
        elif name == "VarSet" and event.get("Variable") not in _VARS:
            self.stats.ignored += 1
        elif name == "Newexten" and event.get("Application") != "VoiceMail":
            self.stats.ignored += 1
        elif name == "Cdr":
            self._on_cdr(event)
        else:
            linkedid = event.get("Linkedid")
            uniqueid = event.get("Uniqueid")
            if not linkedid or not uniqueid:
                self.stats.malformed += 1
            else:
                now = self._clock()
                call = self._call_for(linkedid, uniqueid, event, now)
                if call is not None:
                    call.events += 1
                    call.last_event = now
                    handler(call, event, _ts(event, now))
                    if call.all_down_at is not None:
                        self._ended.add(call.linkedid)
                    if self._observers and name in _OBSERVED:
                        self._tell(call, "", event)
        if (self._pending and self._pending[0][0] <= self._clock()) or len(self._calls) > self.max_calls:
            out.extend(self.tick())
        return out

    def take_ended(self) -> tuple[list[CallRecord], list[str]]:
        """Provisional records of calls that hung up (or changed) within their grace period since the
        last call, and the Linkedids of calls re-opened meanwhile (their provisional record is void)."""
        if not self._ended and not self._reopened:
            return [], []
        out = []
        for lid in self._ended:
            call = self._calls.get(lid)
            if call is not None and call.all_down_at is not None:
                out.append(self._record(call, self._classify(call)))
        reopened = [lid for lid in self._reopened if lid not in self._ended]
        self._ended.clear()
        self._reopened.clear()
        return out, reopened

    def tick(self) -> list[CallRecord]:
        """Finalise calls whose grace period ended; expire stale calls; enforce the size bound."""
        now = self._clock()
        out: list[CallRecord] = []
        pending = self._pending
        while pending and pending[0][0] <= now:
            _, lid = pending.popleft()
            call = self._calls.get(lid)
            # skip calls already finished or re-opened (a new channel joined); a re-opened call is
            # queued again when its channels are all down again
            if call is not None and call.all_down_at is not None and now - call.all_down_at >= self.grace:
                out.append(self._finish(call))
        if len(self._calls) > self.max_calls:
            # Evict the calls idle longest.
            n = len(self._calls) - self.max_calls
            excess = sorted(self._calls.values(), key=lambda c: c.last_event)[:n]
            for call in excess:
                self.stats.evicted += 1
                call.note("evicted: too many calls tracked")
                out.append(self._finish(call, lost=True))
        return out

    def expire(self) -> list[CallRecord]:
        """End calls that had no event for ``max_call_age`` (their Hangups were lost) as LOST."""
        now = self._clock()
        out: list[CallRecord] = []
        for call in list(self._calls.values()):
            if now - call.last_event >= self.max_call_age:
                self.stats.expired += 1
                call.note("expired: no events for max_call_age")
                out.append(self._finish(call, lost=True))
        return out

    def connection_lost(self) -> list[CallRecord]:
        """The AMI connection dropped. Calls in their grace period are LOST (the issue's rule: a PBX
        restart or a lost connection within the grace period gives no outcome); open calls become
        suspect until :meth:`resync` shows whether their channels still exist."""
        out: list[CallRecord] = []
        for call in list(self._calls.values()):
            if call.all_down_at is not None:
                call.note("AMI connection lost within the grace period")
                out.append(self._finish(call, lost=True))
            else:
                call.suspect = True
                call.note("AMI connection lost during the call")
        self._pending.clear()
        return out

    def resync_begin(self) -> None:
        """Mark the moment of a (re)connect: only calls known now are checked by the next :meth:`resync`.

        Events stream in while ``CoreShowChannels`` is answered; a call that starts in that window may be
        missing from the answer, and must not be declared lost for it."""
        self._resync_known = set(self._calls)

    def resync(self, channels: Iterable[Mapping[str, str]]) -> list[CallRecord]:
        """After a reconnect: ``CoreShowChannel`` rows of the channels that exist now.

        Calls with none of their channels left ended while we were away (or Asterisk restarted): LOST.
        Calls still present go on (flagged). Channels of unknown calls are adopted so their ends are seen.
        Calls first seen after :meth:`resync_begin` are left alone.
        """
        now = self._clock()
        known, self._resync_known = self._resync_known, None
        present: dict[str, Mapping[str, str]] = {}
        for row in channels:
            uid = row.get("Uniqueid")
            if uid:
                present[uid] = row
        out: list[CallRecord] = []
        for lid, call in list(self._calls.items()):
            if known is not None and lid not in known:
                continue
            alive = [u for u, down in call.channels.items() if not down and u in present]
            if not alive:
                if call.suspect or call.all_down_at is None:
                    call.note("channels gone after reconnect")
                    out.append(self._finish(call, lost=True))
                continue
            for uid, down in list(call.channels.items()):
                if not down and uid not in present:
                    call.channels[uid] = True  # hung up while we were away
            call.resynced = True
            call.suspect = False
        for uid, row in present.items():
            if uid in self._chan_call:
                continue
            lid = row.get("Linkedid") or uid
            adopted = self._call_for(lid, uid, row, now)
            if adopted is not None:
                adopted.resynced = True
                adopted.note("adopted after reconnect: its start was not seen")
        return out

    def flush(self) -> list[CallRecord]:
        """Finish every call now (tests, shutdown of the listener): open calls become LOST."""
        out: list[CallRecord] = []
        for call in list(self._calls.values()):
            out.append(self._finish(call, lost=call.all_down_at is None))
        self._pending.clear()
        return out

    # ------------------------------------------------------------------ internals

    def _call_for(self, linkedid: str, uniqueid: str, event: Mapping[str, str], now: float) -> _Call | None:
        known = self._chan_call.get(uniqueid)
        if known is not None and known != linkedid:
            # Bridging (transfers) can give a channel the Linkedid of another call: move it.
            old = self._calls.get(known)
            if old is not None:
                old.channels.pop(uniqueid, None)
                old.note(f"channel {uniqueid} moved to call {linkedid}")
                self._maybe_all_down(old, now)
        call = self._calls.get(linkedid)
        if call is None:
            call = _Call(linkedid=linkedid, last_event=now)
            call.started_ts = _ts(event, now)
            self._calls[linkedid] = call
        if uniqueid not in call.channels and not self._attach(call, uniqueid):
            call.note("too many channels; extra channels ignored")
            return call
        if uniqueid == linkedid and not call.caller_num:
            call.caller_num = event.get("CallerIDNum", "")
            name = event.get("CallerIDName", "")
            call.caller_name = "" if name == "<unknown>" else name
            call.context = event.get("Context", "")
            call.exten = event.get("Exten", "")
        return call

    def _noop(self, call: _Call, event: Mapping[str, str], ts: float) -> None:
        return None

    def _on_newchannel(self, call: _Call, event: Mapping[str, str], ts: float) -> None:
        if event.get("Uniqueid") == call.linkedid:
            call.started_ts = ts

    def _on_newcallerid(self, call: _Call, event: Mapping[str, str], ts: float) -> None:
        if event.get("Uniqueid") == call.linkedid:
            name = event.get("CallerIDName", "")
            call.caller_name = "" if name == "<unknown>" else name
            num = event.get("CallerIDNum", "")
            if num and num != "<unknown>":
                call.caller_num = num

    def _on_dialbegin(self, call: _Call, event: Mapping[str, str], ts: float) -> None:
        if not call.ring_start:
            call.ring_start = ts
        if not call.dial_string:
            call.dial_string = event.get("DialString", "")
        dest = event.get("DestUniqueid")
        if dest and dest not in call.channels:
            self._attach(call, dest)

    def _on_dialend(self, call: _Call, event: Mapping[str, str], ts: float) -> None:
        dest = event.get("DestChannel", "")
        status = event.get("DialStatus", "")
        key = (event.get("Channel", ""), dest, status)
        if key in call.dial_seen:  # queues repeat DialEnd CANCEL: count once
            return
        if len(call.dial_seen) < _MAX_CHANNELS:
            call.dial_seen.add(key)
        call.dial_status.add(status)
        call.ring_end = max(call.ring_end, ts)
        if status == "ANSWER" and not dest.startswith("Local/"):
            self._answered(call, ts, dest)

    def _answered(self, call: _Call, ts: float, who: str) -> None:
        if not call.answered:
            call.answered = True
            call.answer_ts = ts
            call.answered_by = who

    def _on_agentconnect(self, call: _Call, event: Mapping[str, str], ts: float) -> None:
        who = event.get("MemberName") or event.get("DestChannel") or event.get("Interface", "")
        self._answered(call, ts, who)

    def _on_hangup(self, call: _Call, event: Mapping[str, str], ts: float) -> None:
        uid = event.get("Uniqueid", "")
        if uid in call.channels:
            call.channels[uid] = True
        call.ended_ts = max(call.ended_ts, ts)
        for key, into in (("Cause", call.causes), ("TechCause", call.tech_causes)):
            value = _int(event.get(key, ""))
            if value and len(into) < _MAX_CHANNELS:
                into.append(value)
        if uid == call.linkedid and not call.ring_end and call.ring_start:
            call.ring_end = ts
        self._maybe_all_down(call, self._clock())

    def _maybe_all_down(self, call: _Call, now: float) -> None:
        if call.channels and all(call.channels.values()) and call.all_down_at is None:
            call.all_down_at = now
            self._pending.append((now + self.grace, call.linkedid))

    def _on_varset(self, call: _Call, event: Mapping[str, str], ts: float) -> None:
        var = event.get("Variable", "")
        value = event.get("Value", "")
        if var == "VMSTATUS":
            call.vm_status = value
        elif var == "VM_MESSAGEFILE":
            if value:
                call.vm_file = value
                call.vm_left = True
        elif var in ("__FROM_DID", "FROM_DID"):
            if value and not call.did:
                call.did = value
        elif var == "DIALSTATUS":
            if value:
                call.dialstatus_var = value
        elif var == "ABANDONED" and value == "TRUE":
            call.abandoned = True

    def _on_newexten(self, call: _Call, event: Mapping[str, str], ts: float) -> None:
        call.vm_reached = True
        data = event.get("AppData", "")
        box = data.split(",", 1)[0].split("&", 1)[0]
        if box and not call.vm_mailbox:
            call.vm_mailbox = box if "@" in box else f"{box}@default"

    def _on_messagewaiting(self, call: _Call, event: Mapping[str, str], ts: float) -> None:
        # MessageWaiting with a channel block is raised by VoiceMail() saving a message on this call.
        # FreePBX 17 then raises a second one for its "<box>@device" mirror (BLF/MWI of the phones), which
        # is not where the message is: only the first counts.
        call.vm_left = True
        box = event.get("Mailbox", "")
        if box and not call.mwi_seen:
            call.vm_mailbox = box
        call.mwi_seen = True

    def _on_queuejoin(self, call: _Call, event: Mapping[str, str], ts: float) -> None:
        call.queue = event.get("Queue", "") or call.queue
        if not call.ring_start:
            call.ring_start = ts
        if not call.queue_join:
            call.queue_join = ts

    def _on_queueleave(self, call: _Call, event: Mapping[str, str], ts: float) -> None:
        call.queue_leave = ts

    def _on_queueabandon(self, call: _Call, event: Mapping[str, str], ts: float) -> None:
        call.abandoned = True
        call.queue = event.get("Queue", "") or call.queue
        call.queue_leave = ts

    def _attach(self, call: _Call, uniqueid: str) -> bool:
        """Add a new channel to ``call`` (it re-opens a call in its grace period); False when full."""
        if len(call.channels) >= _MAX_CHANNELS:
            return False
        call.channels[uniqueid] = False
        self._chan_call[uniqueid] = call.linkedid
        if call.all_down_at is not None:
            self._reopened.add(call.linkedid)
            self._ended.discard(call.linkedid)
        call.all_down_at = None
        return True

    def _on_cdr(self, event: Mapping[str, str]) -> None:
        lid = event.get("Linkedid") or event.get("LinkedID")  # with the cdr_manager mapping
        if not lid:
            lid = self._chan_call.get(event.get("UniqueID", ""), "")
        call = self._calls.get(lid) if lid else None
        if call is None:
            # A Cdr after its call was finalised, or of a call we never saw: nothing to decide.
            self.stats.ignored += 1
            return
        call.events += 1
        if event.get("UniqueID") == call.linkedid and event.get("Source") and not call.cdr_source:
            call.cdr_source = event["Source"]
        disposition = event.get("Disposition", "").strip().upper()
        if disposition and len(call.cdr_dispositions) < _MAX_NOTES:
            call.cdr_dispositions.add(disposition)

    # ------------------------------------------------------------------ outcome

    def _lose_all(self, why: str) -> list[CallRecord]:
        # Open calls and calls still in their grace period: a clean shutdown hangs calls up just
        # before its Shutdown event, so those Hangups say nothing about the caller.
        out = []
        for call in list(self._calls.values()):
            call.note(why)
            out.append(self._finish(call, lost=True))
        self._pending.clear()
        return out

    def _finish(self, call: _Call, *, lost: bool = False) -> CallRecord:
        self._calls.pop(call.linkedid, None)
        for uid in call.channels:
            if self._chan_call.get(uid) == call.linkedid:
                del self._chan_call[uid]
        outcome = Outcome.LOST if lost else self._classify(call)
        self.stats.finished += 1
        if outcome is Outcome.LOST:
            self.stats.lost += 1
        if self._observers:
            self._tell(call, outcome.value, {})
        return self._record(call, outcome)

    def _tell(self, call: _Call, outcome: str, event: Mapping[str, str]) -> None:
        progress = CallProgress(
            linkedid=call.linkedid,
            caller_num=call.caller_num or call.cdr_source,
            caller_name=call.caller_name,
            did=call.did or call.exten,
            queue=call.queue,
            answered=call.answered,
            answered_by=call.answered_by,
            all_down=call.all_down_at is not None or bool(outcome),
            started=call.started_ts,
            outcome=outcome,
            event=event,
            voicemail=call.vm_reached or call.vm_left,
        )
        for observer in self._observers:
            observer(progress)

    def _dialled_out(self, call: _Call) -> str:
        """The outside number an internal caller dialled ("" for a call between extensions)."""
        for candidate in (call.exten, call.dial_string.rsplit("/", 1)[-1].split("@", 1)[0]):
            digits = candidate.lstrip("+")
            if digits.isdigit() and not self._is_internal(candidate):
                return candidate
        return ""

    def _direction(self, call: _Call) -> str:
        number = call.caller_num or call.cdr_source
        if number and self._is_internal(number):
            return "outbound" if self._dialled_out(call) else "internal"
        return "inbound"

    def _classify(self, call: _Call) -> Outcome:
        direction = self._direction(call)
        if direction == "internal":
            return Outcome.INTERNAL
        if direction == "outbound":
            # A phone calling out: answered by the far end, or what the trunk said.
            return Outcome.ANSWERED if call.answered else self._unanswered(call) or Outcome.APPLICATION
        if call.vm_left or (call.vm_reached and call.vm_status == "SUCCESS"):
            return Outcome.VOICEMAIL
        if call.answered:
            return Outcome.ANSWERED
        if call.vm_reached:
            return Outcome.VOICEMAIL_NO_MESSAGE
        if call.abandoned:
            return Outcome.ABANDONED
        unanswered = self._unanswered(call)
        if unanswered is not None:
            return unanswered
        if call.queue:
            return Outcome.MISSED  # left the queue (timeout) and hung up without anyone answering
        return Outcome.APPLICATION

    @staticmethod
    def _statuses(call: _Call) -> set[str]:
        return call.dial_status | ({call.dialstatus_var} if call.dialstatus_var else set())

    def _unanswered(self, call: _Call) -> Outcome | None:
        statuses = self._statuses(call)
        if statuses & {"CANCEL", "NOANSWER"}:
            return Outcome.MISSED
        if "BUSY" in statuses:
            return Outcome.BUSY
        if statuses & {"CHANUNAVAIL", "CONGESTION"}:
            return Outcome.UNAVAILABLE
        return None

    def _record(self, call: _Call, outcome: Outcome) -> CallRecord:
        def dt(ts: float) -> datetime | None:
            return datetime.fromtimestamp(ts, UTC) if ts else None

        end = call.ended_ts or call.last_event
        ring = 0.0
        if call.ring_start:
            stop = call.answer_ts or call.ring_end or call.queue_leave or end
            ring = max(0.0, stop - call.ring_start)
        talk = max(0.0, end - call.answer_ts) if call.answer_ts else 0.0
        notes = list(call.notes)
        if call.resynced:
            notes.append("resynced after reconnect")
        direction = self._direction(call)
        detail, cause, tech = "", None, None
        if not call.answered:
            detail, cause, tech = fine_outcome(
                dial_statuses=self._statuses(call),
                causes=tuple(call.causes),
                tech_causes=tuple(call.tech_causes),
                cdr_dispositions=call.cdr_dispositions,
            )
        wait = 0.0
        if call.queue_join:
            wait = max(0.0, (call.answer_ts or call.queue_leave or end) - call.queue_join)
        if direction == "outbound":
            extension = call.caller_num or call.cdr_source
        else:
            extension = _extension_of(call.answered_by)
        return CallRecord(
            linkedid=call.linkedid,
            outcome=outcome,
            caller_num=call.caller_num or call.cdr_source,
            caller_name=call.caller_name,
            started=dt(call.started_ts),
            ended=dt(end),
            ring_seconds=round(ring, 3),
            talk_seconds=round(talk, 3),
            did=call.did or call.exten,
            context=call.context,
            queue=call.queue,
            mailbox=call.vm_mailbox if (call.vm_reached or call.vm_left) else "",
            voicemail_msg=call.vm_file.rsplit("/", 1)[-1] if call.vm_file else "",
            answered_by=call.answered_by,
            events=call.events,
            notes=tuple(notes),
            voicemail_path=call.vm_file,
            direction=direction,
            extension=extension if self._is_internal(extension) else "",
            dialled=self._dialled_out(call) if direction == "outbound" else "",
            queue_wait_seconds=round(wait, 3),
            detail=detail,
            hangup_cause=cause,
            tech_cause=tech,
        )


def _int(raw: str) -> int | None:
    try:
        return int(raw.strip())
    except ValueError:
        return None


_CHANNEL_EXT = re.compile(r"^(?:[A-Za-z0-9]+/)?(?:[A-Za-z0-9_]+/)?(\d{1,16})(?:[-@;/]|$)")


def _extension_of(who: str) -> str:
    """``PJSIP/203-0000002a`` -> 203; ``Local/203@from-queue/n`` -> 203; a queue MemberName -> ""."""
    m = _CHANNEL_EXT.match(who.strip())
    return m.group(1) if m else ""
