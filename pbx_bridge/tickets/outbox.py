"""Durable ticket outbox in the state store: a call's ticket is committed here before any ITFlow call.

One row per (Linkedid, kind) -- the idempotency key. States:

* ``pending``   waiting for (re)delivery; ``in_flight=1`` means a send started and its result is unknown
  (timeout, cut connection, a crash): the worker reconciles (looks for the call marker) before re-sending;
* ``delivered`` ITFlow has it (``ticket_id``; ``reply_id`` when it went out as a reply);
* ``dead``      ITFlow refused it for good, or 5xx for longer than ``dead_letter_after``: kept, never
  deleted; ``tickets retry`` puts it back;
* ``replaced``  a missed ticket superseded by the voicemail of the same call before it was delivered;
* ``dropped``   an operator dropped it (``tickets drop``); kept for the record;
* ``skipped``   nothing to deliver after all (a journal note whose caller has no open ticket, a
  journal time entry already carried by its note); kept for the record.

Kinds: ``missed`` and ``voicemail`` (tickets), ``journal`` and ``journal-time`` (the call journal,
``pbx_bridge/journal``): one queue, one exactly-once machinery.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pbx_bridge.store import Store

__all__ = ["Column", "Outbox", "OutboxRow", "Payload"]

T = TypeVar("T")

# What intake renders for one ticket (subject, details, priority, marker, outcome, ended), kept as JSON.
Payload = dict[str, str]
# A value :meth:`Outbox.update` writes to one column (``payload`` is stored as JSON).
Column = str | int | float | bool | None | Payload

MIGRATIONS = [
    """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        linkedid TEXT NOT NULL,
        kind TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        created_at REAL NOT NULL,
        next_attempt_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        in_flight INTEGER NOT NULL DEFAULT 0,
        first_error_at REAL,
        last_error TEXT NOT NULL DEFAULT '',
        number TEXT NOT NULL DEFAULT '',
        contact_id INTEGER NOT NULL DEFAULT 0,
        client_id INTEGER NOT NULL DEFAULT 0,
        follows_id INTEGER,
        payload TEXT NOT NULL,
        ticket_id INTEGER,
        reply_id INTEGER,
        via TEXT NOT NULL DEFAULT '',
        delivered_at REAL,
        UNIQUE (linkedid, kind)
    );
    CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
    CREATE INDEX outbox_repeat ON outbox (state, number, delivered_at);
    CREATE TABLE outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # sent_at: when the last write left (an unknown outcome is searched for only after ITFlow had time
    # to commit it); search_floor: the newest ticket id known before that write (ours can only be newer).
    """
    ALTER TABLE outbox ADD COLUMN sent_at REAL;
    ALTER TABLE outbox ADD COLUMN search_floor INTEGER NOT NULL DEFAULT 0;
    """,
    # Finished calls still inside ``ami.grace``: committed at their last Hangup, decided after the grace
    # (or at the next start, when the process died in between).
    """
    CREATE TABLE ended_calls (linkedid TEXT PRIMARY KEY, record TEXT NOT NULL, saved_at REAL NOT NULL);
    """,
]

_COLS = (
    "id, linkedid, kind, state, created_at, next_attempt_at, attempts, in_flight, first_error_at, "
    "last_error, number, contact_id, client_id, follows_id, payload, ticket_id, reply_id, via, "
    "delivered_at, sent_at, search_floor"
)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    linkedid: str
    kind: str
    state: str
    created_at: float
    next_attempt_at: float
    attempts: int
    in_flight: bool
    first_error_at: float | None
    last_error: str
    number: str
    contact_id: int
    client_id: int
    follows_id: int | None
    payload: Payload
    ticket_id: int | None
    reply_id: int | None
    via: str
    delivered_at: float | None
    sent_at: float | None = None
    search_floor: int = 0

    @classmethod
    def from_sql(cls, r: sqlite3.Row) -> OutboxRow:
        d = dict(r)
        d["payload"] = json.loads(d["payload"])
        d["in_flight"] = bool(d["in_flight"])
        return cls(**d)


class Outbox:
    """Sync methods take the store's lock (CLI, tests); ``a*`` variants run on the store thread."""

    def __init__(self, store: Store, *, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock
        store.migrate("outbox", MIGRATIONS)
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> None:
        """``callback()`` after each new row (the worker wakes up)."""
        self._listeners.append(callback)

    # ------------------------------------------------------------------ writes
    # Each operation is a function of the connection; the sync method runs it under the store lock
    # (CLI, tests), the ``a``-prefixed one on the store thread (daemon paths).

    def _enqueue(
        self, linkedid: str, kind: str, payload: Payload, number: str, contact_id: int, client_id: int
    ) -> Callable[[sqlite3.Connection], OutboxRow | None]:
        """The statements of one enqueue, to run inside a transaction (its own, or a group's)."""
        now = self.clock()

        def run(conn: sqlite3.Connection) -> OutboxRow | None:
            follows = None
            if kind == "journal-time":
                # The journal's time worked follows its note (a reply on the ticket it opened).
                m = conn.execute(
                    "SELECT id FROM outbox WHERE linkedid=? AND kind='journal'", (linkedid,)
                ).fetchone()
                follows = m["id"] if m is not None else None
            if kind == "voicemail":
                m = conn.execute(
                    "SELECT id, state, in_flight FROM outbox WHERE linkedid=? AND kind='missed'",
                    (linkedid,),
                ).fetchone()
                if m is not None:
                    if m["state"] == "pending" and not m["in_flight"]:
                        conn.execute(
                            "UPDATE outbox SET state='replaced', last_error=? WHERE id=?",
                            ("replaced by the voicemail of the same call", m["id"]),
                        )
                    elif m["state"] in ("pending", "delivered"):
                        follows = m["id"]
            cur = conn.execute(
                "INSERT OR IGNORE INTO outbox (linkedid, kind, created_at, next_attempt_at, number, "
                "contact_id, client_id, follows_id, payload) VALUES (?,?,?,?,?,?,?,?,?)",
                (linkedid, kind, now, now, number, contact_id, client_id, follows, json.dumps(payload)),
            )
            if not cur.rowcount:
                return None
            return OutboxRow.from_sql(
                conn.execute(f"SELECT {_COLS} FROM outbox WHERE id=?", (cur.lastrowid,)).fetchone()
            )

        return run

    def enqueue(
        self,
        linkedid: str,
        kind: str,
        payload: Payload,
        *,
        number: str = "",
        contact_id: int = 0,
        client_id: int = 0,
    ) -> OutboxRow | None:
        """Commit one ticket; None when (linkedid, kind) is already there (idempotent).

        A voicemail replaces the missed ticket of the same call: an undelivered, not in-flight missed
        row becomes ``replaced``; a delivered (or possibly delivered) one is followed up instead.
        """
        run = self._enqueue(linkedid, kind, payload, number, contact_id, client_id)
        row = self.store.call(lambda c: _transaction(c, run))
        self._notify(row)
        return row

    async def aenqueue(
        self,
        linkedid: str,
        kind: str,
        payload: Payload,
        *,
        number: str = "",
        contact_id: int = 0,
        client_id: int = 0,
    ) -> OutboxRow | None:
        """:meth:`enqueue` on the store thread, committed together with the other writes waiting
        meanwhile (group commit: a burst of calls ending at once is one fsync, not one per call)."""
        row = await self.store.run_grouped(
            self._enqueue(linkedid, kind, payload, number, contact_id, client_id)
        )
        self._notify(row)
        return row

    def _notify(self, row: OutboxRow | None) -> None:
        if row is not None:
            for cb in self._listeners:
                cb()

    @staticmethod
    def _update(row_id: int, fields: dict[str, Column]) -> Callable[[sqlite3.Connection], None]:
        if "payload" in fields:
            fields["payload"] = json.dumps(fields["payload"])
        if "in_flight" in fields:
            fields["in_flight"] = int(bool(fields["in_flight"]))
        sets = ", ".join(f"{k}=?" for k in fields)

        def run(c: sqlite3.Connection) -> None:
            c.execute(f"UPDATE outbox SET {sets} WHERE id=?", (*fields.values(), row_id))

        return run

    def update(self, row_id: int, **fields: Column) -> None:
        self.store.call(self._update(row_id, fields))

    async def aupdate(self, row_id: int, **fields: Column) -> None:
        await self.store.run(self._update(row_id, fields))

    # ------------------------------------------------------------------ reads

    @staticmethod
    def _get(row_id: int) -> Callable[[sqlite3.Connection], OutboxRow | None]:
        def run(c: sqlite3.Connection) -> OutboxRow | None:
            r = c.execute(f"SELECT {_COLS} FROM outbox WHERE id=?", (row_id,)).fetchone()
            return OutboxRow.from_sql(r) if r else None

        return run

    def get(self, row_id: int) -> OutboxRow | None:
        return self.store.call(self._get(row_id))

    async def aget(self, row_id: int) -> OutboxRow | None:
        return await self.store.run(self._get(row_id))

    @staticmethod
    def _due(now: float, limit: int) -> Callable[[sqlite3.Connection], list[OutboxRow]]:
        def run(c: sqlite3.Connection) -> list[OutboxRow]:
            rows = c.execute(
                f"SELECT {_COLS} FROM outbox WHERE state='pending' AND next_attempt_at<=? "
                "ORDER BY next_attempt_at, id LIMIT ?",
                (now, limit),
            ).fetchall()
            return [OutboxRow.from_sql(r) for r in rows]

        return run

    def due(self, now: float, limit: int = 50) -> list[OutboxRow]:
        return self.store.call(self._due(now, limit))

    async def adue(self, now: float, limit: int = 50) -> list[OutboxRow]:
        return await self.store.run(self._due(now, limit))

    @staticmethod
    def _next_due(c: sqlite3.Connection) -> float | None:
        r = c.execute("SELECT MIN(next_attempt_at) FROM outbox WHERE state='pending'").fetchone()
        return r[0] if r and r[0] is not None else None

    async def anext_due_at(self) -> float | None:
        return await self.store.run(self._next_due)

    def rows(self, states: tuple[str, ...] = ("pending", "dead"), limit: int = 1000) -> list[OutboxRow]:
        marks = ",".join("?" * len(states))
        rows = self.store.call(
            lambda c: c.execute(
                f"SELECT {_COLS} FROM outbox WHERE state IN ({marks}) ORDER BY id LIMIT ?", (*states, limit)
            ).fetchall()
        )
        return [OutboxRow.from_sql(r) for r in rows]

    @staticmethod
    def _counts(c: sqlite3.Connection) -> dict[str, int]:
        return {r[0]: r[1] for r in c.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()}

    def counts(self) -> dict[str, int]:
        return self.store.call(self._counts)

    async def acounts(self) -> dict[str, int]:
        return await self.store.run(self._counts)

    @staticmethod
    def _oldest(c: sqlite3.Connection) -> float | None:
        r = c.execute("SELECT MIN(created_at) FROM outbox WHERE state='pending'").fetchone()
        return r[0] if r and r[0] is not None else None

    async def aoldest_pending(self) -> float | None:
        return await self.store.run(self._oldest)

    async def aearlier_ticket(self, row: OutboxRow, since: float) -> OutboxRow | None:
        """The newest ticket we delivered for the same number or contact since ``since``."""
        if not row.number and not row.contact_id:
            return None

        def run(c: sqlite3.Connection) -> OutboxRow | None:
            r = c.execute(
                f"SELECT {_COLS} FROM outbox WHERE state='delivered' AND via='ticket' "
                "AND ticket_id IS NOT NULL AND delivered_at>=? AND id<>? "
                "AND ((number<>'' AND number=?) OR (contact_id>0 AND contact_id=?)) "
                "ORDER BY delivered_at DESC LIMIT 1",
                (since, row.id, row.number, row.contact_id),
            ).fetchone()
            return OutboxRow.from_sql(r) if r else None

        return await self.store.run(run)

    async def aticket_of(self, linkedid: str) -> int | None:
        """The ticket a call's row was delivered to (created, or replied to), else None (calls page)."""

        def run(c: sqlite3.Connection) -> int | None:
            row = c.execute(
                "SELECT ticket_id FROM outbox WHERE linkedid=? AND state='delivered' "
                "AND ticket_id IS NOT NULL ORDER BY id DESC LIMIT 1",
                (linkedid,),
            ).fetchone()
            return int(row[0]) if row is not None else None

        result: int | None = await self.store.run(run)
        return result

    async def ameta(self, key: str, default: str = "") -> str:
        r = await self.store.run(
            lambda c: c.execute("SELECT value FROM outbox_meta WHERE key=?", (key,)).fetchone()
        )
        return r[0] if r else default

    async def aset_meta(self, key: str, value: str) -> None:
        await self.store.run(
            lambda c: c.execute(
                "INSERT INTO outbox_meta(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )
        )

    # ------------------------------------------------------------------ operator verbs

    def retry(self, row_id: int | None = None) -> int:
        """Put dead (or dropped) rows back to pending now; all dead ones when ``row_id`` is None."""
        now = self.clock()
        if row_id is None:
            return self.store.call(
                lambda c: (
                    c.execute(
                        "UPDATE outbox SET state='pending', next_attempt_at=?, first_error_at=NULL "
                        "WHERE state='dead'",
                        (now,),
                    ).rowcount
                )
            )
        return self.store.call(
            lambda c: (
                c.execute(
                    "UPDATE outbox SET state='pending', next_attempt_at=?, first_error_at=NULL "
                    "WHERE id=? AND state IN ('dead', 'dropped')",
                    (now, row_id),
                ).rowcount
            )
        )

    def drop(self, row_id: int) -> int:
        """Stop delivering one row (pending or dead); it is kept with state ``dropped``."""
        return self.store.call(
            lambda c: (
                c.execute(
                    "UPDATE outbox SET state='dropped', last_error='dropped by an operator' "
                    "WHERE id=? AND state IN ('pending', 'dead')",
                    (row_id,),
                ).rowcount
            )
        )


def _transaction(conn: sqlite3.Connection, run: Callable[[sqlite3.Connection], T]) -> T:
    """``run`` in a transaction of its own (the CLI's and the tests' synchronous writes)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = run(conn)
        conn.execute("COMMIT")
        return result
    except BaseException:
        # SQLite has already rolled back after SQLITE_FULL/IOERR: a second ROLLBACK would raise
        # "cannot rollback - no transaction is active" and hide the real cause.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
