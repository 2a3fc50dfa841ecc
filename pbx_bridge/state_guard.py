"""Notice a state database that was emptied, deleted or replaced, and say so loudly.

SQLite cannot tell "a new install" from "someone emptied the file": both are an empty database. So the
database carries an identity row, and a small record *beside* it (``<file>.guard.json``, rewritten
every few seconds and at stop) keeps that identity and the last outbox state seen (highest row id,
tickets waiting). At start a record that does not match the database (no identity, another identity,
fewer outbox rows than recorded) is logged as an error and turns readiness red for the life of the
process; while running, the file being deleted or replaced (another inode) does the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from pbx_bridge.component import Health
from pbx_bridge.store import Store

__all__ = ["StateGuard", "inspect_state_file", "unusable_problem"]

log = logging.getLogger("pbx_bridge.state")

_INTERVAL = 2.0


class StateGuard:
    name = "state-guard"

    def __init__(self, store: Store, *, problem: str = "", remind_every: float = 600.0) -> None:
        self.store = store
        # On a temporary in-memory store the start-up error scrolls out of the journal: say it again.
        self.remind_every = remind_every
        self.on_memory = str(store.path) == ":memory:"
        self.path = Path(store.path)
        self.sidecar = self.path.with_name(self.path.name + ".guard.json")
        self.problem = problem
        self.identity = ""
        self._ino: int | None = None
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ at start

    def check(self) -> None:
        """Compare the database with the record beside it; adopt the database afterwards."""
        if self.problem:  # the daemon already runs on a fallback store
            return
        recorded = self._read_sidecar()
        identity, max_id, _ = self.store.call(_facts)
        if recorded:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(recorded.get("at", 0))))
            was = (
                f"{self.sidecar} recorded {recorded.get('max_id', 0)} outbox row(s), "
                f"{recorded.get('waiting', 0)} ticket(s) waiting, at {when}"
            )
            if not identity:
                self.problem = (
                    f"state database {self.path} is new or was emptied/deleted, but {was}: "
                    "tickets that were waiting are gone (restore the file from a backup)"
                )
            elif identity != recorded.get("identity"):
                self.problem = f"state database {self.path} was replaced by another one ({was})"
            elif max_id < int(recorded.get("max_id", 0)):
                self.problem = f"state database {self.path} lost outbox rows: highest id {max_id}, but {was}"
        if self.problem:
            log.error("STATE DATABASE DAMAGED: %s", self.problem)
        if not identity:
            identity = uuid.uuid4().hex
            self.store.call(
                lambda c: c.execute(
                    "INSERT INTO state_identity(identity, created_at) VALUES (?, ?)", (identity, time.time())
                )
            )
        self.identity = identity
        self._ino = _inode(self.path)
        self.record()

    def _read_sidecar(self) -> dict[str, Any]:  # our own JSON record: numbers and text
        try:
            data = json.loads(self.sidecar.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("state guard: %s unreadable (%s); not compared", self.sidecar, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def record(self) -> None:
        """Rewrite the record beside the database (atomically; a full disk only skips one update)."""
        if not self.identity or self.problem.startswith("state database file"):
            return
        try:
            _, max_id, waiting = self.store.call(_facts)
            tmp = self.sidecar.with_suffix(".tmp")
            tmp.write_text(
                json.dumps(
                    {"identity": self.identity, "max_id": max_id, "waiting": waiting, "at": time.time()}
                )
            )
            os.replace(tmp, self.sidecar)
        except (OSError, sqlite3.Error) as exc:
            log.debug("state guard: record not updated: %s", exc)

    # ------------------------------------------------------------------ Component

    def health(self) -> Health:
        return Health(False, self.problem) if self.problem else Health(True, f"{self.path}")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="state-guard")

    async def stop(self, deadline: float) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.identity and not self.problem:
            await asyncio.to_thread(self.record)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        reminded = loop.time()
        for _ in range(10**15):
            await asyncio.sleep(min(_INTERVAL, self.remind_every))
            if self.on_memory and self.problem and loop.time() - reminded >= self.remind_every:
                reminded = loop.time()
                log.error(
                    "STATE DATABASE STILL NOT IN USE (what is queued is lost on a crash): %s", self.problem
                )
            ino = _inode(self.path)
            if self._ino is not None and ino != self._ino and not self.problem:
                self.problem = (
                    f"state database file {self.path} was deleted or replaced while running: "
                    "new tickets are written to a file that is gone; restart pbx-bridge"
                )
                log.error("STATE DATABASE DAMAGED: %s", self.problem)
            await asyncio.to_thread(self.record)


_FULL_BELOW = 1 << 20  # bytes free under which "cannot open" is taken as "the disk is full"


def unusable_problem(path: Path, exc: BaseException) -> tuple[str, str]:
    """(log headline, problem): why the daemon runs on a temporary in-memory store, and what to do.
    A full filesystem makes SQLite fail to open a healthy file ("disk I/O error" creating its -shm):
    the advice is then to free space, never to move a good file aside."""
    fallback = (
        "running on a temporary in-memory store (caller ID serves, tickets are delivered but lost on a crash)"
    )
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    if free is not None and free < _FULL_BELOW:
        return "STATE DISK FULL", (
            f"state database {path} cannot be opened: its filesystem is full ({free} bytes free; {exc}): "
            f"{fallback}; free disk space under {path.parent}, then restart pbx-bridge (the file is kept "
            "as it is: do not move it aside)"
        )
    return "STATE DATABASE DAMAGED", (
        f"state database {path} is unusable ({exc}): {fallback}; move the file "
        "aside or restore it, then restart"
    )


def inspect_state_file(path: Path) -> str:
    """What ``pbx-bridge check`` says of the state file without changing it: "" when usable (or not
    created yet, with no record of an earlier one), else the problem, naming the file. A daemon that
    found it so runs on a temporary in-memory store."""
    sidecar = path.with_name(path.name + ".guard.json")
    if not path.exists():
        return (
            (
                f"{path} is missing, but {sidecar} records an earlier one: tickets that were waiting are "
                "gone unless it is restored"
            )
            if sidecar.exists()
            else ""
        )
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as c:
            result = c.execute("PRAGMA quick_check(1)").fetchone()[0]
            has_identity = (
                c.execute(
                    "SELECT 1 FROM sqlite_master WHERE type='table' AND name='state_identity'"
                ).fetchone()
                is not None
            )
            identity = (
                (c.execute("SELECT identity FROM state_identity LIMIT 1").fetchone() or [""])[0]
                if has_identity
                else ""
            )
    except sqlite3.Error as exc:
        return f"{path} is unusable ({exc}): a daemon started on it runs on a temporary in-memory store"
    if result != "ok":
        return f"{path} is damaged ({result}): a daemon started on it runs on a temporary in-memory store"
    try:
        recorded = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    except (OSError, ValueError):
        recorded = {}
    if isinstance(recorded, dict) and recorded.get("identity") and recorded["identity"] != identity:
        return (
            f"{path} is not the database {sidecar} records (emptied or replaced): tickets that were "
            "waiting are gone unless it is restored"
        )
    return ""


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def _facts(c: sqlite3.Connection) -> tuple[str, int, int]:
    c.execute("CREATE TABLE IF NOT EXISTS state_identity (identity TEXT NOT NULL, created_at REAL NOT NULL)")
    r = c.execute("SELECT identity FROM state_identity LIMIT 1").fetchone()
    identity = r[0] if r else ""
    if c.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='outbox'").fetchone() is None:
        return identity, 0, 0
    max_id = c.execute("SELECT COALESCE(MAX(id), 0) FROM outbox").fetchone()[0]
    waiting = c.execute("SELECT COUNT(*) FROM outbox WHERE state='pending'").fetchone()[0]
    return identity, int(max_id), int(waiting)
