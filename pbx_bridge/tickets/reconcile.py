"""Find the ticket a create of unknown outcome may have made: search newest first, down to a floor.

ITFlow's ``tickets/read`` lists ``ORDER BY ticket_id ASC LIMIT n OFFSET k`` and has no "newest first",
so the search first finds where the list ends (one page read at the remembered end, else a galloping
and binary search of one-row probes: about 2*log2(N) reads on N tickets), then reads pages backwards.
Ticket ids only grow, so a ticket made by our write has an id above the newest id we knew of before
sending it (the row's ``search_floor``): the search stops at the first page reaching the floor. Cost:
the tickets created since that write, not the size of the install.

The answer is three-valued: a ticket id (found), None (proven absent: every ticket above the floor was
read), or :class:`SearchIncomplete` (the page bound was hit): the outcome stays unknown.
"""

from __future__ import annotations

import re
from typing import Protocol

from pbx_bridge.errors import PbxBridgeError
from pbx_bridge.itflow.response import V1Response

__all__ = ["FilterIgnored", "MarkerSearch", "SearchIncomplete", "TicketReader", "carries_marker"]

_MAX_PROBES = 80  # galloping + bisection: enough for 2**40 tickets
_MAX_PAGES = 2000  # pages read downwards in one search (400,000 tickets at the default window)


def carries_marker(text: str, marker: str) -> bool:
    """``marker`` in ``text`` as a whole, not as the start of a longer one: the Linkedid is ended by
    ``;``, the kind by this check (``kind=missed`` must not match a future ``kind=missed-callback``)."""
    return re.search(re.escape(marker) + r"(?![\w.-])", text) is not None


class SearchIncomplete(PbxBridgeError):
    """The bound was reached before the floor: absence is not proven."""


class FilterIgnored(PbxBridgeError):
    """A ``client_id``-filtered read answered another client's ticket (before 26.09 the filter is
    ignored): search every ticket instead."""


class TicketReader(Protocol):
    """The reads a search makes, as :class:`pbx_bridge.itflow.v1.V1Client` offers them."""

    async def tickets_read(
        self,
        *,
        ticket_id: int | None = None,
        client_id: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> V1Response: ...

    async def ticket_replies_read(
        self, *, ticket_id: int | None = None, limit: int | None = None, offset: int | None = None
    ) -> V1Response: ...


class _Meta(Protocol):
    async def ameta(self, key: str, default: str = "") -> str: ...
    async def aset_meta(self, key: str, value: str) -> None: ...


class MarkerSearch:
    """``await search(client, marker, floor)``; remembers the list's end and the newest id it saw."""

    END_KEY = "reconcile_end"
    HIGH_KEY = "ticket_high_water"
    PROBED_KEY = "ticket_high_water_probed"

    def __init__(self, meta: _Meta, *, window: int) -> None:
        self.meta = meta
        self.window = window
        self.reads = 0  # requests made by the last search (for tests and logs)
        self._client_id: int | None = None

    async def high_water(self) -> int:
        return await self._int(self.HIGH_KEY)

    async def floor(self, client: TicketReader, *, client_id: int | None = None) -> int:
        """The newest ticket id known before a write: learnt once by finding the list's end (a fresh
        state file), afterwards kept up to date by every create and search. ``client_id``: learn it
        from that client's tickets (26.09+; a lower floor is always safe, only slower)."""
        known = await self.high_water()
        if known or await self.meta.ameta(self.PROBED_KEY, ""):
            return known
        self._client_id = client_id
        end_key = self.END_KEY if client_id is None else f"{self.END_KEY}:client:{client_id}"
        try:
            end, newest = await self._end(client, end_key)
        except FilterIgnored:
            self._client_id = None
            end_key = self.END_KEY
            end, newest = await self._end(client, end_key)
        if end and not newest:
            newest = await self._rows(client, limit=1, offset=end - 1)
        top = max((_id(t) for t in newest), default=0)
        await self.saw(top)
        await self.meta.aset_meta(self.PROBED_KEY, "1")
        await self.meta.aset_meta(end_key, str(end))
        return top

    async def saw(self, ticket_id: int) -> None:
        """A ticket id we know exists (our own create's insert_id): raise the high-water mark."""
        if ticket_id > await self.high_water():
            await self.meta.aset_meta(self.HIGH_KEY, str(ticket_id))

    async def search(
        self, client: TicketReader, marker: str, floor: int, *, client_id: int | None = None
    ) -> int | None:
        """``client_id``: search only that client's tickets (26.09+ reads honour the filter; raises
        :class:`FilterIgnored` when this ITFlow does not)."""
        self.reads = 0
        self._client_id = client_id
        end_key = self.END_KEY if client_id is None else f"{self.END_KEY}:client:{client_id}"
        end, newest = await self._end(client, end_key)
        offset = end
        top = 0
        try:
            for page_no in range(_MAX_PAGES):
                if offset <= 0:
                    return None
                start = max(0, offset - self.window)
                rows = (
                    newest
                    if page_no == 0 and newest and start == end - len(newest)
                    else await self._rows(client, limit=offset - start, offset=start)
                )
                if not rows:
                    raise SearchIncomplete(
                        f"tickets/read gave no rows at offset {start} (tickets deleted during the search?)"
                    )
                ids = [_id(t) for t in rows]
                top = max(top, *ids)
                for t in rows:
                    if carries_marker(str(t.get("ticket_details", "")), marker):
                        return _id(t)
                if min(ids) <= floor:
                    return None
                offset = start
            raise SearchIncomplete(f"{_MAX_PAGES} pages read without reaching ticket id {floor}")
        finally:
            await self.meta.aset_meta(end_key, str(end))
            if top:
                await self.saw(top)

    async def search_replies(self, client: TicketReader, marker: str, ticket_id: int) -> int | None:
        """The reply to ``ticket_id`` that carries ``marker``: its id (0 when ITFlow gave none), or None
        once every reply was read. ``ticket_replies/read`` pages too (50 by default, oldest first), so
        a busy ticket's newest reply -- ours -- is past the first page: read them all, bounded."""
        self.reads = 0
        offset = 0
        for _ in range(_MAX_PAGES):
            self.reads += 1
            rows = (
                await client.ticket_replies_read(ticket_id=ticket_id, limit=self.window, offset=offset)
            ).rows
            for rep in rows:
                if carries_marker(str(rep.get("ticket_reply") or ""), marker):
                    try:
                        return int(rep.get("ticket_reply_id") or 0)
                    except ValueError:
                        return 0
            if len(rows) < self.window:
                return None
            offset += len(rows)
        raise SearchIncomplete(f"{_MAX_PAGES} pages of replies to ticket {ticket_id} read")

    # ------------------------------------------------------------------ where the list ends

    async def _end(self, client: TicketReader, end_key: str) -> tuple[int, list[dict[str, str]]]:
        """(number of tickets the key sees, the last page when the fast path read it)."""
        hint = await self._int(end_key)
        if hint > 0:  # usually one read: the last page, ending where it ended before
            start = max(0, hint - self.window)
            rows = await self._rows(client, limit=self.window + 1, offset=start)
            if 0 < len(rows) <= self.window:
                return start + len(rows), rows
        lo, hi = -1, -1  # lo: an offset that has a row; hi: one that has none (-1: unknown)
        k = max(0, hint)
        if await self._has(client, k):
            lo = k
        else:
            hi = k
        step = self.window
        for _ in range(_MAX_PROBES):
            if hi < 0:  # gallop up
                k = lo + step
                if await self._has(client, k):
                    lo = k
                else:
                    hi = k
            elif lo < 0 and hi > 0:  # gallop down
                k = max(0, hi - step)
                if await self._has(client, k):
                    lo = k
                else:
                    hi = k
            else:
                break
            step *= 2
        for _ in range(_MAX_PROBES):  # bisect: lo has a row, hi has none
            if hi - lo <= 1:
                break
            mid = (lo + hi) // 2
            if await self._has(client, mid):
                lo = mid
            else:
                hi = mid
        return max(0, hi), []

    async def _has(self, client: TicketReader, offset: int) -> bool:
        return bool(await self._rows(client, limit=1, offset=offset))

    async def _rows(self, client: TicketReader, *, limit: int, offset: int) -> list[dict[str, str]]:
        self.reads += 1
        cid = self._client_id
        if cid is None:
            return (await client.tickets_read(limit=limit, offset=offset)).rows
        rows = (await client.tickets_read(client_id=cid, limit=limit, offset=offset)).rows
        if any(str(t.get("ticket_client_id", "")) != str(cid) for t in rows):
            raise FilterIgnored(f"tickets/read?client_id={cid} answered other clients' tickets")
        return rows

    async def _int(self, key: str) -> int:
        try:
            return max(0, int(await self.meta.ameta(key, "0")))
        except ValueError:
            return 0


def _id(t: dict[str, str]) -> int:
    try:
        return int(t.get("ticket_id") or 0)
    except ValueError:
        return 0
