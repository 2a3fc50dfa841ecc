"""The daemon's HTTP face: one aiohttp app, routes contributed by the features, guarded by middleware.

Handsets fetch phonebooks and FreePBX asks for caller names here; both carry personal data, so the
listener binds to loopback by default, checks the client address against ``http.allow`` and, when
configured, HTTP basic auth. ``/healthz`` (liveness) and ``/readyz`` (readiness) are always open to the
allowed addresses; ``/metrics`` renders the daemon's Prometheus registry.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

from aiohttp import web

from pbx_bridge.component import Health
from pbx_bridge.http_quiet import QuietAppRunner
from pbx_bridge.metrics import Metrics

__all__ = ["HttpFace", "ReadinessCheck", "access_middleware"]

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], dict[str, Health]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OPEN_PATHS = frozenset({"/healthz"})


def access_middleware(
    allow: Sequence[str], username: str | None = None, password: str | None = None,
    *, open_paths: Iterable[str] = OPEN_PATHS,
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Refuse clients outside ``allow`` (403) and, with credentials set, requests without them (401)."""
    networks = [ipaddress.ip_network(n, strict=False) for n in allow]
    expected = None
    if username is not None and password is not None:
        expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    open_set = frozenset(open_paths)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.remote or ""
        try:
            addr = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            addr = None
        if addr is not None and addr.version == 6 and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        if addr is None or not any(addr in n for n in networks if n.version == addr.version):
            log.warning("http: refused %s %s from %s (not in http.allow)", request.method, request.path, peer)
            return web.Response(status=403, text="forbidden\n")
        if expected is not None and request.path not in open_set:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return web.Response(status=401, text="authentication required\n",
                                    headers={"WWW-Authenticate": 'Basic realm="pbx-bridge"'})
        return await handler(request)

    return guard


class HttpFace:
    """An aiohttp listener as a :class:`~pbx_bridge.component.Component`."""

    name = "http"

    def __init__(
        self, host: str, port: int, routes: Sequence[web.RouteDef], *,
        allow: Sequence[str] = ("127.0.0.0/8", "::1/128"),
        basic_auth: tuple[str, str] | None = None,
        readiness: ReadinessCheck | None = None,
        metrics: Metrics | None = None,
        name: str = "http",
        front: Sequence[Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]] = (),
    ) -> None:
        self.name = name
        self.host, self.port = host, port
        self._readiness = readiness
        self._metrics = metrics
        user, pw = basic_auth if basic_auth else (None, None)
        # ``front``: middlewares outside the access check (the caller-name door's error guard).
        self.app = web.Application(middlewares=[*front, access_middleware(allow, user, pw)])
        self.app.router.add_get("/healthz", self._healthz)
        if readiness is not None:
            self.app.router.add_get("/readyz", self._readyz)
        if metrics is not None:
            self.app.router.add_get("/metrics", self._metrics_page)
        self.app.router.add_routes(routes)
        self._runner: web.AppRunner | None = None
        self._error = ""
        self.bound_port: int | None = None

    async def start(self) -> None:
        # Quiet: not even a request aiohttp cannot parse gets a text body (it could become a caller name).
        self._runner = QuietAppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            # A busy port must not take the rest of the daemon down; health shows it.
            self._error = f"cannot listen on {self.host}:{self.port}: {exc.strerror}"
            log.error("http: %s", self._error)
            return
        if self._runner.addresses:  # the port actually bound (port 0 picks a free one)
            self.bound_port = self._runner.addresses[0][1]
        log.info("http: listening on %s:%s", self.host, self.bound_port)

    async def stop(self, deadline: float) -> None:
        if self._runner is not None:
            timeout = max(0.0, deadline - asyncio.get_running_loop().time())
            try:
                await asyncio.wait_for(self._runner.cleanup(), timeout=timeout or 0.1)
            except TimeoutError:
                log.warning("http: did not drain before the deadline")
            self._runner = None

    def health(self) -> Health:
        if self._error:
            return Health(False, self._error)
        return Health(self.bound_port is not None, f"{self.host}:{self.bound_port}")

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, _request: web.Request) -> web.Response:
        assert self._readiness is not None
        parts = self._readiness()
        ready = all(h.ok for h in parts.values())
        body = {name: {"ok": h.ok, "detail": h.detail} for name, h in parts.items()}
        return web.json_response({"ready": ready, "parts": body}, status=200 if ready else 503)

    async def _metrics_page(self, _request: web.Request) -> web.Response:
        assert self._metrics is not None
        return web.Response(body=self._metrics.render(),
                            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})
