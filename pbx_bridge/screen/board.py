"""The call board: ringing, active and recent calls as the calls page shows them.

Fed by the call tracker's observer hook (``CallTracker.observe``, :class:`CallProgress`); each change
is pushed to every open page (:meth:`CallBoard.listen`, Server-Sent Events in ``screen/http.py``). The
caller is named from the directory's index (the same lookup caller ID makes, no live ITFlow call on the
event path); links into ITFlow are built from integers only (:class:`ItflowLinks`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pbx_bridge.ami.progress import CallProgress
from pbx_bridge.directory.index import DirectoryIndex
from pbx_bridge.directory.model import LookupResult, MatchKind, PartyKind
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.screen.links import ItflowLinks
from pbx_bridge.technicians import TechniciansSettings

__all__ = ["BoardCall", "CallBoard", "extension_of"]

log = logging.getLogger("pbx_bridge.screen")

IndexProvider = Callable[[], DirectoryIndex | None]
Json = dict[str, Any]

_CHANNEL = re.compile(r"^[A-Za-z0-9]+/([^@;/]+?)(?:-[0-9a-fA-F]{6,})?(?:@[^;]*)?(?:;\d)?$")
_UNTICKETED = frozenset({"answered", "internal", "lost", "application"})
_LISTENER_BACKLOG = 200


def extension_of(channel: str) -> str:
    """The device or extension of a channel name: ``PJSIP/201-0000001c`` and ``Local/201@from-queue-1;2``
    are 201; "" when the name has no such part."""
    m = _CHANNEL.match(channel.strip())
    return m.group(1) if m else ""


@dataclass(slots=True)
class BoardCall:
    linkedid: str
    number: str
    started: float
    e164: str = ""
    readable: str = ""
    caller_name: str = ""
    party: Json = field(default_factory=lambda: {"match": "unknown"})
    state: str = "ringing"
    dialling: dict[str, str] = field(default_factory=dict)  # DestChannel -> extension
    queue: str = ""
    did: str = ""
    answered_by: str = ""
    answered_by_name: str = ""
    ended: float = 0.0
    outcome: str = ""
    ticket: Json | None = None
    open_tickets: Json | None = None  # {"status": "ok"|"unavailable", "tickets": [...]}

    def ringing(self) -> list[str]:
        return sorted({e for e in self.dialling.values() if e}) if self.state == "ringing" else []

    def to_json(self) -> Json:
        return {
            "linkedid": self.linkedid,
            "number": self.number,
            "e164": self.e164,
            "readable": self.readable,
            "caller_name": self.caller_name,
            "party": self.party,
            "state": self.state,
            "ringing": self.ringing(),
            "queue": self.queue,
            "did": self.did,
            "answered_by": self.answered_by,
            "answered_by_name": self.answered_by_name,
            "started": self.started,
            "ended": self.ended,
            "outcome": self.outcome,
            "ticket": self.ticket,
            "open_tickets": self.open_tickets,
        }


class CallBoard:
    def __init__(
        self,
        *,
        index: IndexProvider,
        plan: NumberPlan,
        links: ItflowLinks,
        technicians: TechniciansSettings,
        recent: int = 30,
        clock: Callable[[], float],
    ) -> None:
        self._index = index
        self.plan = plan
        self.links = links
        self.technicians = technicians
        self.recent_max = recent
        self.clock = clock
        self.live: OrderedDict[str, BoardCall] = OrderedDict()
        self.recent: OrderedDict[str, BoardCall] = OrderedDict()  # newest last
        self._listeners: set[asyncio.Queue[Json | None]] = set()
        # Hooks the service sets: a new caller's open tickets, a finished call's ticket.
        self.on_party: Callable[[BoardCall], None] | None = None
        self.on_finished: Callable[[BoardCall], None] | None = None

    # ------------------------------------------------------------------ reading
    def calls(self) -> list[BoardCall]:
        """Live calls (oldest first), then recent ones (newest first)."""
        return [*self.live.values(), *reversed(self.recent.values())]

    def get(self, linkedid: str) -> BoardCall | None:
        return self.live.get(linkedid) or self.recent.get(linkedid)

    def snapshot(self) -> Json:
        return {"type": "snapshot", "calls": [c.to_json() for c in self.calls()]}

    # ------------------------------------------------------------------ listeners (SSE)
    def listen(self) -> asyncio.Queue[Json | None]:
        queue: asyncio.Queue[Json | None] = asyncio.Queue(maxsize=_LISTENER_BACKLOG)
        self._listeners.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[Json | None]) -> None:
        self._listeners.discard(queue)

    def close_listeners(self) -> None:
        for queue in list(self._listeners):
            self._drop(queue)

    def _drop(self, queue: asyncio.Queue[Json | None]) -> None:
        # A page that does not read its stream is cut off (None ends it); the browser reconnects and
        # gets a fresh snapshot, so nothing is lost but memory stays bounded.
        self._listeners.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)

    def publish(self, call: BoardCall) -> None:
        message = {"type": "call", "call": call.to_json()}
        for queue in list(self._listeners):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                self._drop(queue)

    # ------------------------------------------------------------------ the tracker's hook
    def observe(self, p: CallProgress) -> None:
        try:
            self._observe(p)
        except Exception:  # the board's bug must never break call tracking (tickets depend on it)
            log.exception("screen: call %s could not be shown", p.linkedid)

    def _observe(self, p: CallProgress) -> None:
        call = self.live.get(p.linkedid)
        if call is None:
            if p.outcome:
                return  # finished before we saw it (e.g. lost on reconnect): nothing to show
            call = BoardCall(p.linkedid, p.caller_num, p.started or self.clock())
            self.live[p.linkedid] = call
            self._identify(call, p.caller_num)
        elif p.caller_num and p.caller_num != call.number:
            self._identify(call, p.caller_num)
        call.caller_name = p.caller_name
        call.queue = p.queue
        call.did = p.did
        name = p.event.get("Event", "")
        if name == "DialBegin":
            dest = p.event.get("DestChannel", "")
            call.dialling[dest] = extension_of(dest) or p.event.get("DestCallerIDNum", "")
        elif name == "DialEnd":
            call.dialling.pop(p.event.get("DestChannel", ""), None)
        elif name == "Hangup":
            call.dialling.pop(p.event.get("Channel", ""), None)
        if p.answered and not call.answered_by:
            ext = extension_of(p.answered_by) or p.answered_by
            call.answered_by = ext
            person = self.technicians.by_extension(ext)
            call.answered_by_name = person.name if person else ""
        if p.outcome:
            call.state = "ended"
            call.outcome = p.outcome
            call.ended = self.clock()
            call.dialling.clear()
            self.live.pop(p.linkedid, None)
            self.recent[p.linkedid] = call
            while len(self.recent) > self.recent_max:
                self.recent.popitem(last=False)
            if self.on_finished is not None and p.outcome not in _UNTICKETED:
                self.on_finished(call)
        elif p.all_down:
            call.state = "ended"
        elif p.answered:
            call.state = "answered"
        elif p.voicemail:
            call.state = "voicemail"
            call.dialling.clear()
        else:
            call.state = "ringing"
        self.publish(call)

    def _identify(self, call: BoardCall, raw: str) -> None:
        call.number = raw
        e164 = self.plan.lookup_key(raw)
        call.e164 = e164 or ""
        call.readable = self.plan.format(e164, "international") if e164 else raw
        if e164 is None:
            call.party = {"match": "internal" if self.plan.is_internal(raw) else "unknown"}
            return
        index = self._index()
        result = index.lookup(e164) if index is not None else None
        call.party = self.party_json(result)
        if self.on_party is not None and call.party.get("client_id"):
            self.on_party(call)

    def name_of(self, e164: str) -> str:
        """Who a number belongs to in the directory ("Alice Anderson, ACME Corp"), "" when unknown."""
        index = self._index() if e164 else None
        result = index.lookup(e164) if index is not None else None
        if result is None or result.match is MatchKind.NONE:
            return ""
        return result.display

    def party_json(self, result: LookupResult | None) -> Json:
        if result is None or result.match is MatchKind.NONE:
            return {"match": "unknown"}
        out: Json = {
            "match": result.match.value,
            "display": result.display,
            "client_id": result.client_id,
            "client_name": result.client_name,
            "contact_id": result.contact_id,
            "name": result.party.name if result.party else "",
            "kind": result.party.kind.value if result.party else "",
            "links": {},
        }
        if result.match is MatchKind.AMBIGUOUS:
            out["candidates"] = [
                {
                    "name": p.name,
                    "kind": p.kind.value,
                    "client_name": p.client_name,
                    "url": self.links.client(p.client_id) if p.client_id else "",
                }
                for p in result.candidates[:8]
            ]
        links: Json = out["links"]
        if result.client_id:
            links["client"] = self.links.client(result.client_id)
        party = result.party
        if party is not None and party.kind is PartyKind.CONTACT and party.id and result.client_id:
            links["contact"] = self.links.contact(result.client_id, party.id)
        return out
