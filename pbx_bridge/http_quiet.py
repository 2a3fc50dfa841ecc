"""An aiohttp runner whose own error answers carry no text: a request it cannot even parse gets its status
(400, 500...) with an empty body.

Why: Asterisk's ``CURL()`` makes any body the caller's name, and libcurl sends a caller number with a
non-ASCII byte unencoded. aiohttp's parser refuses such a request line *before* any middleware runs and
answers ``Invalid char in url query: ... b'GET //cid?number=...'`` -- a text that would become the
caller's name, repeating the (caller-controlled) number inside it. The middleware guard of
``callerid.http`` covers everything after parsing; this covers the parser, and the one HTTP error aiohttp
raises after parsing but *before* any middleware: a route's ``Expect:`` check (417 ``Unknown Expect: <the
header>``).

aiohttp has no public hook for it: the per-connection handler's ``handle_error`` is overridden in a
subclass, and the runner's server made to build that subclass. The tests send such a request, so an
aiohttp upgrade that changes these internals fails a test instead of silently naming callers again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

__all__ = ["QuietAppRunner"]


def _empty(status: int) -> web.Response:
    return web.Response(
        status=status, body=b"", content_type="text/plain", headers={"Cache-Control": "no-store"}
    )


def _quiet_escapes(
    handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
    """An HTTP error that left the application without passing its middlewares answers no text."""

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _empty(exc.status)

    return handle


class _QuietRequestHandler(RequestHandler):
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        answer = super().handle_error(request, status, exc, message)  # logs, as aiohttp always does
        quiet = _empty(answer.status)
        quiet.force_close()
        return quiet


class _QuietServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _QuietRequestHandler(self, loop=self._loop, **self._kwargs)


class QuietAppRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer parser and last-resort errors with an empty body."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _QuietServer  # same object and state, only the handler class changes
        server.request_handler = _quiet_escapes(server.request_handler)
        return server
