"""The daemon's state: one SQLite file in ``state_dir``, WAL mode, versioned migrations per component.

Each component (directory, outbox, ...) owns its tables and an ordered list of migration steps;
``migrate`` applies the steps it has not applied yet, each in its own transaction, and records the
version in ``schema_version``. Steps are append-only: never edit one that has shipped.

SQLite calls block, so async code goes through :meth:`Store.run`, which runs them on one dedicated
thread (one writer, no lock contention inside the process).

:meth:`Store.run_grouped` is group commit: writes that arrive while the store thread is busy share the
next transaction, so a burst of calls ending together costs one fsync per transaction instead of one per
call (docs/tickets.md, "The delivery guarantee"), and each caller still returns only after COMMIT.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from pbx_bridge.errors import PbxBridgeError

__all__ = ["Store", "StoreError"]

T = TypeVar("T")


class StoreError(PbxBridgeError):
    """The state file cannot be opened or migrated."""


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection, used only from the store thread (or synchronously by CLI commands).
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._lock = threading.Lock()
        # run_grouped: writes waiting for the next group transaction, and the task that commits them
        self._group: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._group_task: asyncio.Task[None] | None = None
        try:
            self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the state database: {exc}") from exc

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> Store:
        return cls(cls.in_state_dir_path(state_dir))

    @staticmethod
    def in_state_dir_path(state_dir: Path) -> Path:
        return Path(state_dir) / "pbx-bridge.sqlite3"

    def verify(self) -> None:
        """Raise StoreError naming the file when SQLite finds it damaged (``quick_check``)."""
        try:
            result = self.conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from exc
        if result != "ok":
            raise StoreError(f"{self.path}: damaged: {result}")

    def migrate(self, component: str, steps: Sequence[str]) -> int:
        """Apply the not-yet-applied ``steps`` of ``component``; return its schema version."""
        with self._lock:
            row = self.conn.execute(
                "SELECT version FROM schema_version WHERE component = ?", (component,)
            ).fetchone()
            version = row[0] if row else 0
            if version > len(steps):
                raise StoreError(
                    f"{self.path}: {component} schema is version {version}, newer than this "
                    f"pbx-bridge knows ({len(steps)}); upgrade pbx-bridge"
                )
            for n, sql in enumerate(steps[version:], start=version + 1):
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    for statement in _split(sql):
                        self.conn.execute(statement)
                    self.conn.execute(
                        "INSERT INTO schema_version(component, version) VALUES (?, ?) "
                        "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                        (component, n),
                    )
                    self.conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    if self.conn.in_transaction:  # SQLite may have rolled back already (disk full)
                        self.conn.execute("ROLLBACK")
                    raise StoreError(f"{self.path}: migration {component} #{n} failed: {exc}") from exc
            return len(steps)

    def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` synchronously (CLI commands, tests)."""
        with self._lock:
            return fn(self.conn)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the store thread without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.call, fn)

    async def run_grouped(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` (statements only, no BEGIN/COMMIT of its own) in a transaction shared with
        the other grouped writes waiting meanwhile; return once that transaction is committed.

        Each write runs under its own savepoint: one that raises is undone alone and its caller gets the
        exception. When the transaction itself fails (disk full: SQLite rolls it all back) every caller
        of the group gets that error; nothing is reported written that was not committed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._group.append((fn, fut))
        if self._group_task is None or self._group_task.done():
            self._group_task = loop.create_task(self._commit_groups(), name="store-group-commit")
        return await fut

    async def _commit_groups(self) -> None:
        while self._group:
            batch, self._group = self._group, []
            try:
                results = await self.run(functools.partial(_in_one_transaction, fns=[fn for fn, _ in batch]))
            except BaseException as exc:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, fut), (ok, value) in zip(batch, results, strict=True):
                if fut.done():  # its caller was cancelled; the write is committed all the same
                    continue
                if ok:
                    fut.set_result(value)
                else:
                    fut.set_exception(value)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        with self._lock:
            self.conn.close()


def _in_one_transaction(
    c: sqlite3.Connection, fns: list[Callable[[sqlite3.Connection], Any]]
) -> list[tuple[bool, Any]]:
    """(True, result) or (False, exception) per write, all committed together; raises when the
    transaction as a whole failed."""
    out: list[tuple[bool, Any]] = []
    c.execute("BEGIN IMMEDIATE")
    try:
        for fn in fns:
            c.execute("SAVEPOINT grouped")
            try:
                value = fn(c)
            except Exception as exc:
                if not c.in_transaction:  # SQLite rolled the whole transaction back (SQLITE_FULL)
                    raise
                c.execute("ROLLBACK TO grouped")
                c.execute("RELEASE grouped")
                out.append((False, exc))
                continue
            c.execute("RELEASE grouped")
            out.append((True, value))
        c.execute("COMMIT")
    except BaseException:
        # After SQLITE_FULL/IOERR SQLite may have rolled back already: a second ROLLBACK would raise
        # "cannot rollback - no transaction is active" and hide the real cause.
        if c.in_transaction:
            c.execute("ROLLBACK")
        raise
    return out


def _split(script: str) -> list[str]:
    """Split a migration script into statements (``sqlite3.complete_statement`` knows where one ends)."""
    out: list[str] = []
    buf = ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n\t;"):
                out.append(buf.strip())
            buf = ""
    return out
