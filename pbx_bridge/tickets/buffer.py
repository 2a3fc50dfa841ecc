"""Between the AMI listener and the outbox: nothing a finished call needs may depend on luck.

* **Within ``ami.grace``**: a call whose channels have all hung up is committed at once as a
  provisional record (group commit: every call that ended in the same ~10 ms shares one transaction),
  so kill -9 during the grace period loses nothing; the outcome is still decided after the grace, and
  at the next start for calls the dead process had not decided yet.
* **Disk full / state file not writable**: a finished call the outbox cannot take is held in memory
  (bounded by ``MAX_HELD``), readiness turns red with SQLite's own words ("database or disk is full"),
  and the writes are retried until they succeed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from pbx_bridge.ami.outcome import CallRecord, Outcome
from pbx_bridge.component import Health
from pbx_bridge.store import Store

__all__ = ["CallBuffer", "record_from_json", "record_to_json"]

log = logging.getLogger("pbx_bridge.tickets")

MAX_HELD = 20_000  # finished calls kept in memory while the state file cannot be written
_LINGER = 0.01  # group commit: wait this long for more ended calls before writing
_RETRY_FIRST, _RETRY_MAX = 0.5, 5.0


def record_to_json(rec: CallRecord) -> str:
    d = asdict(rec)
    d["outcome"] = rec.outcome.value
    for k in ("started", "ended"):
        d[k] = d[k].isoformat() if d[k] else None
    return json.dumps(d)


def record_from_json(text: str) -> CallRecord:
    d: dict[str, Any] = json.loads(text)  # JSON of our own asdict(): keyword arguments of CallRecord
    known = {f.name for f in fields(CallRecord)}
    d = {k: v for k, v in d.items() if k in known}
    d["outcome"] = Outcome(d["outcome"])
    for k in ("started", "ended"):
        d[k] = datetime.fromisoformat(d[k]) if d.get(k) else None
    d["notes"] = tuple(d.get("notes") or ())
    return CallRecord(**d)


class CallBuffer:
    name = "tickets-intake"

    def __init__(
        self,
        store: Store,
        handle: Callable[[CallRecord], Awaitable[object]],
        *,
        clock: Callable[[], float] = time.time,
        max_held: int = MAX_HELD,
    ) -> None:
        self.store = store
        self._handle = handle
        self.clock = clock
        self.max_held = max_held
        # provisional records not on disk yet (None: delete the stored one, the call was re-opened)
        self._unsaved: OrderedDict[str, CallRecord | None] = OrderedDict()
        self._held: OrderedDict[tuple[str, str], CallRecord] = OrderedDict()  # final, not in the outbox
        # Calls decided while a group commit was being written: a failed commit must not put their
        # provisional record back (it would be decided a second time at the next start).
        self._flushing = False
        self._decided: set[str] = set()
        self.dropped = 0
        self.error = ""
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ listener side

    def remember(self, ended: list[CallRecord], reopened: list[str]) -> None:
        """Provisional records of calls in their grace period (committed within ~10 ms)."""
        for rec in ended:
            self._unsaved[rec.linkedid] = rec
        for lid in reopened:
            self._unsaved[lid] = None
        self._wake.set()

    async def __call__(self, record: CallRecord) -> None:
        """The final record of a call: into the outbox, or held in memory when the store refuses."""
        self._unsaved.pop(record.linkedid, None)
        if self._flushing:
            self._decided.add(record.linkedid)
        if self._held:  # keep the order: behind the calls already held
            self._hold(record, self.error)
            return
        await self._final(record)

    async def _final(self, record: CallRecord) -> bool:
        try:
            await self._handle(record)
            # grouped: the calls decided in one burst forget their provisional records in one commit
            await self.store.run_grouped(_forget(record.linkedid))
        except sqlite3.Error as exc:
            self._hold(record, str(exc))
            return False
        return True

    def _hold(self, record: CallRecord, why: str) -> None:
        if not self._held or not self.error:
            self.error = why  # the store's own words ("database or disk is full")
        key = (record.linkedid, record.outcome.value)
        if key not in self._held and len(self._held) >= self.max_held:
            (lost, _), _ = self._held.popitem(last=False)
            self.dropped += 1
            log.error(
                "tickets: more than %d finished calls held in memory; the oldest (%s) is lost "
                "(%d lost so far)",
                self.max_held,
                lost,
                self.dropped,
            )
        if not self._held:
            log.error(
                "tickets: the state database cannot be written (%s): finished calls are held in "
                "memory and written once it works again (free disk space under %s)",
                why,
                self.store.path.parent,
            )
        self._held[key] = record
        self._wake.set()

    def health(self) -> Health:
        data: dict[str, object] = {
            "held": len(self._held),
            "unsaved": len(self._unsaved),
            "dropped": self.dropped,
        }
        # Calls lost to the bound stay said until a restart: green afterwards would hide the loss.
        lost = (
            f"; {self.dropped} finished call(s) LOST (more than {self.max_held} held)" if self.dropped else ""
        )
        if self._held or self.error:
            return Health(
                False,
                f"state database cannot be written ({self.error}): {len(self._held)} "
                f"finished call(s) held in memory, retried{lost}",
                data,
            )
        if self.dropped:
            return Health(False, f"state database writable again{lost}", data)
        return Health(True, "ok", data)

    # ------------------------------------------------------------------ Component

    async def start(self) -> None:
        # The loop first: whatever the replay meets, calls ending from now on are still committed.
        self._task = asyncio.create_task(self._loop(), name="tickets-intake")
        await self._replay()

    async def stop(self, deadline: float) -> None:
        await self._flush()
        if self._held:
            await self._retry_held()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._held:
            log.error(
                "tickets: stopping with %d finished call(s) never written (state database: %s)",
                len(self._held),
                self.error,
            )

    async def _replay(self) -> None:
        """Calls the previous process saw end but had not decided: decide them now."""
        try:
            rows = await self.store.run(
                lambda c: c.execute("SELECT linkedid, record FROM ended_calls ORDER BY saved_at").fetchall()
            )
        except sqlite3.Error as exc:
            log.error("tickets: cannot read the calls saved within their grace period: %s", exc)
            return
        if rows:
            log.warning(
                "tickets: %d call(s) ended within the grace period before the last stop: deciding them now",
                len(rows),
            )
        for lid, text in rows:
            try:
                rec = record_from_json(text)
            except (ValueError, KeyError, TypeError) as exc:
                log.error("tickets: saved call %s unreadable (%s); skipped", lid, exc)
                await self.store.run(_forget(lid))
                continue
            try:
                await self._final(rec)
            except Exception:  # kept on disk: decided again at the next start
                log.exception("tickets: saved call %s could not be decided; kept for the next start", lid)

    async def _loop(self) -> None:
        wait = _RETRY_FIRST
        for _ in range(10**15):
            self._wake.clear()
            if not self._unsaved and not self._held:
                await self._wake.wait()
            await asyncio.sleep(_LINGER)
            try:
                ok = await self._flush()
                if self._held:
                    ok = await self._retry_held() and ok
            except Exception:  # a bug must not end the loop: later calls would go uncommitted
                log.exception("tickets: writing finished calls failed; retried")
                ok = False
            if ok or not (self._unsaved or self._held):  # nothing left that a retry would write
                wait = _RETRY_FIRST
                if not self._held:
                    self.error = ""
            else:
                await asyncio.sleep(wait)
                wait = min(_RETRY_MAX, wait * 2)

    async def _flush(self) -> bool:
        if not self._unsaved:
            return True
        batch = list(self._unsaved.items())
        self._unsaved.clear()
        now = self.clock()

        def tx(c: sqlite3.Connection) -> None:
            c.execute("BEGIN IMMEDIATE")
            try:
                for lid, rec in batch:
                    if rec is None:
                        c.execute("DELETE FROM ended_calls WHERE linkedid=?", (lid,))
                    else:
                        c.execute(
                            "INSERT OR REPLACE INTO ended_calls(linkedid, record, saved_at) VALUES (?,?,?)",
                            (lid, record_to_json(rec), now),
                        )
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise

        self._flushing = True
        try:
            await self.store.run(tx)
        except sqlite3.Error as exc:
            for lid, rec in batch:  # keep them (newer ones win) and try again
                if lid not in self._decided:
                    self._unsaved.setdefault(lid, rec)
            self.error = str(exc)
            return False
        finally:
            self._flushing = False
            self._decided.clear()
        return True

    async def _retry_held(self) -> bool:
        for key, rec in list(self._held.items()):
            try:
                await self._handle(rec)
            except sqlite3.Error as exc:
                self.error = str(exc)
                return False
            self._held.pop(key, None)
            with contextlib.suppress(sqlite3.Error):
                await self.store.run(_forget(rec.linkedid))
        log.warning("tickets: the state database takes writes again; every held call is written")
        self.error = ""
        return True


def _forget(linkedid: str) -> Callable[[sqlite3.Connection], object]:
    """The call is decided (ticket committed or no ticket): its provisional record goes."""

    def run(c: sqlite3.Connection) -> object:
        return c.execute("DELETE FROM ended_calls WHERE linkedid=?", (linkedid,))

    return run
