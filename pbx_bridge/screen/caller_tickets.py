"""A caller's open tickets, read over ITFlow's API (``tickets/read?client_id=N``) and cached briefly.

The filter narrows reads from 26.09 on and in the V1b/V1c eras; v26.08 ignores it (docs/itflow-api.md
§7): every row's client is checked here, and a listing of other clients' tickets stops the read
("unavailable") instead of paging through every ticket of the install while a phone rings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pbx_bridge.errors import PbxBridgeError
from pbx_bridge.itflow.ticket_state import is_open
from pbx_bridge.itflow.v1 import V1Client

__all__ = ["CallerTickets"]

log = logging.getLogger("pbx_bridge.screen")

_PAGE = 100
_MAX_PAGES = 5
Json = dict[str, Any]


class CallerTickets:
    def __init__(self, v1: V1Client | None, *, ttl: float, clock: Callable[[], float]) -> None:
        self.v1 = v1
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[int, tuple[float, list[dict[str, str]] | None]] = {}
        self._inflight: dict[int, asyncio.Future[list[dict[str, str]] | None]] = {}

    async def of_client(self, client_id: int) -> list[dict[str, str]] | None:
        """The client's open tickets (rows), or None when this ITFlow cannot say (no v1, filter ignored,
        ITFlow down). Cached ``ttl`` seconds; concurrent asks share one read."""
        hit = self._cache.get(client_id)
        if hit is not None and self.clock() - hit[0] < self.ttl:
            return hit[1]
        running = self._inflight.get(client_id)
        if running is not None:
            return await asyncio.shield(running)
        fut: asyncio.Future[list[dict[str, str]] | None] = asyncio.get_running_loop().create_future()
        self._inflight[client_id] = fut
        try:
            rows = await self._read(client_id)
            self._cache[client_id] = (self.clock(), rows)
            if len(self._cache) > 2000:
                self._cache.pop(next(iter(self._cache)))
            fut.set_result(rows)
            return rows
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            del self._inflight[client_id]

    async def _read(self, client_id: int) -> list[dict[str, str]] | None:
        if self.v1 is None:
            return None
        found: list[dict[str, str]] = []
        try:
            for page in range(_MAX_PAGES):
                res = await self.v1.tickets_read(client_id=client_id, limit=_PAGE, offset=page * _PAGE)
                rows = res.rows
                if any(r.get("ticket_client_id", "") != str(client_id) for r in rows):
                    log.info("screen: tickets/read ignores client_id on this ITFlow: open tickets not shown")
                    return None
                found += [r for r in rows if is_open(r)]
                if len(rows) < _PAGE:
                    break
        except PbxBridgeError as exc:
            log.info("screen: open tickets of client %d not read: %s", client_id, exc)
            return None
        return found

    async def for_party(self, client_id: int, contact_id: int) -> tuple[str, list[Json]]:
        """("ok", tickets) with the contact's own open tickets first, or ("unavailable", [])."""
        rows = await self.of_client(client_id)
        if rows is None:
            return "unavailable", []
        mine = [r for r in rows if contact_id and r.get("ticket_contact_id") == str(contact_id)]
        rest = [r for r in rows if r not in mine]
        out = []
        for r in [*mine, *rest][:10]:
            try:
                ticket_id = int(r.get("ticket_id", ""))
            except ValueError:
                continue
            out.append(
                {
                    "id": ticket_id,
                    "subject": r.get("ticket_subject", ""),
                    "number": f"{r.get('ticket_prefix', '')}{r.get('ticket_number', '')}",
                    "contact": bool(mine) and r in mine,
                }
            )
        return "ok", out
