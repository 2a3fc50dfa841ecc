"""HTTP routes of the directory on the daemon's HTTP face: stats, and a sync on demand.

``GET /directory/stats`` answers the counts as JSON (503 before the first directory).
``POST /directory/sync`` syncs now and answers the new counts (502 with the reason when ITFlow failed;
the last good directory stays in use). A sync already running is waited for instead of starting another,
so repeated requests cannot pile syncs onto ITFlow. The HTTP face's allow-list and basic auth apply.
"""

from __future__ import annotations

from aiohttp import web

from pbx_bridge.directory.service import DirectorySync
from pbx_bridge.directory.sync import SyncError

__all__ = ["directory_routes"]

_NO_STORE = {"Cache-Control": "no-store"}


def directory_routes(directory: DirectorySync) -> list[web.RouteDef]:
    async def stats(_request: web.Request) -> web.Response:
        data = directory.stats()
        if not data:
            return web.json_response(
                {"error": "no directory yet", "last_error": directory.last_error},
                status=503,
                headers=_NO_STORE,
            )
        return web.json_response(data, headers=_NO_STORE)

    async def sync(_request: web.Request) -> web.Response:
        coalesced = directory.syncing
        try:
            if coalesced:
                await directory.wait_idle()
            else:
                await directory.sync()
        except SyncError as exc:
            return web.json_response({"error": str(exc)}, status=502, headers=_NO_STORE)
        data = directory.stats()
        if not data:
            return web.json_response(
                {"error": directory.last_error or "no directory yet"}, status=502, headers=_NO_STORE
            )
        return web.json_response({**data, "coalesced": coalesced}, headers=_NO_STORE)

    return [web.get("/directory/stats", stats), web.post("/directory/sync", sync)]
