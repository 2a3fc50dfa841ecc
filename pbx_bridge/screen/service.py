"""The calls page as a part of the daemon: the board, sign-in sessions, click-to-dial, and the task that
fills in what arrives later (a caller's open tickets, the ticket a missed call got)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from pbx_bridge.component import Health
from pbx_bridge.screen.board import BoardCall, CallBoard
from pbx_bridge.screen.caller_tickets import CallerTickets
from pbx_bridge.screen.dial import Dialer
from pbx_bridge.screen.links import ItflowLinks
from pbx_bridge.screen.sessions import FailureLimit, Sessions
from pbx_bridge.screen.settings import ScreenSettings
from pbx_bridge.technicians import TechniciansSettings

__all__ = ["ScreenService", "TicketOf"]

log = logging.getLogger("pbx_bridge.screen")

# The ticket pbx-bridge opened (or replied to) for a call, once delivered: its id, else None.
TicketOf = Callable[[str], Awaitable[int | None]]
_WATCH_SECONDS = 15 * 60.0  # a missed call's ticket is looked for this long after the call
_POLL = 1.0


class ScreenService:
    name = "screen"

    def __init__(
        self,
        settings: ScreenSettings,
        technicians: TechniciansSettings,
        board: CallBoard,
        links: ItflowLinks,
        open_tickets: CallerTickets,
        dialer: Dialer,
        *,
        ticket_of: TicketOf | None,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.technicians = technicians
        self.board = board
        self.links = links
        self.open_tickets = open_tickets
        self.dialer = dialer
        self.ticket_of = ticket_of
        self.clock = clock
        self.sessions = Sessions(
            clock=clock, lifetime=settings.session_hours * 3600.0, idle=settings.idle_minutes * 60.0
        )
        self.login_failures = FailureLimit(settings.login_attempts, 15 * 60.0, clock)
        # An office behind one NAT address shares the per-address count: five times the per-name one.
        self.peer_failures = FailureLimit(settings.login_attempts * 5, 15 * 60.0, clock)
        self._watch: dict[str, float] = {}  # linkedid -> until
        self._tasks: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        board.on_party = self._party_known
        board.on_finished = self._finished

    # ------------------------------------------------------------------ Component
    async def start(self) -> None:
        self._poller = asyncio.create_task(self._poll(), name="screen-tickets")

    async def stop(self, deadline: float) -> None:
        self.board.close_listeners()
        tasks = [*self._tasks, *([self._poller] if self._poller else [])]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._poller = None

    def health(self) -> Health:
        return Health(True, f"{len(self.board.live)} live calls, {len(self.sessions)} signed in")

    # ------------------------------------------------------------------ later facts
    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _party_known(self, call: BoardCall) -> None:
        client_id = int(call.party.get("client_id") or 0)
        contact_id = int(call.party.get("contact_id") or 0)
        self._spawn(self._fill_tickets(call, client_id, contact_id))

    async def _fill_tickets(self, call: BoardCall, client_id: int, contact_id: int) -> None:
        try:
            status, tickets = await self.open_tickets.for_party(client_id, contact_id)
        except Exception:
            log.exception("screen: open tickets of client %d", client_id)
            return
        for t in tickets:
            t["url"] = self.links.ticket(client_id, int(t["id"]))
        call.open_tickets = {"status": status, "tickets": tickets}
        self.board.publish(call)

    def _finished(self, call: BoardCall) -> None:
        if self.ticket_of is not None:
            self._watch[call.linkedid] = self.clock() + _WATCH_SECONDS

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(_POLL)
            if not self._watch or self.ticket_of is None:
                continue
            now = self.clock()
            for lid, until in list(self._watch.items()):
                call = self.board.get(lid)
                if call is None or now > until:
                    self._watch.pop(lid, None)
                    continue
                try:
                    ticket_id = await self.ticket_of(lid)
                except Exception:
                    log.exception("screen: the ticket of call %s could not be read", lid)
                    continue
                if ticket_id:
                    self._watch.pop(lid, None)
                    client_id = int(call.party.get("client_id") or 0)
                    call.ticket = {"id": ticket_id, "url": self.links.ticket(client_id, ticket_id)}
                    self.board.publish(call)
