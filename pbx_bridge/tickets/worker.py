"""Delivers the outbox to ITFlow: exactly one ticket per (Linkedid, kind), whatever fails on the way.

How each answer is handled (issue 7, section 5):

* transport error or timeout *before* the request left -> retry with backoff and jitter;
* result unknown (timeout or cut connection after sending, an unreadable 200, a crash: ``in_flight``
  is still set) -> before re-sending, look for the call marker among recent tickets (or the target
  ticket's replies) and take the ticket found;
* 500 -> retry with backoff; dead-letter once the row has failed for ``dead_letter_after``;
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
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pbx_bridge.component import Health
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
from pbx_bridge.metrics import Metrics
from pbx_bridge.tickets.outbox import Outbox, OutboxRow
from pbx_bridge.tickets.settings import TicketsSettings

__all__ = ["OutboxWorker", "TicketClient"]

log = logging.getLogger("pbx_bridge.tickets")

_CLOSED_STATUS = {"4", "5"}
_CLOSED_NAMES = {"resolved", "closed"}
_MAX_RECONCILE_PAGES = 500
_UNAVAILABLE = "ticketing unavailable: this ITFlow has no v1 ticket API"


class TicketClient(Protocol):
    """The part of :class:`pbx_bridge.itflow.v1.V1Client` the worker uses."""

    async def call(self, module: str, function: str, *, method: str | None = None, **params: Any) -> Any: ...


class _Hold(Exception):
    pass


class OutboxWorker:
    name = "tickets-outbox"

    def __init__(
        self,
        outbox: Outbox,
        client: TicketClient | Callable[[], TicketClient | None],
        capabilities: Callable[[], Awaitable[Any]],
        settings: TicketsSettings,
        *,
        clock: Callable[[], float],
        metrics: Metrics | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
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
        if self.unavailable:
            return Health(False, self.unavailable)
        if self.held:
            return Health(False, f"ticket delivery held: {self.held_reason}")
        return Health(True, "delivering")

    async def probe(self) -> None:
        """Say at start whether this ITFlow can take tickets (legacy api.php cannot)."""
        try:
            caps = await self._capabilities()
        except Exception as exc:        # ITFlow down: delivery retries; nothing to say yet
            log.info("tickets: ITFlow not reachable at start (%s); tickets wait in the outbox", exc)
            return
        if getattr(caps, "tickets", None) != "v1" or self.client() is None:
            self.unavailable = _UNAVAILABLE
            log.warning("tickets: %s (legacy api.php); missed calls are tracked, not ticketed",
                        self.unavailable)
        else:
            self.unavailable = ""

    async def _loop(self) -> None:
        await self.probe()
        while not self._stopping:
            try:
                await self.run_once()
                next_at = await self.outbox.anext_due_at()
            except Exception:   # never let one bad row or a store hiccup end delivery
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
                if self.held:       # a successful probe lifts the hold
                    log.warning("tickets: ITFlow accepts the key again; delivery resumes")
                    self.held = False
                    self.held_reason = ""
                    if self.metrics:
                        self.metrics.outbox_held.set(0)
            except _Hold:
                break
        if was_held and not self.held:
            delivered += await self.run_once(limit)    # the probe succeeded: deliver the rest now
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

    def client(self) -> TicketClient | None:
        c = self._client
        return c() if callable(c) and not hasattr(c, "call") else c   # type: ignore[return-value]

    def _backoff(self, attempts: int) -> float:
        base = min(self.s.retry_max, self.s.retry_first * (2 ** max(0, attempts - 1)))
        return base * (0.5 + self.rng.random())        # jitter: 0.5x .. 1.5x

    async def _retry(self, row: OutboxRow, error: str, *, in_flight: bool, count_age: bool = False) -> None:
        now = self.clock()
        first = row.first_error_at if row.first_error_at is not None else now
        if count_age and now - first >= self.s.dead_letter_after:
            await self._dead(row, f"ITFlow kept failing for {now - first:.0f} s: {error}")
            return
        await self.outbox.aupdate(row.id, next_attempt_at=now + self._backoff(row.attempts + 1),
                                  attempts=row.attempts + 1, in_flight=in_flight, last_error=error[:500],
                                  first_error_at=first)
        log.info("tickets: %s/%s not delivered yet (%s); retrying", row.linkedid, row.kind, error)

    async def _dead(self, row: OutboxRow, reason: str) -> None:
        await self.outbox.aupdate(row.id, state="dead", in_flight=False, last_error=reason[:500])
        log.error("tickets: %s/%s dead-lettered: %s (kept; `pbx-bridge tickets retry %d` resends it)",
                  row.linkedid, row.kind, reason, row.id)

    async def _hold(self, row: OutboxRow, reason: str) -> None:
        if not self.held:
            log.error("tickets: ITFlow rejects the API key (%s); holding all ticket delivery until it works",
                      reason)
        self.held = True
        self.held_reason = reason
        self.held_until = self.clock() + self.s.held_probe_interval
        if self.metrics:
            self.metrics.outbox_held.set(1)
        await self.outbox.aupdate(row.id, in_flight=False, attempts=row.attempts,
                                  last_error=f"held: {reason}"[:500])
        raise _Hold

    # ------------------------------------------------------------------ delivery

    async def _deliver(self, row: OutboxRow) -> bool:
        client = self.client()
        try:
            caps = await self._capabilities()
        except ItflowError as exc:
            await self._retry(row, f"ITFlow not reachable for detection: {exc}", in_flight=row.in_flight)
            return False
        if client is None or getattr(caps, "tickets", None) != "v1":
            self.unavailable = _UNAVAILABLE
            await self.outbox.aupdate(row.id, next_attempt_at=self.clock() + self.s.held_probe_interval,
                                      last_error=self.unavailable)
            return False
        self.unavailable = ""
        try:
            return await self._deliver_v1(client, caps, row)
        except _Hold:
            raise
        except AuthError as exc:
            await self._hold(row, str(exc))
        except PermissionDenied as exc:
            if exc.reason == PermissionDenied.REASON_CLIENT_ACCESS:
                fb = self.s.fallback_client_id
                if fb and row.client_id != fb:
                    log.warning("tickets: no access to client %d for %s; retrying for fallback client %d",
                                row.client_id, row.linkedid, fb)
                    await self.outbox.aupdate(row.id, client_id=fb, contact_id=0, in_flight=False,
                                              next_attempt_at=self.clock(), follows_id=None,
                                              last_error=f"client {row.client_id} not allowed: fallback {fb}")
                    return False
                await self._dead(row, f"the key may not write tickets for client {row.client_id}: {exc}")
                return False
            await self._hold(row, str(exc))
        except WriteFailed as exc:
            await self._dead(row, f"ITFlow refused the ticket: {exc.server_message or exc}")
        except ServerError as exc:
            await self._retry(row, str(exc), in_flight=False, count_age=True)
        except TransportError as exc:
            # request_sent False: it never left, resend freely; otherwise reconcile before resending.
            await self._retry(row, str(exc), in_flight=exc.request_sent is not False)
        except MalformedResponse as exc:
            await self._retry(row, str(exc), in_flight=True)
        except ItflowError as exc:
            await self._dead(row, str(exc))
        return False

    async def _deliver_v1(self, client: TicketClient, caps: Any, row: OutboxRow) -> bool:
        p = row.payload
        if row.in_flight:
            found = await self._reconcile_in_client(client, caps, row)
            if found is not None:
                ticket_id, reply_id = found
                await self._delivered(row, ticket_id, reply_id, row.via or "ticket", reconciled=True)
                return True
            await self.outbox.aupdate(row.id, in_flight=False)

        target = await self._target(client, row)
        if target is _WAIT:
            await self.outbox.aupdate(row.id, next_attempt_at=self.clock() + self.s.retry_first,
                                      last_error="waiting for the earlier ticket of this call")
            return False
        details = p["details"]
        if target is not None and getattr(caps, "ticket_replies", False):
            t_id, t_client = target
            await self.outbox.aupdate(row.id, in_flight=True, via="reply", ticket_id=t_id,
                                      attempts=row.attempts + 1)
            try:
                r = await client.call("ticket_replies", "create", ticket_id=t_id, ticket_reply=details,
                                      ticket_reply_type="Internal", client_id=t_client)
            except NotAvailable:
                log.info("tickets: ticket_replies missing on this ITFlow; opening a linked ticket instead")
                await self.outbox.aupdate(row.id, in_flight=False, via="", ticket_id=None)
                return await self._create(client, row, self._linked(details, t_id))
            await self._delivered(row, t_id, _insert_id(r), "reply")
            return True
        if target is not None:
            details = self._linked(details, target[0])
        return await self._create(client, row, details)

    @staticmethod
    def _linked(details: str, ticket_id: int) -> str:
        return (f"<p><b>Repeat caller:</b> follows up on ITFlow ticket id {int(ticket_id)}, "
                f"still open.</p>{details}")

    async def _create(self, client: TicketClient, row: OutboxRow, details: str) -> bool:
        p = row.payload
        await self.outbox.aupdate(row.id, in_flight=True, via="ticket", attempts=row.attempts + 1)
        r = await client.call("tickets", "create", ticket_subject=p["subject"], ticket_details=details,
                              client_id=row.client_id, ticket_contact_id=row.contact_id or None,
                              **_ticket_fields(p, self.s))
        ticket_id = _insert_id(r)
        if ticket_id is None:
            raise MalformedResponse("tickets/create answered without an insert_id", endpoint="tickets/create")
        await self._delivered(row, ticket_id, None, "ticket")
        return True

    async def _delivered(self, row: OutboxRow, ticket_id: int, reply_id: int | None, via: str, *,
                         reconciled: bool = False) -> None:
        await self.outbox.aupdate(row.id, state="delivered", in_flight=False, ticket_id=ticket_id,
                                  reply_id=reply_id, via=via, delivered_at=self.clock(), last_error="")
        log.info("tickets: %s/%s delivered as %s (ticket %d%s)%s", row.linkedid, row.kind, via, ticket_id,
                 f", reply {reply_id}" if reply_id else "",
                 " [found by its call marker]" if reconciled else "")
        if self.metrics:
            label = row.kind if via == "ticket" else f"{row.kind}-reply"
            self.metrics.tickets_delivered.labels(kind=label).inc()

    async def _target(self, client: TicketClient, row: OutboxRow) -> Any:
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
        r = await client.call("tickets", "read", ticket_id=earlier.ticket_id)
        rows = getattr(r, "rows", [])
        if not rows or not _is_open(rows[0]):
            return None
        try:
            t_client = int(rows[0].get("ticket_client_id") or earlier.client_id)
        except ValueError:
            t_client = earlier.client_id
        return (earlier.ticket_id, t_client)

    async def _reconcile_in_client(self, client: TicketClient, caps: Any,
                                   row: OutboxRow) -> tuple[int, int | None] | None:
        """On 26.09+ (reads filter by client_id) a lost ticket is looked for among its client's tickets
        only, with an offset kept per client; otherwise (and if the filter turns out ignored) as before."""
        if row.via == "reply" or not getattr(caps, "v1e", False):
            return await self._reconcile(client, row)
        key = f"reconcile_offset:client:{int(row.client_id)}"
        try:
            known = int(await self.outbox.ameta(key, "0"))
        except ValueError:
            known = 0
        window = self.s.reconcile_window
        got = await _client_tickets(client, int(row.client_id), max(0, known - window), window,
                                    row.payload["marker"])
        if got is None:
            log.warning("tickets: ITFlow ignored client_id on tickets/read; searching every ticket")
            return await self._reconcile(client, row)
        found, offset = got
        await self.outbox.aset_meta(key, str(offset))
        return found

    async def _reconcile(self, client: TicketClient, row: OutboxRow) -> tuple[int, int | None] | None:
        marker = row.payload["marker"]
        if row.via == "reply" and row.ticket_id:
            r = await client.call("ticket_replies", "read", ticket_id=row.ticket_id)
            for rep in getattr(r, "rows", []):
                if marker in rep.get("ticket_reply", ""):
                    return row.ticket_id, int(rep.get("ticket_reply_id") or 0) or None
            return None
        window = self.s.reconcile_window
        try:
            known = int(await self.outbox.ameta("reconcile_offset", "0"))
        except ValueError:
            known = 0
        offset = max(0, known - window)
        found: tuple[int, int | None] | None = None
        for _ in range(_MAX_RECONCILE_PAGES):
            r = await client.call("tickets", "read", limit=window, offset=offset)
            rows = getattr(r, "rows", [])
            for t in rows:
                if marker in t.get("ticket_details", ""):
                    found = (int(t["ticket_id"]), None)
            offset += len(rows)
            if len(rows) < window:
                break
        await self.outbox.aset_meta("reconcile_offset", str(offset))
        return found


_WAIT = object()


async def _client_tickets(client: TicketClient, client_id: int, start: int, window: int,
                          marker: str) -> tuple[tuple[int, int | None] | None, int] | None:
    """Search the client's own tickets (``tickets/read?client_id=N``, 26.09+) from ``start`` for the
    marker: (found, next offset), or None when a row of another client came back (the server ignored
    the filter: the caller falls back to the full listing)."""
    offset, found = start, None
    for _ in range(_MAX_RECONCILE_PAGES):
        r = await client.call("tickets", "read", client_id=client_id, limit=window, offset=offset)
        rows = getattr(r, "rows", [])
        for t in rows:
            if str(t.get("ticket_client_id", "")) != str(client_id):
                return None
            if marker in t.get("ticket_details", ""):
                found = (int(t["ticket_id"]), None)
        offset += len(rows)
        if len(rows) < window:
            break
    return found, offset


def _ticket_fields(payload: dict[str, Any], settings: Any) -> dict[str, Any]:
    """Always name the priority: 26.09 moved the UI's default and the API's is unverified
    (docs/itflow-api.md §7 row 5). An assignee makes 26.09.3+ store the ticket Open (2), not New (1)."""
    fields: dict[str, Any] = {"ticket_priority": payload.get("priority") or settings.priority}
    if settings.assigned_to:
        fields["ticket_assigned_to"] = settings.assigned_to
    return fields


def _insert_id(r: Any) -> int | None:
    value = getattr(r, "insert_id", None)
    return int(value) if value is not None else None


def _is_open(t: dict[str, str]) -> bool:
    if t.get("ticket_status", "") in _CLOSED_STATUS:
        return False
    if t.get("ticket_status_name", "").strip().lower() in _CLOSED_NAMES:
        return False
    return not (t.get("ticket_resolved_at") or t.get("ticket_closed_at"))
