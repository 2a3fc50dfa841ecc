"""The daemon's HTTP face: one aiohttp app, routes contributed by the features, guarded by middleware.

Handsets fetch phonebooks and FreePBX asks for caller names here; both carry personal data, so the
listener binds to loopback by default, checks the client address against an allow-list and, when
configured, HTTP basic auth. Each group of routes (caller ID, phonebooks, ...) has its own allow-list
(``http.<group>.allow``, else ``http.allow``), so opening the phonebooks to the phones' LAN never opens
``/cid``. ``/healthz`` (liveness) and ``/readyz`` (readiness) are always open to the allowed addresses;
``/metrics`` renders the daemon's Prometheus registry.

The same application can also listen with TLS (``http.tls_port``, certificate and key files read at
start, so a SIGHUP, which restarts the parts, picks up a renewed certificate).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware

from pbx_bridge.allow import Network, networks, peer_allowed
from pbx_bridge.component import Health
from pbx_bridge.http_quiet import QuietAppRunner
from pbx_bridge.log_limits import Throttle, clip, summarise_accept_errors
from pbx_bridge.metrics import Metrics

__all__ = ["HttpFace", "ReadinessCheck", "RouteGroup", "TlsListener", "access_middleware"]

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], dict[str, Health]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OPEN_PATHS = frozenset({"/healthz"})
Networks = Sequence[Network]


@dataclass(frozen=True, slots=True)
class RouteGroup:
    """Routes that share an allow-list (``name`` is the config key: ``http.<name>.allow``)."""

    name: str
    routes: Sequence[web.RouteDef]
    allow: Sequence[str]
    key: str = ""  # the config key named when a client is refused (default http.<name>.allow)


@dataclass(frozen=True, slots=True)
class TlsListener:
    host: str
    port: int
    cert: Path
    key: Path

    def context(self) -> ssl.SSLContext:
        """The server context, or ``ValueError`` naming the setting at fault (``http.tls_cert`` or
        ``http.tls_key``): "cannot load the pair" leaves the operator guessing which file to fix."""
        for key, path in (("http.tls_cert", self.cert), ("http.tls_key", self.key)):
            try:
                with path.open("rb"):
                    pass
            except OSError as exc:
                raise ValueError(f"{key}: cannot read {path}: {exc.strerror}") from None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            # an encrypted key must fail, not make OpenSSL prompt for a passphrase on the terminal
            ctx.load_cert_chain(self.cert, self.key, password=lambda: "")
        except ssl.SSLError as exc:
            raise ValueError(self._blame(exc)) from None
        return ctx

    def _blame(self, exc: ssl.SSLError) -> str:
        if "KEY_VALUES_MISMATCH" in str(exc):
            return f"http.tls_key: {self.key} is not the key of http.tls_cert {self.cert}"
        try:
            ssl.create_default_context(cafile=str(self.cert))
        except ssl.SSLError:
            return f"http.tls_cert: {self.cert} holds no PEM certificate ({exc.reason or exc})"
        return f"http.tls_key: {self.key} is not a PEM private key without a passphrase ({exc.reason or exc})"


def access_middleware(
    allow: Sequence[str],
    username: str | None = None,
    password: str | None = None,
    *,
    open_paths: Iterable[str] = OPEN_PATHS,
    groups: Mapping[object, tuple[str, Networks]] | None = None,
) -> Middleware:
    """Refuse clients outside the allow-list (403) and, with credentials set, requests without them
    (401). ``groups`` (read per request) maps a matched route's resource to the config key and networks
    of its group; other routes (and unknown paths) use ``allow``."""
    default = networks(allow)
    by_resource = groups if groups is not None else {}
    expected = None
    if username is not None and password is not None:
        expected = (username, password)
    open_set = frozenset(open_paths)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.remote or ""
        key, allowed = by_resource.get(request.match_info.route.resource, ("http.allow", default))
        if not peer_allowed(peer, allowed):
            log.warning("http: refused %s %s from %s (not in %s)", request.method, request.path, peer, key)
            return web.Response(status=403, text="forbidden\n")
        if expected is not None and request.path not in open_set:
            if not basic_auth_matches(request.headers.get("Authorization", ""), *expected):
                return web.Response(
                    status=401,
                    text="authentication required\n",
                    headers={"WWW-Authenticate": 'Basic realm="pbx-bridge"'},
                )
        return await handler(request)

    return guard


def basic_auth_matches(header: str, username: str, password: str) -> bool:
    """Does an ``Authorization`` header carry these Basic credentials? The scheme is case-insensitive
    (RFC 9110 11.1: ``basic`` and ``BASIC`` are ``Basic``); user and password are compared exactly, in
    constant time."""
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(token.strip(), validate=True)
    except ValueError:
        return False
    return hmac.compare_digest(given, f"{username}:{password}".encode())


class _MalformedRequests(logging.Filter):
    """aiohttp logs every unparsable request with a traceback ("Error handling request"): a scanner or
    a broken handset would fill the log. Such records become one line, summarised once per interval."""

    def __init__(self) -> None:
        super().__init__()
        self.throttle = Throttle(log)

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True  # a real failure inside a handler keeps its traceback
        peer = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        reason = clip(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 120)
        self.throttle.log("malformed", logging.WARNING, "http: malformed request from %s: %s", peer, reason)
        return False


def quiet_malformed_requests() -> None:
    """Install the one-line summary for malformed requests on aiohttp's server logger (once)."""
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _MalformedRequests) for f in server_log.filters):
        server_log.addFilter(_MalformedRequests())


class HttpFace:
    """An aiohttp listener as a :class:`~pbx_bridge.component.Component`."""

    name = "http"

    def __init__(
        self,
        host: str,
        port: int,
        routes: Sequence[web.RouteDef],
        *,
        allow: Sequence[str] = ("127.0.0.0/8", "::1/128"),
        basic_auth: tuple[str, str] | None = None,
        readiness: ReadinessCheck | None = None,
        metrics: Metrics | None = None,
        name: str = "http",
        front: Sequence[Middleware] = (),
        groups: Sequence[RouteGroup] = (),
        tls: TlsListener | None = None,
    ) -> None:
        self.name = name
        self.host, self.port = host, port
        self.tls = tls
        self._readiness = readiness
        self._metrics = metrics
        user, pw = basic_auth if basic_auth else (None, None)
        grouped: dict[object, tuple[str, Networks]] = {}
        # ``front``: middlewares outside the access check (the caller-name door's error guard).
        self.app = web.Application(middlewares=[*front, access_middleware(allow, user, pw, groups=grouped)])
        self.app.router.add_get("/healthz", self._healthz)
        if readiness is not None:
            self.app.router.add_get("/readyz", self._readyz)
        if metrics is not None:
            self.app.router.add_get("/metrics", self._metrics_page)
        self.app.router.add_routes(routes)
        for group in groups:
            nets = networks(group.allow)
            for route in self.app.router.add_routes(group.routes):
                grouped[route.resource] = (group.key or f"http.{group.name}.allow", nets)
        self._runner: web.AppRunner | None = None
        self._error = ""
        self.bound_port: int | None = None
        self.tls_bound_port: int | None = None

    async def start(self) -> None:
        quiet_malformed_requests()
        summarise_accept_errors(asyncio.get_running_loop(), Throttle(log))  # EMFILE: no traceback each
        # Quiet: not even a request aiohttp cannot parse gets a text body (it could become a caller name).
        self._runner = QuietAppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        self.bound_port = await self._listen(self.host, self.port)
        if self.bound_port is None:
            return
        log.info("http: listening on %s:%s", self.host, self.bound_port)
        if self.tls is not None:
            await self._start_tls(self.tls)

    async def _listen(self, host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> int | None:
        """Open one site on the runner; the port actually bound (port 0 picks a free one), or None."""
        assert self._runner is not None
        before = len(self._runner.addresses)
        site = web.TCPSite(self._runner, host, port, ssl_context=ssl_context, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            # A busy port must not take the rest of the daemon down; health shows it.
            where = "(https) on" if ssl_context is not None else "on"
            self._error = f"cannot listen {where} {host}:{port}: {exc.strerror}"
            log.error("http: %s", self._error)
            return None
        addresses = self._runner.addresses
        return addresses[before][1] if len(addresses) > before else port

    async def _start_tls(self, tls: TlsListener) -> None:
        try:
            ctx = tls.context()
        except ValueError as exc:
            # A bad certificate must not take the plain listener (FreePBX's caller ID) down; health says it.
            self._error = f"https: {exc}"
            log.error("http: %s", self._error)
            return
        self.tls_bound_port = await self._listen(tls.host, tls.port, ctx)
        if self.tls_bound_port is not None:
            log.info(
                "http: listening with TLS on %s:%s (certificate %s)", tls.host, self.tls_bound_port, tls.cert
            )

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
        detail = f"{self.host}:{self.bound_port}"
        if self.tls_bound_port is not None:
            detail += f", https {self.tls.host if self.tls else ''}:{self.tls_bound_port}"
        return Health(self.bound_port is not None, detail)

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
        return web.Response(
            body=self._metrics.render(), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
        )
