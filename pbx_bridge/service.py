"""The daemon: builds every part from the settings, starts them in order, stops them in reverse.

Read top to bottom, :func:`pbx_bridge.wiring.build_parts` is the wiring diagram (README, "How it
fits together"): ITFlow clients -> directory -> caller ID (FastAGI + HTTP) -> balance -> phonebook ->
AMI listener -> ticket outbox. A part that fails (ITFlow down, AMI refused) degrades only what depends
on it: each part retries on its own and reports through ``health()``, which ``/readyz`` and ``/metrics`` show.

Signals: SIGTERM/SIGINT drain in-flight work within ``drain_seconds`` and exit; SIGHUP re-reads the
config and, if it validates, restarts the parts whose settings changed (all of them: simple and safe,
the state lives in SQLite and a restart takes well under a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sqlite3
from pathlib import Path

from pbx_bridge.component import Health, all_of
from pbx_bridge.config import ConfigError
from pbx_bridge.directory.bulk import limit_heaps, share_the_gil
from pbx_bridge.metrics import Metrics
from pbx_bridge.sdnotify import Notifier
from pbx_bridge.settings import Settings, load_settings
from pbx_bridge.state_guard import StateGuard, unusable_problem
from pbx_bridge.store import Store, StoreError
from pbx_bridge.wiring import Parts, build_parts

__all__ = ["Daemon", "Parts"]

log = logging.getLogger(__name__)


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        metrics: Metrics | None = None,
        notifier: Notifier | None = None,
        drain_seconds: float = 10.0,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.notifier = notifier or Notifier()
        self.drain_seconds = drain_seconds
        self.parts = Parts()
        self.store: Store | None = None
        self._stop = asyncio.Event()
        self._reload = asyncio.Event()

    # ------------------------------------------------------------------ wiring
    async def build(self) -> Parts:
        path = Store.in_state_dir_path(self.settings.state_dir)
        problem = ""
        try:
            self.store = Store(path)
            self.store.verify()
            self.parts = await build_parts(self.settings, self.store, self.metrics)
        except (StoreError, sqlite3.DatabaseError) as exc:
            # A damaged (or, on a full disk, unopenable) state file must not take caller ID down
            # (systemd would loop on the exit): run on an in-memory store, say so loudly, keep the file.
            headline, problem = unusable_problem(path, exc)
            log.error("%s: %s", headline, problem)
            if self.store is not None:
                self.store.close()
            self.store = Store(Path(":memory:"))
            self.parts = await build_parts(self.settings, self.store, self.metrics)
        guard = StateGuard(self.store, problem=problem)
        if not problem:
            guard.check()
        self.parts.components.append(guard)
        # One "state" part: the database's identity (the guard) and every file being ours to write.
        files = self.parts.readiness.get("state")
        self.parts.readiness["state"] = guard.health if files is None else all_of(guard.health, files)
        return self.parts

    def readiness(self) -> dict[str, Health]:
        return self.parts.health()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        for part in self.parts.components:
            log.info("starting %s", part.name)
            try:
                await part.start()
            except Exception:
                # One part failing must not stop the others; it reports unhealthy.
                log.exception("%s failed to start; the other parts keep running", part.name)

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_seconds
        for part in reversed(self.parts.components):
            try:
                await asyncio.wait_for(part.stop(deadline), timeout=max(0.1, deadline - loop.time()) + 1)
            except Exception:
                log.exception("%s did not stop cleanly", part.name)
        for close in reversed(self.parts.closers):
            try:
                result = close()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("closing %r failed", close)
        if self.store is not None:
            self.store.close()
            self.store = None

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()

    async def serve(self) -> int:
        """Run until SIGTERM/SIGINT; reload on SIGHUP. Returns the exit code."""
        loop = asyncio.get_running_loop()
        for sig, fn in (
            (signal.SIGTERM, self.request_stop),
            (signal.SIGINT, self.request_stop),
            (signal.SIGHUP, self.request_reload),
        ):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, fn)
        share_the_gil()  # bulk jobs in worker threads must not hold up the loop (directory/bulk.py)
        limit_heaps()  # before the first worker thread: two C heaps, not sixteen (directory/bulk.py)
        await self.build()
        await self.start()
        self.notifier.ready(self._status())
        log.info("pbx-bridge running (%s)", self._status())
        watchdog = asyncio.create_task(self._watchdog()) if self.notifier.watchdog_interval else None
        follow = asyncio.create_task(self._until_ready())
        try:
            while not self._stop.is_set():
                stop = asyncio.create_task(self._stop.wait())
                reload = asyncio.create_task(self._reload.wait())
                await asyncio.wait({stop, reload}, return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                reload.cancel()
                if self._reload.is_set() and not self._stop.is_set():
                    self._reload.clear()
                    await self._do_reload()
        finally:
            self.notifier.stopping()
            log.info("stopping (drain deadline %.0f s)", self.drain_seconds)
            if watchdog is not None:
                watchdog.cancel()
            follow.cancel()
            await self.stop()
        log.info("stopped")
        return 0

    async def _do_reload(self) -> None:
        source = self.settings.source
        if source is None:
            log.warning("SIGHUP: no config file to re-read")
            return
        try:
            new = load_settings(source)
        except ConfigError as exc:
            log.error("SIGHUP: config not reloaded, keeping the running one: %s", exc)
            return
        self.notifier.notify("RELOADING=1")
        log.info("SIGHUP: config valid, restarting the parts")
        await self.stop()
        self.settings = new
        self.metrics = Metrics()
        share_the_gil()  # bulk jobs in worker threads must not hold up the loop (directory/bulk.py)
        await self.build()
        await self.start()
        self.notifier.ready(self._status())

    async def _watchdog(self) -> None:
        # The watchdog proves the event loop runs; health problems are for /readyz, not for a restart.
        interval = self.notifier.watchdog_interval or 10.0
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval)

    async def _until_ready(self) -> None:
        # The parts start without waiting for ITFlow (the directory's first sync runs in the background:
        # docs/callerid.md, "Directory at scale"), so the start often reports "degraded"; say so once
        # they are all ready.
        if self._status() == "ready":
            return  # said at start
        while self._status() != "ready":  # noqa: ASYNC110 - health is computed, there is no event to wait on
            await asyncio.sleep(0.2)
        self.notifier.status("ready")
        log.info("pbx-bridge running (ready)")

    def _status(self) -> str:
        states = self.readiness()
        bad = [n for n, h in states.items() if not h.ok]
        return "ready" if not bad else "degraded: " + ", ".join(bad)
