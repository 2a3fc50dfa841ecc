"""Is ITFlow reachable *now*? A small Component that keeps ``/readyz`` honest after start.

Detection runs once and is cached, so on its own it says nothing about an ITFlow that went away an
hour later. This probe sends a plain ``GET`` of the base URL (no key: nothing secret on the wire, no
API log row in ITFlow) every ``interval`` seconds; any HTTP answer means reachable, a refused or
timed-out connection means not. While detection never succeeded it is retried here too, so a daemon
started with ITFlow down becomes ready once ITFlow returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import httpx

from pbx_bridge.component import Health
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.itflow.diagnosis import explain

__all__ = ["ItflowReachability"]

log = logging.getLogger(__name__)

_REDETECT_EVERY = 60.0


class ItflowReachability:
    name = "itflow-probe"

    def __init__(
        self, itflow: Itflow, *, interval: float = 10.0, timeout: float = 5.0, verify_tls: bool = True
    ) -> None:
        self._itflow = itflow
        self._interval = interval
        self._timeout = timeout
        self._verify_tls = verify_tls
        self._task: asyncio.Task[None] | None = None
        self.reachable: bool | None = None  # None: not probed yet
        self.last_error = ""
        self._last_detect = float("-inf")

    async def start(self) -> None:
        # The first probe runs in the background too: a hanging ITFlow must not hold back the parts
        # that start after this one (the HTTP face answers calls from the directory it has).
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="itflow-probe")

    async def stop(self, deadline: float) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                await self.probe()
            except Exception:  # a probe bug must never end the loop
                log.exception("itflow probe failed unexpectedly")
            await asyncio.sleep(self._interval)

    async def probe(self) -> bool:
        was = self.reachable
        try:
            async with httpx.AsyncClient(timeout=self._timeout, verify=self._verify_tls) as http:
                await http.get(self._itflow.base_url + "/")
        except httpx.HTTPError as exc:
            self.reachable = False
            self.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            self.reachable = True
            self.last_error = ""
        if was is not None and was != self.reachable:
            if self.reachable:
                log.info("ITFlow reachable again at %s", self._itflow.base_url)
            else:
                log.warning("ITFlow unreachable at %s: %s", self._itflow.base_url, self.last_error)
        caps = self._itflow.cached_capabilities
        unusable = caps is None or not caps.complete or not (caps.v1_key_ok or caps.legacy_key_ok)
        now = asyncio.get_running_loop().time()
        # A detection another part just ran (the directory's at start) counts: no second one at once.
        since = min(now - self._last_detect, time.time() - caps.detected_at if caps else float("inf"))
        if self.reachable and unusable and since >= _REDETECT_EVERY:
            # Detection failed or was cut short while ITFlow was away: try again now it answers
            # (at most once a minute, so a refused key does not turn into a request storm).
            self._last_detect = now
            try:
                # Never detected yet: join the detection the directory may be running (the backend's
                # lock shares it) instead of starting a second one behind it.
                await self._itflow.capabilities(refresh=caps is not None)
            except Exception as exc:
                log.warning("ITFlow answers again, but detecting its API failed: %s", exc)
        return bool(self.reachable)

    def health(self) -> Health:
        caps = self._itflow.cached_capabilities
        if self.reachable is False:
            return Health(False, f"ITFlow unreachable: {self.last_error}")
        if caps is None:
            return Health(False, "not detected yet")
        if not (caps.v1_key_ok or caps.legacy_key_ok):
            return Health(False, explain(caps))
        return Health(True, f"era {caps.era}")
