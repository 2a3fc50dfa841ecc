"""The open ticket a call is noted on: the contact's, else the client's, most recently updated.

* 26.09+ (reads honour ``client_id``, docs/itflow-api.md §7 row 1): that client's tickets are read
  (bounded pages), every row's client checked (a read that answers another client's ticket means the
  filter was ignored: the index is used instead).
* v26.08 (reads ignore ``client_id``): never page every ticket per call. An index of the open tickets
  is rebuilt with each directory sync (one listing of all tickets then, not per call) and kept up to
  date by the tickets we create; the candidate is read by id before it is used (it may have been closed
  since the last sync).

"Most recently updated": ``ticket_updated_at`` (else ``ticket_created_at``), then the higher id.
Statuses 4 (Resolved) and 5 (Closed), or a resolved/closed date, are not open (docs/itflow-api.md §4.3).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from pbx_bridge.errors import PbxBridgeError
from pbx_bridge.itflow.ticket_state import is_open
from pbx_bridge.tickets.reconcile import TicketReader

__all__ = ["IndexNotReady", "OpenTicket", "OpenTickets"]

log = logging.getLogger("pbx_bridge.tickets")

_MAX_PAGES = 200  # one client's tickets on 26.09+; the whole list on a v26.08 index refresh: x page


class IndexNotReady(PbxBridgeError):
    """v26.08 and no open-ticket index yet (no directory sync finished): the note waits."""


@dataclass(frozen=True, slots=True)
class OpenTicket:
    ticket_id: int
    client_id: int
    contact_id: int
    updated: str  # "YYYY-MM-DD HH:MM:SS": compares as text

    @classmethod
    def of(cls, t: dict[str, str]) -> OpenTicket | None:
        try:
            return cls(
                int(t.get("ticket_id") or 0),
                int(t.get("ticket_client_id") or 0),
                int(t.get("ticket_contact_id") or 0),
                t.get("ticket_updated_at") or t.get("ticket_created_at") or "",
            )
        except ValueError:
            return None


def _best(candidates: list[OpenTicket], contact_id: int) -> list[OpenTicket]:
    """The contact's tickets first, then the client's; each most recently updated first."""
    order = sorted(candidates, key=lambda t: (t.updated, t.ticket_id), reverse=True)
    mine = [t for t in order if contact_id and t.contact_id == contact_id]
    return mine + [t for t in order if t not in mine]


class OpenTickets:
    def __init__(self, *, page: int = 200, clock: Callable[[], float]) -> None:
        self.page = page
        self.clock = clock
        self._index: dict[int, list[OpenTicket]] | None = None
        self.refreshed_at: float | None = None
        self.reads = 0  # of the last find/refresh (tests, logs)

    @property
    def ready(self) -> bool:
        return self._index is not None

    async def refresh(self, client: TicketReader) -> int:
        """Rebuild the v26.08 index from one listing of every ticket; returns how many are open."""
        self.reads = 0
        index: dict[int, list[OpenTicket]] = {}
        count = 0
        for rows in await self._pages(client, None):
            for t in rows:
                ot = OpenTicket.of(t) if is_open(t) else None
                if ot is not None and ot.ticket_id:
                    index.setdefault(ot.client_id, []).append(ot)
                    count += 1
        self._index = index
        self.refreshed_at = self.clock()
        log.info("tickets: open-ticket index rebuilt: %d open tickets (%d reads)", count, self.reads)
        return count

    def created(self, ticket_id: int, client_id: int, contact_id: int, when: str) -> None:
        """A ticket we just opened is open: note it without waiting for the next sync."""
        if self._index is not None:
            self._index.setdefault(client_id, []).append(OpenTicket(ticket_id, client_id, contact_id, when))

    async def find(
        self, client: TicketReader, *, client_id: int, contact_id: int, by_client: bool
    ) -> OpenTicket | None:
        """The open ticket to note on, or None. ``by_client``: this ITFlow honours ``client_id``."""
        self.reads = 0
        if by_client:
            pages = await self._pages(client, client_id)
            rows = [t for page in pages for t in page]
            if all(str(t.get("ticket_client_id", "")) == str(client_id) for t in rows):
                found = [ot for t in rows if is_open(t) and (ot := OpenTicket.of(t)) is not None]
                best = _best(found, contact_id)
                return best[0] if best else None
            log.warning("tickets: ITFlow ignored client_id on tickets/read; using the open-ticket index")
        if self._index is None:
            raise IndexNotReady("the open-ticket index is built at the first directory sync")
        for candidate in _best(list(self._index.get(client_id, [])), contact_id):
            self.reads += 1
            rows = (await client.tickets_read(ticket_id=candidate.ticket_id)).rows
            if rows and is_open(rows[0]) and str(rows[0].get("ticket_client_id", "")) == str(client_id):
                return candidate
            self._index[client_id].remove(candidate)  # closed since the last sync
        return None

    async def _pages(self, client: TicketReader, client_id: int | None) -> list[list[dict[str, str]]]:
        out: list[list[dict[str, str]]] = []
        offset = 0
        for _ in range(_MAX_PAGES):
            self.reads += 1
            if client_id is None:
                rows = (await client.tickets_read(limit=self.page, offset=offset)).rows
            else:
                rows = (await client.tickets_read(client_id=client_id, limit=self.page, offset=offset)).rows
            out.append(rows)
            if len(rows) < self.page:
                return out
            offset += len(rows)
        log.warning("tickets: stopped listing tickets after %d pages", _MAX_PAGES)
        return out
