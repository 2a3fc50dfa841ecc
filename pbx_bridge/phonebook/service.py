"""``PhonebookService``: the daemon part that keeps the published phonebooks current.

One directory pull feeds caller ID and the phonebook: the service subscribes to ``DirectorySync``
snapshots (each directory sync republishes, cheaply when nothing changed) and runs its own schedule:
at start, every ``phonebook.interval`` seconds with jitter, and on demand (CLI ``phonebook sync``,
HTTP ``POST /phonebook/sync``), each of which pulls through ``DirectorySync.sync()``. A failed pull keeps
the last good book; so does a shrunk one (the publisher's guard).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from pbx_bridge.component import Health, cancel_task
from pbx_bridge.directory.snapshot import Snapshot
from pbx_bridge.metrics import Metrics
from pbx_bridge.phonebook.entries import NumberFormatter
from pbx_bridge.phonebook.publisher import Progress, Publisher, PublishResult
from pbx_bridge.phonebook.settings import PhonebookSettings

__all__ = ["DirectorySource", "HttpAddress", "PhonebookService", "public_url_of"]

log = logging.getLogger("pbx_bridge.phonebook")

STATE_FILE = "phonebook-state.json"


class Switch(Protocol):
    @property
    def enabled(self) -> bool: ...


class DirectorySource(Protocol):
    """What the phonebook needs of ``pbx_bridge.directory.service.DirectorySync``."""

    @property
    def snapshot(self) -> Snapshot | None: ...
    @property
    def cfg(self) -> Switch: ...  # directory.enabled: does it sync on its own?
    @property
    def failures(self) -> int: ...

    async def sync(self) -> Snapshot: ...

    async def settled(self) -> None: ...

    def subscribe(self, callback: Callable[[Snapshot], Awaitable[None] | None]) -> Callable[[], None]: ...


class HttpAddress(Protocol):
    """The ``http:`` section as far as the phonebook's links need it."""

    @property
    def public_url(self) -> str | None: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...


def public_url_of(http: HttpAddress) -> str:
    """The base URL handsets use (``http.public_url``, else the listener's own address)."""
    if http.public_url:
        return http.public_url.rstrip("/")
    host = http.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{http.port}"


class PhonebookService:
    name = "phonebook"

    def __init__(
        self,
        cfg: PhonebookSettings,
        directory: DirectorySource,
        plan: NumberFormatter,
        *,
        http: HttpAddress,
        state_dir: Path,
        metrics: Metrics | None = None,
        publisher: Publisher | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.cfg = cfg
        self.http = http
        self.directory = directory
        self.plan = plan
        self.metrics = metrics
        self.publisher = publisher or Publisher(
            self.cfg, public_url=public_url_of(http), state_path=Path(state_dir) / STATE_FILE, metrics=metrics
        )
        self._rng = rng or random.Random()
        self._lock = asyncio.Lock()
        self._trigger = asyncio.Event()
        self._force_next = False
        self._manual = False
        self._pending: Snapshot | None = None
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.last_result: PublishResult | None = None
        self.last_error = ""
        self.runs = 0

    # ------------------------------------------------------------------ work
    async def sync(
        self, *, force: bool = False, pull: bool = True, progress: Progress | None = None
    ) -> PublishResult | None:
        """Pull (unless ``pull`` is False), then publish. None when there is nothing to publish from.

        A failed pull is logged and returns None; the last good book stays published. When nothing has
        been published since start, the directory's stored snapshot is published instead.
        """
        async with self._lock:
            snapshot: Snapshot | None = None
            if pull:
                if progress:
                    progress("pull", 0, 1)
                try:
                    snapshot = await self.directory.sync()
                    self.last_error = ""
                except Exception as exc:  # SyncError, or anything else: never lose the last good book
                    self.last_error = f"pull failed: {exc}"
                    log.warning("phonebook: directory pull failed (%s); keeping the last good book", exc)
                    if self.publisher.outputs:
                        return None
                    snapshot = self.directory.snapshot  # stored snapshot: serve what we had
                    if snapshot is None:
                        return None
                if progress:
                    progress("pull", 1, 1)
            else:
                snapshot = self._pending or self.directory.snapshot
            if snapshot is None:
                return None
            if self._pending is snapshot:
                self._pending = None
            return await self._publish(snapshot, force, progress)

    async def _publish(
        self, snapshot: Snapshot, force: bool, progress: Progress | None
    ) -> PublishResult | None:
        try:
            result = await asyncio.to_thread(
                self.publisher.publish,
                snapshot.parties,
                self.plan,
                source=snapshot.source,
                force=force,
                progress=progress,
            )
        except OSError as exc:  # output_dir unwritable, disk full: the previous files stay in place
            self.last_error = f"cannot write the phonebook files: {exc}"
            log.error("phonebook: %s; the previous files stay in place", self.last_error)
            return None
        self.last_result = result
        self.runs += 1
        return result

    def trigger(self, *, force: bool = False) -> None:
        """Ask the background loop for a pull + publish now (returns at once)."""
        self._force_next = self._force_next or force
        self._manual = True
        self._trigger.set()

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        # Called inside DirectorySync.sync(): only note it; the loop publishes outside the directory lock.
        # During our own pull the snapshot is published by that pull: no second round.
        self._pending = snapshot
        if not self._lock.locked():
            self._trigger.set()

    def _next_delay(self) -> float:
        j = self.cfg.jitter
        return self.cfg.interval * self._rng.uniform(1 - j, 1 + j)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        # In the daemon the directory starts first and has just synced (or loaded its stored copy and
        # keeps retrying, notifying us on success): publishing its snapshot is the start-up run, and a
        # second pull would only double the load on ITFlow. Pull ourselves when nobody else does.
        directory_syncs = self.directory.cfg.enabled
        if directory_syncs:
            # The directory loads its stored copy and syncs in the background (its start() returns at
            # once): publish from what it has, once it has something or its first sync failed.
            await self.directory.settled()
        # Also when its first sync just failed: it retries on its own schedule and notifies us; a pull
        # of ours now would only fail (and count) a second time.
        tried = self.directory.snapshot is not None or self.directory.failures > 0
        pull = self.cfg.run_at_start and not (directory_syncs and tried)
        if not pull and self.directory.snapshot is not None:
            self._pending = self.directory.snapshot  # serve the directory we have at once
        deadline = loop.time() + self._next_delay()
        while True:
            if not pull and self._pending is None and not self._manual:
                timeout = deadline - loop.time()
                if timeout > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._trigger.wait(), timeout=timeout)
                self._trigger.clear()
                if self._pending is None and not self._manual:
                    pull = True  # the interval ran out
            if self._manual:
                pull, self._manual = True, False
            force, self._force_next = self._force_next, False
            try:
                await self.sync(force=force, pull=pull)
            except Exception:
                log.exception("phonebook sync failed unexpectedly; the last good book stays")
                self.last_error = "unexpected error (see log)"
            if pull:
                deadline = loop.time() + self._next_delay()
            pull = False

    # ------------------------------------------------------------------ Component
    async def start(self) -> None:
        http = self.http
        if not http.public_url and http.host in ("0.0.0.0", "::") and "cisco" in self.cfg.formats:
            log.warning(
                "phonebook: http.public_url is not set and http.host is a wildcard: Cisco page "
                "links point to %s; set http.public_url to the address phones use",
                public_url_of(http),
            )
        self._unsubscribe = self.directory.subscribe(self._on_snapshot)
        if self.cfg.enabled:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="phonebook-sync")

    async def stop(self, deadline: float) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        task, self._task = self._task, None
        await cancel_task(task, deadline)

    def health(self) -> Health:
        p = self.publisher
        data: dict[str, object] = {"entries": p.entries, "runs": self.runs, "formats": len(p.outputs)}
        if p.published_at is not None:
            data["published_at"] = p.published_at.isoformat()
        if self.last_result is not None:
            data["last_status"] = self.last_result.status
        if not p.outputs:
            return Health(not self.cfg.enabled, self.last_error or "no phonebook published yet", data)
        detail = f"{p.entries} entries in {len(p.outputs)} formats"
        if self.last_result is not None and self.last_result.status == "guarded":
            detail += f"; last sync not published: {self.last_result.message}"
        if self.last_error:
            detail += f"; {self.last_error}"
        return Health(True, detail, data)
