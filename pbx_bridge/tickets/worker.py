"""Delivers the outbox to ITFlow: exactly one ticket per (Linkedid, kind), whatever fails on the way.

How each answer is handled (docs/tickets.md, "Delivery: the outbox"):

* transport error or timeout *before* the request left -> retry with backoff and jitter;
* result unknown (timeout or cut connection after sending, any 5xx such as a gateway's 502/504, an
  unreadable 200, a crash: ``in_flight`` is still set) -> wait until ``reconcile_after`` seconds after
  the send (a slow ITFlow may commit late), then look for the call marker among the tickets newer than
  the send (or the target ticket's replies) and take the ticket found; only a search that *succeeded*
  clears the mark (a failing search keeps it), and only a proven absence re-sends;
* 5xx -> retry with backoff; dead-letter once the row has failed for ``dead_letter_after``;
* 200 ``"False"`` on create -> dead-letter with ITFlow's reason;
* 401 and the key-level 403 texts -> hold the whole queue (nothing dead-letters, attempts are not
  counted) and probe every ``held_probe_interval`` until the key works;
* 403 "no access to the target client" -> this ticket only: retry for ``fallback_client_id``, else
  dead-letter;
* 404 page on ``ticket_replies/create`` (before v26.08) -> a new ticket that names the earlier one.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Final, Literal, Protocol

from pbx_bridge.component import Health
from pbx_bridge.errors import PbxBridgeError
from pbx_bridge.itflow.capabilities import Capabilities
from pbx_bridge.itflow.errors import (
    AuthError,
    ItflowError,
    MalformedResponse,
    NotAvailable,
    PermissionDenied,
    ServerError,
    TransportError,
    WriteFailed,
)
from pbx_bridge.itflow.ticket_state import is_open
from pbx_bridge.metrics import Metrics
from pbx_bridge.tickets.availability import ticket_availability
from pbx_bridge.tickets.open_tickets import IndexNotReady, OpenTickets
from pbx_bridge.tickets.outbox import Outbox, OutboxRow
from pbx_bridge.tickets.reconcile import FilterIgnored, MarkerSearch, SearchIncomplete, TicketReader
from pbx_bridge.tickets.settings import TicketsSettings

__all__ = ["Detection", "OutboxWorker", "TicketClient"]

log = logging.getLogger("pbx_bridge.tickets")

_REDETECT_MAX = 60.0  # while ITFlow cannot be identified, detect again at least this often
_WAIT: Final = "wait"  # _target: the earlier row of this call is still pending
_JOURNAL_KINDS = frozenset({"journal", "journal-time"})


class TicketClient(TicketReader, Protocol):
    """The part of :class:`pbx_bridge.itflow.v1.V1Client` the worker uses: the searches' reads and the
    two creates (each returns the new id)."""

    async def tickets_create(
        self,
        *,
        ticket_subject: str,
        client_id: int | None = None,
        ticket_contact_id: int | None = None,
        ticket_details: str | None = None,
        ticket_priority: str | None = None,
        ticket_assigned_to: int | None = None,
    ) -> int: ...

    async def ticket_replies_create(
        self,
        *,
        ticket_id: int,
        ticket_reply: str,
        client_id: int | None = None,
        ticket_reply_type: str | None = None,
        ticket_reply_time_worked: str | None = None,
    ) -> int: ...


class Detection(Protocol):
    """:meth:`pbx_bridge.itflow.backend.Itflow.capabilities`: cached, ``refresh`` detects again."""

    def __call__(self, *, refresh: bool = False) -> Awaitable[Capabilities]: ...


class _Hold(PbxBridgeError):
    pass


class _Attempt:
    """One delivery attempt of one row: is its outcome at ITFlow unknown right now?"""

    def __init__(self, row: OutboxRow) -> None:
        self.unknown = row.in_flight  # set by an earlier send; cleared only by a successful search
        self.writing = False  # a write is on its way (its failure makes the outcome unknown)


class OutboxWorker:
    name = "tickets-outbox"

    def __init__(
        self,
        outbox: Outbox,
        client: TicketClient | None,
        capabilities: Detection,
        settings: TicketsSettings,
        *,
        clock: Callable[[], float],
        metrics: Metrics | None = None,
        rng: random.Random | None = None,
        open_tickets: OpenTickets | None = None,
        writers: Callable[[str], TicketClient | None] | None = None,
    ) -> None:
        self.outbox = outbox
        # The journal (kinds journal, journal-time): where its notes go, and whose key writes them
        # (a technician's own key: ITFlow credits a reply to the key's user).
        self.open_tickets = open_tickets or OpenTickets(clock=clock)
        self._writers = writers
        self._client = client
        self._capabilities = capabilities
        self.s = settings
        self.clock = clock
        self.metrics = metrics
        self.rng = rng or random.Random()
        self.held = False
        self.held_reason = ""
        self.held_until = 0.0
        self.unavailable = ""
        self.undetected = ""  # ITFlow could not be identified yet (why); calls wait
        self._redetect_at = 0.0
        self._redetects = 0
        self.waiting = 0
        self.oldest_at: float | None = None
        self.search = MarkerSearch(outbox, window=settings.reconcile_window)
        self._by_client = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        outbox.subscribe(self.wake)

    # ------------------------------------------------------------------ Component

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="tickets-outbox")

    async def stop(self, deadline: float) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            loop = asyncio.get_running_loop()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), max(0.0, deadline - loop.time()))
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def health(self) -> Health:
        data: dict[str, object] = {
            "waiting": self.waiting,
            "oldest_age": round(self.clock() - self.oldest_at, 1) if self.oldest_at else 0.0,
        }
        if self.unavailable:
            return Health(False, f"ticketing unavailable: {self.unavailable}", data)
        backlog = self._backlog()
        if self.undetected:
            return Health(
                False,
                f"ticket delivery waiting: ITFlow not identified yet: {self.undetected}"
                f"{backlog}; detection runs again with backoff",
                data,
            )
        if self.held:
            return Health(False, f"ticket delivery held: {self.held_reason}{backlog}", data)
        return Health(True, f"delivering{backlog}", data)

    def _backlog(self) -> str:
        if not self.waiting:
            return ""
        age = self.clock() - self.oldest_at if self.oldest_at else 0.0
        return f"; {self.waiting} waiting, oldest {age:.0f} s"

    async def probe(self) -> None:
        """Say at start whether this ITFlow can take tickets (legacy api.php cannot)."""
        try:
            caps = await self._capabilities()
        except Exception as exc:  # ITFlow down: delivery retries; nothing to say yet
            log.info("tickets: ITFlow not reachable at start (%s); tickets wait in the outbox", exc)
            return
        self._classify(caps)

    def _classify(self, caps: Capabilities) -> str:
        """Set ``unavailable``/``undetected`` from a detection; return yes | no | unknown."""
        state, why = ticket_availability(caps)
        if state == "yes" and self.client() is None:
            state, why = "no", "no v1 client (itflow.api: legacy)"
        if state == "no":
            if self.unavailable != why:
                log.warning("tickets: %s; missed calls are tracked, not ticketed", why)
            self.unavailable, self.undetected = why, ""
        elif state == "unknown":
            if not self.undetected:  # first detection again after retry_first, then backing off
                self._redetects = 1
                self._redetect_at = self.clock() + min(_REDETECT_MAX, self._backoff(1))
            if self.undetected != why:
                log.warning(
                    "tickets: cannot tell yet whether ITFlow takes tickets: %s; calls are queued "
                    "and detection runs again with backoff",
                    why,
                )
            self.unavailable, self.undetected = "", why
        else:
            if self.undetected:
                log.warning("tickets: ITFlow identified; queued tickets are delivered now")
                self._redetects = 0
            self.unavailable = self.undetected = ""
        return state

    async def _loop(self) -> None:
        await self.probe()
        while not self._stopping:
            try:
                await self.run_once()
                next_at = await self.outbox.anext_due_at()
            except sqlite3.Error as exc:  # disk full, file damaged: the cause in one line, not a traceback
                log.error("tickets outbox: the state database failed (%s); delivery retries", exc)
                next_at = self.clock() + self.s.retry_first
            except Exception:  # never let one bad row or a store hiccup end delivery
                log.exception("tickets outbox: delivery round failed")
                next_at = self.clock() + self.s.retry_first
            wait = 30.0 if next_at is None else min(30.0, max(0.05, next_at - self.clock()))
            if self.held:
                wait = min(wait, max(0.05, self.held_until - self.clock()))
            self._wake.clear()
            try:
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            except TimeoutError:
                pass

    # ------------------------------------------------------------------ one round

    async def run_once(self, limit: int = 50) -> int:
        """Try every due row once (only one probe while held); return how many were delivered."""
        now = self.clock()
        if self.held and now < self.held_until:
            return 0
        was_held = self.held
        delivered = 0
        rows = await self.outbox.adue(now, limit=1 if self.held else limit)
        for row in rows:
            try:
                if await self._deliver(row):
                    delivered += 1
                if self.held:  # a successful probe lifts the hold
                    log.warning("tickets: ITFlow accepts the key again; delivery resumes")
                    self.held = False
                    self.held_reason = ""
                    if self.metrics:
                        self.metrics.outbox_held.set(0)
            except _Hold:
                break
        if was_held and not self.held:
            delivered += await self.run_once(limit)  # the probe succeeded: deliver the rest now
        await self._update_backlog()
        await self._update_metrics()
        return delivered

    async def _update_metrics(self) -> None:
        if self.metrics is None:
            return
        counts = await self.outbox.acounts()
        self.metrics.outbox_depth.set(counts.get("pending", 0))
        self.metrics.outbox_dead.set(counts.get("dead", 0))
        oldest = await self.outbox.aoldest_pending()
        self.metrics.outbox_oldest.set(max(0.0, self.clock() - oldest) if oldest else 0.0)

    async def _update_backlog(self) -> None:
        self.waiting = (await self.outbox.acounts()).get("pending", 0)
        self.oldest_at = await self.outbox.aoldest_pending()

    def client(self) -> TicketClient | None:
        """The v1 client; None when only the legacy API is configured (``itflow.api: legacy``)."""
        return self._client

    def _backoff(self, attempts: int) -> float:
        base = min(self.s.retry_max, self.s.retry_first * (2.0 ** max(0, attempts - 1)))
        return base * (0.5 + self.rng.random())  # jitter: 0.5x .. 1.5x

    async def _retry(self, row: OutboxRow, error: str, *, in_flight: bool, count_age: bool = False) -> None:
        now = self.clock()
        first = row.first_error_at if row.first_error_at is not None else now
        if count_age and now - first >= self.s.dead_letter_after:
            await self._dead(
                row, f"ITFlow kept failing for {now - first:.0f} s: {error}", in_flight=in_flight
            )
            return
        await self.outbox.aupdate(
            row.id,
            next_attempt_at=now + self._backoff(row.attempts + 1),
            attempts=row.attempts + 1,
            in_flight=in_flight,
            last_error=error[:500],
            first_error_at=first,
        )
        log.info("tickets: %s/%s not delivered yet (%s); retrying", row.linkedid, row.kind, error)

    async def _dead(self, row: OutboxRow, reason: str, *, in_flight: bool = False) -> None:
        # An unknown outcome stays marked: `tickets retry` then searches for it before any re-send.
        await self.outbox.aupdate(row.id, state="dead", in_flight=in_flight, last_error=reason[:500])
        log.error(
            "tickets: %s/%s dead-lettered: %s (kept; `pbx-bridge tickets retry %d` resends it)",
            row.linkedid,
            row.kind,
            reason,
            row.id,
        )

    async def _hold(self, row: OutboxRow, reason: str, *, in_flight: bool = False) -> None:
        if not self.held:
            log.error(
                "tickets: ITFlow rejects the API key (%s); holding all ticket delivery until it works", reason
            )
        self.held = True
        self.held_reason = reason
        self.held_until = self.clock() + self.s.held_probe_interval
        if self.metrics:
            self.metrics.outbox_held.set(1)
        await self.outbox.aupdate(
            row.id, in_flight=in_flight, attempts=row.attempts, last_error=f"held: {reason}"[:500]
        )
        raise _Hold

    # ------------------------------------------------------------------ delivery

    async def _detect(self) -> Capabilities:
        """The cached detection; while ITFlow could not be identified, detect again with backoff."""
        caps = await self._capabilities()
        if self._classify(caps) == "unknown" and self.clock() >= self._redetect_at:
            self._redetects += 1
            self._redetect_at = self.clock() + min(_REDETECT_MAX, self._backoff(self._redetects))
            caps = await self._capabilities(refresh=True)
            self._classify(caps)
        return caps

    async def _deliver(self, row: OutboxRow) -> bool:
        client = self.client()
        try:
            caps = await self._detect()
        except ItflowError as exc:
            await self._retry(row, f"ITFlow not reachable for detection: {exc}", in_flight=row.in_flight)
            return False
        if self.unavailable or client is None:
            await self.outbox.aupdate(
                row.id, next_attempt_at=self.clock() + self.s.held_probe_interval, last_error=self.unavailable
            )
            return False
        if self.undetected:  # the row waits for the next detection, not a backoff of its own
            await self.outbox.aupdate(
                row.id,
                next_attempt_at=max(self._redetect_at, self.clock() + 0.05),
                last_error=f"ITFlow not identified yet: {self.undetected}"[:500],
            )
            return False
        attempt = _Attempt(row)
        self._by_client = caps.v1e  # 26.09+: reads filter by client_id
        try:
            return await self._deliver_v1(client, caps, row, attempt)
        except _Hold:
            raise
        except AuthError as exc:
            # A rejected write was not written; a rejected search leaves the earlier mark as it was.
            await self._hold(row, str(exc), in_flight=attempt.unknown and not attempt.writing)
        except PermissionDenied as exc:
            if exc.reason == PermissionDenied.REASON_CLIENT_ACCESS:
                fb = self.s.fallback_client_id
                if fb and row.client_id != fb:
                    log.warning(
                        "tickets: no access to client %d for %s; retrying for fallback client %d",
                        row.client_id,
                        row.linkedid,
                        fb,
                    )
                    await self.outbox.aupdate(
                        row.id,
                        client_id=fb,
                        contact_id=0,
                        in_flight=False,
                        next_attempt_at=self.clock(),
                        follows_id=None,
                        last_error=f"client {row.client_id} not allowed: fallback {fb}",
                    )
                    return False
                await self._dead(row, f"the key may not write tickets for client {row.client_id}: {exc}")
                return False
            await self._hold(row, str(exc), in_flight=attempt.unknown and not attempt.writing)
        except WriteFailed as exc:
            await self._dead(row, f"ITFlow refused the ticket: {exc.server_message or exc}")
        except ServerError as exc:
            # A 5xx to a write (a gateway's 502/504 after PHP committed) does not prove "not written".
            await self._retry(row, str(exc), in_flight=attempt.unknown, count_age=True)
        except TransportError as exc:
            # request_sent False on the write: it never left, resend freely; a failing search keeps
            # the mark; anything else is an unknown outcome, searched for before resending.
            never_left = attempt.writing and exc.request_sent is False
            await self._retry(row, str(exc), in_flight=attempt.unknown and not never_left)
        except MalformedResponse as exc:
            await self._retry(row, str(exc), in_flight=attempt.unknown)
        except SearchIncomplete as exc:
            await self._retry(row, f"search for the call marker incomplete: {exc}", in_flight=True)
        except ItflowError as exc:
            if attempt.unknown and not attempt.writing:  # the search failed: never resend blindly
                await self._retry(row, f"search for the call marker failed: {exc}", in_flight=True)
            else:
                await self._dead(row, str(exc))
        return False

    async def _deliver_v1(
        self, client: TicketClient, caps: Capabilities, row: OutboxRow, attempt: _Attempt
    ) -> bool:
        p = row.payload
        if row.in_flight:
            settle = (row.sent_at or 0.0) + self.s.reconcile_after
            if self.clock() < settle:  # ITFlow may still commit it: search only after that
                await self.outbox.aupdate(row.id, next_attempt_at=settle)
                return False
            found = await self._reconcile_in_client(client, caps, row)
            if found is not None:
                ticket_id, reply_id = found
                await self._delivered(row, ticket_id, reply_id, row.via or "ticket", reconciled=True)
                return True
            await self.outbox.aupdate(row.id, in_flight=False)
            attempt.unknown = False

        if row.kind in _JOURNAL_KINDS:
            return await self._deliver_journal(client, caps, row, attempt)
        target = await self._target(client, row)
        if target == _WAIT:
            await self.outbox.aupdate(
                row.id,
                next_attempt_at=self.clock() + self.s.retry_first,
                last_error="waiting for the earlier ticket of this call",
            )
            return False
        details = p["details"]
        if target is not None and caps.ticket_replies:
            t_id, t_client = target
            await self.outbox.aupdate(
                row.id,
                in_flight=True,
                via="reply",
                ticket_id=t_id,
                attempts=row.attempts + 1,
                sent_at=self.clock(),
            )
            attempt.unknown = attempt.writing = True
            try:
                reply_id = await client.ticket_replies_create(
                    ticket_id=t_id, ticket_reply=details, ticket_reply_type="Internal", client_id=t_client
                )
            except NotAvailable:
                log.info("tickets: ticket_replies missing on this ITFlow; opening a linked ticket instead")
                await self.outbox.aupdate(row.id, in_flight=False, via="", ticket_id=None)
                attempt.unknown = attempt.writing = False
                return await self._create(client, row, self._linked(details, t_id), attempt)
            await self._delivered(row, t_id, reply_id, "reply")
            return True
        if target is not None:
            details = self._linked(details, target[0])
        return await self._create(client, row, details, attempt)

    @staticmethod
    def _linked(details: str, ticket_id: int) -> str:
        return (
            f"<p><b>Repeat caller:</b> follows up on ITFlow ticket id {int(ticket_id)}, "
            f"still open.</p>{details}"
        )

    async def _create(
        self,
        client: TicketClient,
        row: OutboxRow,
        details: str,
        attempt: _Attempt,
        *,
        assigned_to: int | None = None,
        writer: TicketClient | None = None,
    ) -> bool:
        p = row.payload
        floor = await self.search.floor(client, client_id=int(row.client_id) if self._by_client else None)
        await self.outbox.aupdate(
            row.id,
            in_flight=True,
            via="ticket",
            attempts=row.attempts + 1,
            sent_at=self.clock(),
            search_floor=floor,
        )
        attempt.unknown = attempt.writing = True
        # Always name the priority: 26.09 moved the UI's default and the API's is unverified
        # (docs/itflow-api.md §7 row 5). An assignee makes 26.09.3+ store the ticket Open (2), not New (1).
        ticket_id = await (writer or client).tickets_create(
            ticket_subject=p["subject"],
            ticket_details=details,
            client_id=row.client_id,
            ticket_contact_id=row.contact_id or None,
            ticket_priority=p.get("priority") or self.s.priority,
            ticket_assigned_to=assigned_to or _int(p.get("assigned_to")) or self.s.assigned_to or None,
        )
        await self.search.saw(ticket_id)
        await self._delivered(row, ticket_id, None, "ticket")
        return True

    # ------------------------------------------------------------------ the call journal

    def _writer(self, row: OutboxRow, client: TicketClient) -> TicketClient:
        """The technician's own client when they have a key (technicians: api_key_file), else ours."""
        name = row.payload.get("technician", "")
        if name and self._writers is not None:
            return self._writers(name) or client
        return client

    async def _skipped(self, row: OutboxRow, why: str) -> bool:
        await self.outbox.aupdate(row.id, state="skipped", in_flight=False, last_error=why[:500])
        log.info("tickets: %s/%s not sent: %s", row.linkedid, row.kind, why)
        return False

    async def _deliver_journal(
        self, client: TicketClient, caps: Capabilities, row: OutboxRow, attempt: _Attempt
    ) -> bool:
        """A journal note: an Internal reply (with the time worked) on the caller's open ticket, else
        a new ticket (mode ticket, note-or-ticket), else nothing (mode note); ``journal-time``: the time
        worked as a reply on the ticket its note opened. Same marks and searches as every ticket."""
        p = row.payload
        if not caps.ticket_replies:
            return await self._skipped(row, "journal unavailable: ITFlow before v26.08 has no ticket replies")
        writer = self._writer(row, client)
        worked = p.get("time_worked") or "0:00:00"
        if row.kind == "journal-time":
            note = await self.outbox.aget(row.follows_id) if row.follows_id is not None else None
            if note is not None and note.state in ("pending", "dead"):
                # A dead note waits for `tickets retry`: look again now and then, not every few seconds.
                wait = self.s.retry_first if note.state == "pending" else self.s.held_probe_interval
                await self.outbox.aupdate(
                    row.id,
                    next_attempt_at=self.clock() + wait,
                    last_error=f"waiting for the journal note of this call ({note.state})",
                )
                return False
            if note is None or note.state != "delivered" or note.via != "ticket" or not note.ticket_id:
                return await self._skipped(row, "the time worked went with the note (or there is no ticket)")
            return await self._reply(writer, client, row, attempt, note.ticket_id, note.client_id, worked)
        mode = p.get("mode", "note")
        if mode in ("note", "note-or-ticket"):
            try:
                target = await self.open_tickets.find(
                    client, client_id=row.client_id, contact_id=row.contact_id, by_client=caps.v1e
                )
            except IndexNotReady as exc:
                await self.outbox.aupdate(
                    row.id, next_attempt_at=self.clock() + self.s.retry_first, last_error=str(exc)[:500]
                )
                return False
            if target is not None:
                return await self._reply(
                    writer, client, row, attempt, target.ticket_id, target.client_id, worked
                )
            if mode == "note":
                return await self._skipped(row, f"no open ticket of client {row.client_id} to note on")
        try:
            done = await self._create(client, row, p["details"], attempt, writer=writer)
        except (AuthError, PermissionDenied) as exc:
            if writer is client:
                raise
            self._key_refused(row, exc)
            attempt.unknown = attempt.writing = False
            done = await self._create(client, row, p["details"], attempt)
        updated = await self.outbox.aget(row.id)
        if updated is not None and updated.ticket_id:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.clock()))
            self.open_tickets.created(updated.ticket_id, row.client_id, row.contact_id, when)
        return done

    async def _reply(
        self,
        writer: TicketClient,
        client: TicketClient,
        row: OutboxRow,
        attempt: _Attempt,
        ticket_id: int,
        ticket_client: int,
        worked: str,
    ) -> bool:
        await self.outbox.aupdate(
            row.id,
            in_flight=True,
            via="reply",
            ticket_id=ticket_id,
            attempts=row.attempts + 1,
            sent_at=self.clock(),
        )
        attempt.unknown = attempt.writing = True

        async def send(by: TicketClient) -> int:
            return await by.ticket_replies_create(
                ticket_id=ticket_id,
                ticket_reply=row.payload["details"],
                ticket_reply_type="Internal",
                client_id=ticket_client,
                ticket_reply_time_worked=worked,
            )

        try:
            reply_id = await send(writer)
        except (AuthError, PermissionDenied) as exc:
            if writer is client:
                raise
            self._key_refused(row, exc)  # refused: nothing was written, so ours may write it
            reply_id = await send(client)
        await self._delivered(row, ticket_id, reply_id, "reply")
        return True

    def _key_refused(self, row: OutboxRow, exc: Exception) -> None:
        log.warning(
            "journal: %s's own ITFlow key was refused (%s); %s/%s is written with the daemon's key "
            "(`pbx-bridge check` verifies technicians' keys)",
            row.payload.get("technician", "?"),
            exc,
            row.linkedid,
            row.kind,
        )

    async def _delivered(
        self, row: OutboxRow, ticket_id: int, reply_id: int | None, via: str, *, reconciled: bool = False
    ) -> None:
        await self.outbox.aupdate(
            row.id,
            state="delivered",
            in_flight=False,
            ticket_id=ticket_id,
            reply_id=reply_id,
            via=via,
            delivered_at=self.clock(),
            last_error="",
        )
        log.info(
            "tickets: %s/%s delivered as %s (ticket %d%s)%s",
            row.linkedid,
            row.kind,
            via,
            ticket_id,
            f", reply {reply_id}" if reply_id else "",
            " [found by its call marker]" if reconciled else "",
        )
        if self.metrics:
            label = row.kind if via == "ticket" else f"{row.kind}-reply"
            self.metrics.tickets_delivered.labels(kind=label).inc()

    async def _target(self, client: TicketClient, row: OutboxRow) -> tuple[int, int] | Literal["wait"] | None:
        """(ticket_id, client_id) to follow up, None for a fresh ticket, or _WAIT."""
        if row.follows_id is not None:
            earlier = await self.outbox.aget(row.follows_id)
            if earlier is not None:
                if earlier.state == "pending":
                    return _WAIT
                if earlier.state == "delivered" and earlier.ticket_id:
                    return (earlier.ticket_id, earlier.client_id)
        if not self.s.repeat_callers or self.s.repeat_window <= 0:
            return None
        earlier = await self.outbox.aearlier_ticket(row, self.clock() - self.s.repeat_window)
        if earlier is None or earlier.ticket_id is None:
            return None
        rows = (await client.tickets_read(ticket_id=earlier.ticket_id)).rows
        if not rows or not is_open(rows[0]):
            return None
        try:
            t_client = int(rows[0].get("ticket_client_id") or earlier.client_id)
        except ValueError:
            t_client = earlier.client_id
        return (earlier.ticket_id, t_client)

    async def _reconcile_in_client(
        self, client: TicketClient, caps: Capabilities, row: OutboxRow
    ) -> tuple[int, int | None] | None:
        """On 26.09+ (reads filter by client_id) a lost ticket is looked for among its client's tickets
        only; otherwise (and if the filter turns out ignored) among all tickets."""
        if row.via == "reply" or not caps.v1e:
            return await self._reconcile(client, row)
        try:
            ticket_id = await self.search.search(
                client, row.payload["marker"], row.search_floor, client_id=int(row.client_id)
            )
        except FilterIgnored:
            log.warning("tickets: ITFlow ignored client_id on tickets/read; searching every ticket")
            return await self._reconcile(client, row)
        return (ticket_id, None) if ticket_id else None

    async def _reconcile(self, client: TicketClient, row: OutboxRow) -> tuple[int, int | None] | None:
        marker = row.payload["marker"]
        if row.via == "reply" and row.ticket_id:
            reply_id = await self.search.search_replies(client, marker, row.ticket_id)
            return None if reply_id is None else (row.ticket_id, reply_id or None)
        ticket_id = await self.search.search(client, marker, row.search_floor)
        log.info(
            "tickets: %s/%s: call marker %s among the tickets newer than id %d (%d reads)",
            row.linkedid,
            row.kind,
            "found" if ticket_id else "not found",
            row.search_floor,
            self.search.reads,
        )
        return (ticket_id, None) if ticket_id else None


def _int(raw: str | None) -> int | None:
    try:
        return int(raw or 0) or None
    except ValueError:
        return None
