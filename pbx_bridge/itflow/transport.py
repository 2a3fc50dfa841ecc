"""The HTTP layer both ITFlow clients share: one pooled ``httpx.AsyncClient``, bounded retries, and
mapping httpx failures to :mod:`pbx_bridge.itflow.errors` without ever leaking the key.

Why a wrapping transport for the legacy key: httpx logs every request URL at INFO and puts the request
on exceptions. :class:`KeyInQueryTransport` adds ``api_key`` to a *copy* of the request just before it
goes on the wire, so everything httpx logs or attaches to errors shows the URL without the key.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

import httpx

from pbx_bridge import __version__
from pbx_bridge.itflow.errors import ItflowTimeout, TransportError, redact

__all__ = ["USER_AGENT", "KeyInQueryTransport", "RetryPolicy", "make_http_client", "send_with_retries"]

log = logging.getLogger("pbx_bridge.itflow")

# ITFlow reads $_SERVER['HTTP_USER_AGENT'] unguarded; without one PHP warns (and with display_errors=On
# the warning lands before the JSON). Always send one.
USER_AGENT = f"pbx-bridge/{__version__}"

# Status codes a proxy in front of ITFlow answers while ITFlow restarts: safe to retry for reads.
_RETRY_STATUSES = frozenset({502, 503, 504})


class KeyInQueryTransport(httpx.AsyncBaseTransport):
    """Adds ``api_key=<key>`` to the query of each request at the last moment (legacy api.php only)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, api_key: str) -> None:
        self._inner = inner
        self._key = api_key

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        wire = httpx.Request(
            request.method,
            request.url.copy_merge_params({"api_key": self._key}),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return await self._inner.handle_async_request(wire)

    async def aclose(self) -> None:
        await self._inner.aclose()


def make_http_client(
    base_url: str,
    *,
    timeout: float,
    verify_tls: bool,
    transport: httpx.AsyncBaseTransport | None,
    key_in_query: str | None = None,
) -> httpx.AsyncClient:
    """A pooled client for one ITFlow; ``key_in_query`` wraps the transport (legacy only)."""
    inner = transport or httpx.AsyncHTTPTransport(
        verify=verify_tls, retries=0, limits=httpx.Limits(max_connections=10, max_keepalive_connections=5)
    )
    if key_in_query is not None:
        inner = KeyInQueryTransport(inner, key_in_query)
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        timeout=httpx.Timeout(timeout),
        verify=verify_tls,
        transport=inner,
        follow_redirects=False,  # legacy K1b answers a wrong key with 302 login.php: an auth error
        headers={"User-Agent": USER_AGENT, "Accept": "application/json, text/xml, text/html;q=0.5"},
        # No proxies or .netrc from the environment: a plain-HTTP proxy would log the legacy URL and key.
        trust_env=False,
    )


class ApiClient:
    """What both ITFlow clients hold: the base URL, the key, the timeout and retry policy, one pooled
    HTTP client; used as ``async with Client(url, key) as api: ...``."""

    key_in_query = False  # legacy api.php reads only query parameters

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        verify_tls: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._http = make_http_client(
            self.base_url,
            timeout=timeout,
            verify_tls=verify_tls,
            transport=transport,
            key_in_query=api_key if self.key_in_query else None,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()


class RetryPolicy:
    """Bounded exponential backoff with jitter: ``attempts`` tries in all, waits capped at ``max_wait``."""

    def __init__(self, attempts: int = 3, first_wait: float = 0.25, max_wait: float = 2.0) -> None:
        self.attempts = max(1, attempts)
        self.first_wait = first_wait
        self.max_wait = max_wait

    def wait(self, attempt: int) -> float:
        base = min(self.max_wait, self.first_wait * (2.0**attempt))
        return base * (0.5 + random.random() / 2)


def _transport_error(
    exc: httpx.HTTPError, endpoint: str, secret: str | None, timeout: float | None
) -> TransportError:
    detail = redact(str(exc) or type(exc).__name__, secret)
    if isinstance(exc, httpx.TimeoutException):
        sent = not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout))
        return ItflowTimeout(
            f"no answer within {timeout or 0:g} s ({type(exc).__name__}); ITFlow is slow or unreachable. "
            "Raise itflow.timeout if the server is just slow.",
            endpoint=endpoint,
            request_sent=sent,
        )
    if isinstance(exc, httpx.ConnectError):
        return TransportError(
            f"cannot connect ({detail}); check itflow.url, that the web server runs, and firewalls.",
            endpoint=endpoint,
            request_sent=False,
        )
    why = type(exc).__name__ if detail == type(exc).__name__ else f"{type(exc).__name__}: {detail}"
    return TransportError(
        f"the connection closed before ITFlow answered ({why}); the web server or a proxy dropped it. "
        "Check that ITFlow's web server is healthy.",
        endpoint=endpoint,
        request_sent=None,
    )


async def send_with_retries(
    do_send: Callable[[], Awaitable[httpx.Response]],
    *,
    endpoint: str,
    idempotent: bool,
    policy: RetryPolicy,
    secret: str | None,
    timeout_s: float | None,
) -> httpx.Response:
    """Send, retrying transport failures for idempotent requests only.

    A write is repeated only when the request provably never reached ITFlow (connection refused or
    connect timeout): repeating it after a cut answer could create a second ticket.
    """
    last: TransportError | None = None
    for attempt in range(policy.attempts):
        if attempt:
            wait = policy.wait(attempt - 1)
            log.debug(
                "ITFlow %s: retry %d/%d in %.2f s after: %s",
                endpoint,
                attempt,
                policy.attempts - 1,
                wait,
                last,
            )
            await asyncio.sleep(wait)
        try:
            response = await do_send()
        except httpx.HTTPError as exc:
            last = _transport_error(exc, endpoint, secret, timeout_s)
            if idempotent or last.request_sent is False:
                continue
            raise last from None
        if idempotent and response.status_code in _RETRY_STATUSES and attempt + 1 < policy.attempts:
            last = TransportError(
                f"HTTP {response.status_code} from a proxy", endpoint=endpoint, status=response.status_code
            )
            continue
        return response
    assert last is not None
    raise last from None
