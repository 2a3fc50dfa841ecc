"""An HTTP fault proxy on 127.0.0.1 in front of the ITFlow simulator: the faults a real path has.

The daemon talks to ``proxy.url``; every request is forwarded to the simulator unless a knob says
otherwise. Knobs (settable at any time; ``faults`` counts the requests a fault was applied to):

* ``page = (status, body)``: answer *every* request with this page, never forwarding (ITFlow's web
  server up but broken at start: a 503, Apache's 404 page, an HTML 200 page, broken JSON);
* ``after_commit = 502 | 504 | 0`` on ``tickets/create`` and ``ticket_replies/create``: forward it
  (ITFlow commits), then answer this gateway status instead of ITFlow's answer, or cut the connection
  (0);
* ``hold_writes = s``: a create is forwarded only after ``s`` seconds, even if the client
  gave up meanwhile (ITFlow commits after the client's timeout);
* ``fail_searches = 500 | 0``: ``tickets/read`` lists (the marker search) answer this status, or the
  connection is cut (0).
* ``fault_count``: apply ``after_commit`` / ``hold_writes`` to that many creates only (None: all).
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
from aiohttp import web

__all__ = ["APACHE_404_PAGE", "FaultProxy"]

APACHE_404_PAGE = (
    b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>404 Not Found'
    b"</title>\n</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this "
    b"server.</p>\n</body></html>\n"
)
_GATEWAY_PAGE = b"<html><body><h1>%d Gateway error</h1></body></html>\n"
_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.page: tuple[int, bytes] | None = None
        self.after_commit: int | None = None
        self.hold_writes = 0.0
        self.fail_searches: int | None = None
        self.fault_count: int | None = None
        self.faults = 0
        self.creates = 0
        self.reply_creates = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self.url = ""

    async def start(self) -> FaultProxy:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession(auto_decompress=False)
        return self

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def late_writes(self) -> int:
        """Held creates not yet forwarded (their commit is still to come)."""
        return len(self._tasks)

    def _take(self) -> bool:
        if self.fault_count is not None:
            if self.fault_count <= 0:
                return False
            self.fault_count -= 1
        self.faults += 1
        return True

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if self.page is not None:
            self.faults += 1
            status, page = self.page
            ctype = "text/html" if page.lstrip()[:1] == b"<" else "application/json"
            return web.Response(status=status, body=page, headers={"Content-Type": ctype})
        path = request.path
        if (
            path.endswith("/tickets/read.php")
            and "ticket_id" not in request.query
            and self.fail_searches is not None
        ):
            self.faults += 1
            if self.fail_searches == 0:
                return self._cut(request)
            return web.Response(status=self.fail_searches, body=b"")
        reply = path.endswith("/ticket_replies/create.php")
        if (reply or path.endswith("/tickets/create.php")) and request.method == "POST":
            if reply:
                self.reply_creates += 1
            else:
                self.creates += 1
            fault = (self.after_commit is not None or self.hold_writes > 0) and self._take()
            if fault and self.hold_writes > 0:
                # Forwarded in its own task: it reaches ITFlow even after the client gave up.
                task = asyncio.create_task(self._forward_late(request, body, self.hold_writes))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                return await asyncio.shield(task)
            if fault and self.after_commit is not None:
                await self._forward(request, body)  # ITFlow commits ...
                if self.after_commit == 0:
                    return self._cut(request)  # ... and the answer never arrives
                code = self.after_commit
                return web.Response(
                    status=code, body=_GATEWAY_PAGE % code, headers={"Content-Type": "text/html"}
                )
        return await self._forward(request, body)

    async def _forward_late(self, request: web.Request, body: bytes, delay: float) -> web.Response:
        await asyncio.sleep(delay)
        return await self._forward(request, body)

    async def _forward(self, request: web.Request, body: bytes) -> web.Response:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers, allow_redirects=False
        ) as up:
            data = await up.read()
            out = {k: v for k, v in up.headers.items() if k.lower() not in _HOP}
            return web.Response(status=up.status, body=data, headers=out)

    @staticmethod
    def _cut(request: web.Request) -> web.Response:
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=503)
