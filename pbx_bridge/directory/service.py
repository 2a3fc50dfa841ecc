"""``DirectorySync``: the daemon part that keeps the directory fresh and the index current.

``start()`` returns at once, so the doors that answer calls start right after it: in the background it
loads the persisted snapshot (calls are named from it as soon as it is in, even with ITFlow down; until
then, and with nothing stored until the first sync is in, a lookup answers "no match" or asks ITFlow
live), then syncs: at start, every ``directory.sync_interval`` seconds (with a little jitter, so several
daemons do not pull in step), and on demand (``request_sync()`` or ``await sync()``). A failed sync keeps
the last good snapshot and retries after ``directory.retry_interval``. Subscribers (the phonebook) get
every new snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from pbx_bridge.component import Health, cancel_task
from pbx_bridge.directory.bulk import gc_paused, trim_heap
from pbx_bridge.directory.index import DirectoryIndex
from pbx_bridge.directory.settings import DirectorySettings
from pbx_bridge.directory.snapshot import MIGRATIONS, Snapshot, read_snapshot, write_snapshot
from pbx_bridge.directory.sync import SyncError, pull, rekey
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.metrics import Metrics
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.store import Store

__all__ = ["DirectorySync", "SnapshotCallback"]

log = logging.getLogger("pbx_bridge.directory")

# How long start() waits for the stored directory before letting the doors open without it.
_STORED_WAIT = 0.25

SnapshotCallback = Callable[[Snapshot], Awaitable[None] | None]


def _read_or_none(conn: sqlite3.Connection) -> tuple[Snapshot, str] | None:
    """The stored snapshot; an unreadable one (damaged, or from a newer format) counts as none."""
    try:
        return read_snapshot(conn)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("the stored directory cannot be read (%s); it will be replaced by the next sync", exc)
        return None


class DirectorySync:
    name = "directory"

    def __init__(
        self,
        settings: DirectorySettings,
        itflow: Itflow,
        store: Store,
        plan: NumberPlan,
        metrics: Metrics | None = None,
        *,
        rng: random.Random | None = None,
        store_poll: float = 30.0,
    ) -> None:
        self.store_poll = store_poll  # seconds between checks for a directory synced by another process
        self.cfg = settings
        self.itflow = itflow
        self.store = store
        self.plan = plan
        self.metrics = metrics
        self._rng = rng or random.Random()
        self._snapshot: Snapshot | None = None
        self._index: DirectoryIndex | None = None
        self._subscribers: list[SnapshotCallback] = []
        self._lock = asyncio.Lock()
        self._trigger = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._first_done = asyncio.Event()
        self._loaded = asyncio.Event()
        self.last_error: str = ""
        self.last_success: float | None = None  # time.time() of the last good sync
        self.syncs = 0
        self.failures = 0
        self._migrated = False

    # ------------------------------------------------------------------ state
    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    @property
    def index(self) -> DirectoryIndex | None:
        return self._index

    @property
    def syncing(self) -> bool:
        return self._lock.locked()

    async def loaded(self) -> None:
        """Return once the stored directory is in use, or known to be missing (at once before start())."""
        if self._task is not None:
            await self._loaded.wait()

    async def settled(self) -> None:
        """Return once there is a directory to answer from, or the first sync was tried and failed."""
        await self.loaded()
        if self._task is not None and self._snapshot is None:
            await self._first_done.wait()

    async def wait_idle(self) -> None:
        """Return once no sync is running (the one running now has finished)."""
        async with self._lock:
            pass

    def stats(self) -> dict[str, object]:
        """Counts for CLI and HTTP (empty dict before the first directory)."""
        snap, index = self._snapshot, self._index
        if snap is None or index is None:
            return {}
        st = index.stats()
        return {
            "source": snap.source,
            "fetched_at": snap.fetched_at.isoformat(),
            "age_seconds": round(snap.age(), 1),
            "parties": st.parties,
            "by_kind": st.by_kind,
            "clients": len(snap.clients),
            "numbers": st.numbers,
            "ambiguous_numbers": st.ambiguous,
            "unkeyed_numbers": st.unkeyed_numbers,
            "notes": list(snap.notes),
            "syncs": self.syncs,
            "failures": self.failures,
            "last_error": self.last_error,
        }

    def subscribe(self, callback: SnapshotCallback) -> Callable[[], None]:
        """Call ``callback(snapshot)`` (sync or async) after each successful sync; returns an unsubscriber.
        A subscriber added after a snapshot exists is not called for it: read ``.snapshot`` first."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def _install(self, snap: Snapshot, index: DirectoryIndex) -> None:
        # Built first (every caller does), then the references swapped: readers see the old or the new
        # index, never a half-built one. The old pair is a handful of buffers and arrays (packed:
        # directory/table.py, index.py), freed at once without a cascade of small deallocations.
        self._snapshot, self._index = snap, index
        if self.metrics is not None:
            self.metrics.directory_size.set(len(index))

    def _keyed_snapshot(self) -> Snapshot | None:
        """The current snapshot when its keys were made under ``self.plan`` (a pull reuses them)."""
        index = self._index
        if index is None or index.plan.fingerprint() != self.plan.fingerprint():
            return None
        return self._snapshot

    def load(self) -> bool:
        """Load the persisted snapshot synchronously (CLI, tests). True when there was one."""
        self._migrate()
        return self._use_stored(self.store.call(_read_or_none))

    def _use_stored(self, stored: tuple[Snapshot, str] | None) -> bool:
        prepared = self._prepare(stored)
        if prepared is None:
            return False
        self._install(*prepared)
        return True

    def _prepare(self, stored: tuple[Snapshot, str] | None) -> tuple[Snapshot, DirectoryIndex] | None:
        if stored is None:
            return None
        snap, fingerprint = stored
        with gc_paused():
            if fingerprint != self.plan.fingerprint():
                log.info("numbers settings changed since the directory was stored; re-keying")
                snap = rekey(snap, self.plan)
            return snap, DirectoryIndex.build(snap, self.plan, self.cfg)

    def _migrate(self) -> None:
        if not self._migrated:
            self.store.migrate("directory", MIGRATIONS)
            self._migrated = True

    # ------------------------------------------------------------------ syncing
    async def sync(self) -> Snapshot:
        """Pull now, persist, swap the index, notify subscribers. Raises ``SyncError`` (last good kept)."""
        async with self._lock:
            try:
                snap, index = await self._pull_and_store()
            except Exception as exc:
                # Any failure (ITFlow, the state file, a bug) counts, shows in health and keeps the last
                # good directory; callers only ever see SyncError.
                self.failures += 1
                self.last_error = str(exc) if isinstance(exc, SyncError) else f"{type(exc).__name__}: {exc}"
                if self.metrics is not None:
                    self.metrics.directory_sync_failures.inc()
                if isinstance(exc, SyncError):
                    raise
                log.exception("directory sync failed unexpectedly")
                raise SyncError(self.last_error) from exc
            self._install(snap, index)
            # The pull's pages and the previous directory freed: hand the heap back (directory/bulk.py).
            await asyncio.to_thread(trim_heap)
            self.syncs += 1
            self.last_error = ""
            self.last_success = time.time()
            if self.metrics is not None:
                self.metrics.directory_synced.set(self.last_success)
            log.info(
                "directory synced from %s: %d parties, %d numbers",
                snap.source,
                len(snap.parties),
                len(self._index or ()),
            )
        for note in snap.notes:
            log.info("directory: %s", note)
        await self._notify(snap)
        return snap

    async def _pull_and_store(self) -> tuple[Snapshot, DirectoryIndex]:
        with gc_paused():  # bulk work, the new directory frozen at the end (directory/bulk.py)
            return await self._pull_and_build()

    async def _pull_and_build(self) -> tuple[Snapshot, DirectoryIndex]:
        snap = await pull(
            self.itflow,
            self.plan,
            page_size=self.cfg.page_size,
            redetect=self.failures > 0 and bool(self.last_error),
            previous=self._keyed_snapshot(),
        )
        self._migrate()
        fingerprint = self.plan.fingerprint()

        def persist(conn: sqlite3.Connection) -> None:
            write_snapshot(conn, snap, fingerprint)

        def build() -> DirectoryIndex:
            return DirectoryIndex.build(snap, self.plan, self.cfg)

        await self.store.run(persist)
        # The index build is CPU work too: off the event loop, swapped in on it.
        return snap, await asyncio.to_thread(build)

    async def _notify(self, snap: Snapshot) -> None:
        for callback in list(self._subscribers):
            try:
                result = callback(snap)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("a directory subscriber failed; the others still get the snapshot")

    def request_sync(self) -> None:
        """Ask the background loop for a sync now (returns at once)."""
        self._trigger.set()

    async def _load_stored(self) -> None:
        try:
            prepared = await asyncio.to_thread(self._prepare, await self.store.run(_read_or_none))
            if prepared is not None and self._snapshot is None:  # not when a sync on demand came first
                self._install(*prepared)
                log.info("directory: answering from the stored copy (%d numbers)", len(prepared[1]))
            elif prepared is None:
                log.info("directory: nothing stored yet; calls go unnamed until the first sync is in")
        finally:
            self._loaded.set()

    async def _loop(self) -> None:
        try:
            await self._load_stored()
        except Exception:
            log.exception("could not load the stored directory; the first sync replaces it")
        while True:
            try:
                await self.sync()
                wait = self.cfg.sync_interval * self._rng.uniform(0.9, 1.1)
            except SyncError as exc:
                log.warning(
                    "directory sync failed (%s); keeping the last good directory, retry in %.0f s",
                    exc,
                    self.cfg.retry_interval,
                )
                wait = min(self.cfg.retry_interval, self.cfg.sync_interval)
            except Exception:
                log.exception("directory sync failed unexpectedly; keeping the last good directory")
                self.failures += 1
                wait = min(self.cfg.retry_interval, self.cfg.sync_interval)
            self._first_done.set()
            self._trigger.clear()
            await self._wait(wait)

    async def _wait(self, seconds: float) -> None:
        """Sleep until the next sync is due or requested; meanwhile adopt a newer stored directory (a
        ``pbx-bridge directory sync`` run from the command line writes the same state file)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (remaining := deadline - loop.time()) > 0:
            try:
                await asyncio.wait_for(self._trigger.wait(), timeout=min(remaining, self.store_poll))
                return
            except TimeoutError:
                pass
            try:
                await self._adopt_newer_stored()
            except Exception:
                log.exception("could not check the stored directory; continuing with the one in memory")

    async def _adopt_newer_stored(self) -> None:
        if self._lock.locked():
            return  # our own sync is writing the file right now
        current = self._snapshot

        def newer(conn: sqlite3.Connection) -> tuple[Snapshot, str] | None:
            row = conn.execute("SELECT fetched_at FROM directory_snapshot WHERE id = 1").fetchone()
            if row is None or (current is not None and datetime.fromisoformat(row[0]) <= current.fetched_at):
                return None
            return _read_or_none(conn)

        stored = await self.store.run(newer)
        if stored is None:
            return
        prepared = await asyncio.to_thread(self._prepare, stored)
        if prepared is None:
            return
        self._install(*prepared)
        log.info("adopted a newer directory from the state file (synced by another process)")
        await self._notify(prepared[0])

    # ------------------------------------------------------------------ Component
    async def start(self) -> None:
        """Start loading and syncing in the background; return once the stored directory is in, or
        after ``_STORED_WAIT`` s at most (see the module doc). ``loaded()`` and ``settled()`` wait."""
        self._migrate()  # quick, once; store.migrate takes the store lock itself (not through run())
        self._loaded.clear()
        self._first_done.clear()
        if not self.cfg.enabled:
            await self._load_stored()
            return
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="directory-sync")
        # A small stored directory is in before the doors open (a few ms); a large one keeps loading
        # while they answer "no match" (docs/callerid.md, "Directory at scale": 100k loads in 2-3 s).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._loaded.wait()), timeout=_STORED_WAIT)

    async def stop(self, deadline: float) -> None:
        task, self._task = self._task, None
        await cancel_task(task, deadline)

    def health(self) -> Health:
        data: dict[str, object] = {"syncs": self.syncs, "failures": self.failures}
        if self._snapshot is not None:
            data.update(
                source=self._snapshot.source,
                parties=len(self._snapshot.parties),
                numbers=len(self._index or ()),
                age_seconds=round(self._snapshot.age(), 1),
            )
        if self._index is None:
            loading = self._task is not None and not self._loaded.is_set()
            return Health(
                False,
                self.last_error or ("loading the stored directory" if loading else "no directory yet"),
                data,
            )
        detail = f"{len(self._index)} numbers from {self._snapshot.source if self._snapshot else '?'}"
        if self.last_error:
            detail += f"; last sync failed: {self.last_error}"
        return Health(True, detail, data)
