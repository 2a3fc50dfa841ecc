"""``Itflow``: the one object the daemon's features get: both clients plus the detected capabilities.

``itflow.api`` picks the generations: ``v1`` or ``legacy`` builds only that client; ``auto`` builds both
and lets :func:`~pbx_bridge.itflow.detect.detect` choose per feature. Detection runs once, on first
use, and is cached; ``capabilities(refresh=True)`` runs it again (e.g. after an ITFlow upgrade). A
detection that a timeout or 5xx left incomplete is repeated on use after ``redetect_after`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Literal

import httpx

from pbx_bridge.itflow.detect import Capabilities, detect
from pbx_bridge.itflow.legacy import LegacyClient
from pbx_bridge.itflow.settings import ItflowSettings
from pbx_bridge.itflow.transport import RetryPolicy
from pbx_bridge.itflow.v1 import V1Client

__all__ = ["Api", "Itflow"]

Api = Literal["auto", "v1", "legacy"]


class Itflow:
    """Both ITFlow clients of one install and what they can do. Close with :meth:`aclose`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        api: Api = "auto",
        timeout: float = 10.0,
        verify_tls: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        redetect_after: float = 60.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api = api
        self._key = api_key
        self._timeout = timeout
        self._verify_tls = verify_tls
        self._transport = transport
        self.v1: V1Client | None = None
        self.legacy: LegacyClient | None = None
        if api in ("auto", "v1"):
            self.v1 = V1Client(
                self.base_url,
                api_key,
                timeout=timeout,
                verify_tls=verify_tls,
                transport=transport,
                retry=retry,
            )
        if api in ("auto", "legacy"):
            self.legacy = LegacyClient(
                self.base_url,
                api_key,
                timeout=timeout,
                verify_tls=verify_tls,
                transport=transport,
                retry=retry,
            )
        self._redetect_after = redetect_after
        self._caps: Capabilities | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(
        cls, it: ItflowSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> Itflow:
        """From the ``itflow`` section, its key resolved (as ``settings.load_settings`` does)."""
        if it.api_key is None:
            raise ValueError("itflow.api_key is not resolved")
        return cls(
            it.url, it.api_key, api=it.api, timeout=it.timeout, verify_tls=it.verify_tls, transport=transport
        )

    def __repr__(self) -> str:
        return f"Itflow({self.base_url!r}, api={self.api!r})"

    @property
    def cached_capabilities(self) -> Capabilities | None:
        """The last detection, without probing (None before the first)."""
        return self._caps

    async def capabilities(self, *, refresh: bool = False) -> Capabilities:
        """Detected once and cached; concurrent callers share one detection."""
        if self._caps is not None and not refresh and not self._stale(self._caps):
            return self._caps
        async with self._lock:
            if self._caps is None or refresh or self._stale(self._caps):
                self._caps = await detect(
                    self.base_url,
                    self._key,
                    forced=self.api,
                    timeout=self._timeout,
                    verify_tls=self._verify_tls,
                    transport=self._transport,
                    v1=self.v1,
                    legacy=self.legacy,
                )
            return self._caps

    def _stale(self, caps: Capabilities) -> bool:
        return not caps.complete and time.time() - caps.detected_at >= self._redetect_after

    async def __aenter__(self) -> Itflow:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for client in (self.v1, self.legacy):
            if client is not None:
                await client.aclose()
