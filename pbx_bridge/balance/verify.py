"""Who is calling, and may they hear a balance?

Identification comes only from ``agi_callerid`` (what Asterisk says the calling number is) through the
directory (contact -> client), or from the configured ``balance.number_map``; never from an AGI argument
or anything else the caller chooses. A client number typed on the keypad only *selects* a client; it is
accepted only together with that client's PIN (ITFlow's ``contact_pin``), so it cannot be used to step
through client ids: every wrong client/PIN pair is a failure, answered exactly like a wrong PIN.

Attempt limits (persisted in the Store, so a restart does not reset them): ``max_attempts`` per call;
``max_failures_per_number`` within ``lockout_window`` locks one (calling number, client) pair and one
channel, never a whole client: guesses from spoofed numbers must not lock the real caller out. Against
guesses spread over rotating numbers, each client's PIN checks slow down once it collected
``max_failures_per_client`` failures (a growing delay, one check at a time), which bounds the guessing
rate while the right PIN still works. A withheld number is no key of its own (every withheld caller would
share it). Successes are limited too: ``max_balances_per_number`` per ``number_window`` and
``max_balances_per_door`` per ``door_window``. Attempts are logged with the number and client id, never
the digits.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from pbx_bridge.balance.settings import BalanceSettings
from pbx_bridge.directory.model import LookupResult, MatchKind, PartyKind
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.log_limits import clip
from pbx_bridge.store import Store

__all__ = ["AttemptLog", "CallerLookup", "Identity", "Numbers", "Verifier", "Why"]

log = logging.getLogger("pbx_bridge.balance.verify")

ANONYMOUS = "anonymous"

MIGRATIONS = [
    """
    CREATE TABLE balance_attempts (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,            -- unix time
        number TEXT NOT NULL,        -- canonical calling number, or 'anonymous'
        client_id INTEGER NOT NULL DEFAULT 0,
        call_id TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL,          -- pin | client-number | callerid
        ok INTEGER NOT NULL          -- 1 success, 0 failure
    );
    CREATE INDEX balance_attempts_number ON balance_attempts(number, at);
    CREATE INDEX balance_attempts_client ON balance_attempts(client_id, at);
    """,
    """
    ALTER TABLE balance_attempts ADD COLUMN channel TEXT NOT NULL DEFAULT '';
    ALTER TABLE balance_attempts ADD COLUMN door TEXT NOT NULL DEFAULT '';
    CREATE INDEX balance_attempts_channel ON balance_attempts(channel, at);
    CREATE INDEX balance_attempts_door ON balance_attempts(door, ok, at);
    """,
]
_FILTERS = ("number", "client_id", "channel", "door", "call_id")  # column names: never taken from input


class Why(StrEnum):
    """Why a caller was or was not identified (logged, counted, and returned to the classic script)."""

    CALLERID = "callerid"  # the directory tied the number to one client
    NUMBER_MAP = "number_map"  # balance.number_map
    UNKNOWN = "unknown"  # no match, or only a vendor
    AMBIGUOUS = "ambiguous"  # the number belongs to several clients
    ARCHIVED = "archived"  # the matching contact/location is archived
    NO_IDS = "no_ids"  # legacy answers carry no client ids and no map entry exists
    NO_NUMBER = "no_number"  # withheld / not a possible number


@dataclass(frozen=True, slots=True)
class Identity:
    client_id: int
    why: Why
    client_name: str = ""
    contact_ids: tuple[int, ...] = ()  # whose contact_pin may verify; () = any contact of the client


class CallerLookup(Protocol):
    """The caller-ID lookup (``CallerId``) as the verifier asks it: who is calling from this number?"""

    async def lookup(self, raw_number: str | None) -> LookupResult: ...


class Numbers(Protocol):
    """What the verifier needs of :class:`pbx_bridge.numbers.NumberPlan`."""

    def canonical(self, raw: str | None) -> str | None: ...


class AttemptLog:
    """Attempts and failures, persisted in the daemon's Store."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        store.migrate("balance", MIGRATIONS)

    async def record(
        self,
        *,
        number: str,
        client_id: int,
        call_id: str,
        kind: str,
        ok: bool,
        channel: str = "",
        door: str = "",
    ) -> None:
        at = self._clock()

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO balance_attempts(at, number, client_id, call_id, kind, ok, channel, "
                "door) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (at, number, client_id, call_id, kind, int(ok), channel[:200], door),
            )

        await self._store.run(write)
        log.info(
            "balance attempt: number=%s client=%s call=%s kind=%s result=%s",
            clip(number),
            client_id or "-",
            clip(call_id or "-"),
            kind,
            "ok" if ok else "failed",
        )

    async def failures(self, *, window: float, **where: str | int) -> int:
        """Failures within ``window`` matching every given column (number, client_id, channel, door)."""
        return await self.count(ok=False, window=window, **where)

    async def count(self, *, ok: bool, window: float, **where: str | int) -> int:
        since = self._clock() - window
        unknown = set(where) - set(_FILTERS)
        if unknown:
            raise TypeError(f"no such attempt column: {sorted(unknown)}")
        sql = "SELECT COUNT(*) FROM balance_attempts WHERE ok = ? AND at >= ?" + "".join(
            f" AND {col} = ?" for col in where
        )
        params = (int(ok), since, *where.values())

        def run(conn: sqlite3.Connection) -> int:
            return int(conn.execute(sql, params).fetchone()[0])

        return await self._store.run(run)

    async def prune(self, older_than: float) -> int:
        """Forget attempts older than ``older_than`` seconds (called now and then; keeps the table small)."""
        before = self._clock() - older_than

        def delete(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM balance_attempts WHERE at < ?", (before,)).rowcount

        return await self._store.run(delete)


class Verifier:
    """Identification and PIN checks for one daemon (stateless per call; limits live in ``AttemptLog``)."""

    def __init__(
        self,
        *,
        callerid: CallerLookup,
        plan: Numbers,
        itflow: Itflow,
        attempts: AttemptLog,
        settings: BalanceSettings,
    ) -> None:
        self._callerid = callerid
        self._plan = plan
        self._itflow = itflow
        self.attempts = attempts
        self.settings = settings
        self._map = self._canonical_map(settings.number_map)
        # One PIN check at a time per client once it is slowed down, so parallel calls cannot share a delay.
        self._client_gates: dict[int, asyncio.Lock] = {}
        self._gate_users: dict[int, int] = {}  # checks holding or awaiting each client's gate
        self._grant_lock = asyncio.Lock()  # success limits: count and record as one step

    def _canonical_map(self, raw: dict[str, int]) -> dict[str, int]:
        out: dict[str, int] = {}
        for number, client_id in raw.items():
            key = self.canonical(number)
            if key:
                out[key] = int(client_id)
            else:
                log.warning("balance.number_map: %r is not a possible number; ignored", number)
        return out

    def canonical(self, raw: str) -> str:
        try:
            return self._plan.canonical(raw) or ""
        except Exception as exc:  # a plan that rejects odd input must not break the call
            log.warning(
                "balance: calling number %r not understood (%s); treated as withheld",
                clip(raw),
                clip(exc, 120),
            )
            return ""

    def calling_key(self, raw: str) -> str:
        """The key attempts are counted under: the canonical number, or 'anonymous'."""
        return self.canonical(raw) or ANONYMOUS

    # ------------------------------------------------------------------ identification

    async def identify(self, raw_callerid: str, *, legacy_only: bool) -> tuple[Identity | None, Why]:
        number = self.canonical(raw_callerid)
        if not number:
            return None, Why.NO_NUMBER
        if number in self._map:
            return Identity(self._map[number], Why.NUMBER_MAP), Why.NUMBER_MAP
        if legacy_only:
            # api.php answers names only: no client id to tie the number to.
            return None, Why.NO_IDS
        result = await self._callerid.lookup(raw_callerid)
        return _identity_from_lookup(result)

    # ------------------------------------------------------------------ limits

    async def locked(self, number_key: str, client_id: int, channel: str, call_id: str = "") -> bool:
        """Is this (calling number, client) pair or this channel locked out by its failures?

        The channel lock counts the failures of this call only (channel and ``agi_uniqueid``): channel
        names are a running counter, so a spoofer could otherwise record failures under the names of
        calls still to come and have the next real caller refused before being asked."""
        s = self.settings
        on_channel: dict[str, str | int] = (
            {"channel": channel, "call_id": call_id} if call_id else {"channel": channel}
        )
        if (
            channel
            and await self.attempts.failures(window=s.lockout_window, **on_channel)
            >= s.max_failures_per_number
        ):
            return True
        if number_key == ANONYMOUS or client_id <= 0:
            return False
        return (
            await self.attempts.failures(number=number_key, client_id=client_id, window=s.lockout_window)
            >= s.max_failures_per_number
        )

    def pin_delay(self, client_failures: int) -> float:
        """Seconds a PIN check of a client with this many recent failures waits first (0 below the mark)."""
        s = self.settings
        over = client_failures - s.max_failures_per_client
        if over < 0:
            return 0.0
        return min(s.pin_delay_max, s.pin_delay_first * 2.0 ** min(over, 30))

    async def pin_check(self, identity: Identity, entered: str) -> bool:
        """:meth:`pin_matches`, after the client's slow-down; one check at a time per slowed client."""
        failures = await self.attempts.failures(
            client_id=identity.client_id, window=self.settings.lockout_window
        )
        delay = self.pin_delay(failures)
        if delay <= 0:
            return await self.pin_matches(identity, entered)
        client = identity.client_id
        gate = self._client_gates.setdefault(client, asyncio.Lock())
        # Forget the gate only when no check holds or awaits it: Lock.locked() is False for a moment between
        # one holder's release and the next waiter's wake-up, and a gate dropped then would let the next
        # newcomer take a fresh one and check in parallel with the queue.
        self._gate_users[client] = self._gate_users.get(client, 0) + 1
        try:
            async with gate:
                log.warning(
                    "balance: client %s has %d failed PINs within the window; this check waits %.2f s",
                    client,
                    failures,
                    delay,
                )
                await asyncio.sleep(delay)
                return await self.pin_matches(identity, entered)
        finally:
            self._gate_users[client] -= 1
            if not self._gate_users[client]:
                del self._gate_users[client]
                self._client_gates.pop(client, None)

    async def grant(
        self, *, number_key: str, client_id: int, call_id: str, kind: str, channel: str, door: str
    ) -> bool:
        """Record a successful lookup unless it would pass the per-number or per-door limit (False)."""
        s = self.settings
        async with self._grant_lock:
            door_used = await self.attempts.count(ok=True, window=s.door_window, door=door)
            if door_used >= s.max_balances_per_door:
                log.warning(
                    "balance: %d balances through the %s door within %g s, the most "
                    "balance.max_balances_per_door allows; refused one for client %s",
                    door_used,
                    door,
                    s.door_window,
                    client_id,
                )
                return False
            if number_key != ANONYMOUS:
                used = await self.attempts.count(ok=True, window=s.number_window, number=number_key)
                if used >= s.max_balances_per_number:
                    log.warning(
                        "balance: %s heard %d balances within %g s, the most "
                        "balance.max_balances_per_number allows",
                        clip(number_key),
                        used,
                        s.number_window,
                    )
                    return False
            await self.attempts.record(
                number=number_key,
                client_id=client_id,
                call_id=call_id,
                kind=kind,
                ok=True,
                channel=channel,
                door=door,
            )
            return True

    # ------------------------------------------------------------------ PINs

    async def _contact_rows(self, identity: Identity) -> list[dict[str, str]]:
        v1 = self._itflow.v1
        if v1 is None:
            return []
        rows: list[dict[str, str]] = []
        if identity.contact_ids:
            for contact_id in identity.contact_ids:
                rows.extend((await v1.contacts_read(contact_id=contact_id)).rows)
        else:
            async for row in v1.iter_rows("contacts", "read"):
                rows.append(row)
        return [
            r
            for r in rows
            if _int(r.get("contact_client_id")) == identity.client_id
            and not (r.get("contact_archived_at") or "").strip()
            and (not identity.contact_ids or _int(r.get("contact_id")) in identity.contact_ids)
        ]

    async def pin_matches(self, identity: Identity, entered: str) -> bool:
        """Does ``entered`` equal the contact_pin of a (non-archived) contact that may verify? Constant-time
        per comparison; a PIN that is not all digits cannot be typed and never matches."""
        if not entered or not entered.isdigit():
            return False
        ok = False
        for row in await self._contact_rows(identity):
            pin = (row.get("contact_pin") or "").strip()
            if pin.isdigit() and hmac.compare_digest(pin.encode(), entered.encode()):
                ok = True
        return ok

    async def has_pin(self, identity: Identity) -> bool:
        return any((r.get("contact_pin") or "").strip().isdigit() for r in await self._contact_rows(identity))


def _identity_from_lookup(result: LookupResult) -> tuple[Identity | None, Why]:
    match, party = result.match, result.party
    if match in (MatchKind.CONTACT, MatchKind.LOCATION):
        if party is not None and party.archived:
            return None, Why.ARCHIVED
        client_id = result.client_id or (party.client_id if party is not None else 0)
        if client_id <= 0:
            return None, Why.UNKNOWN
        contact_id = result.contact_id
        if match == MatchKind.CONTACT and not contact_id and party is not None:
            contact_id = party.id
        contacts: tuple[int, ...] = (contact_id,) if match == MatchKind.CONTACT and contact_id else ()
        return Identity(client_id, Why.CALLERID, result.client_name, contacts), Why.CALLERID
    if match == MatchKind.AMBIGUOUS:
        parties = [
            p
            for p in result.candidates
            if p.kind in (PartyKind.CONTACT, PartyKind.LOCATION) and not p.archived and p.client_id > 0
        ]
        clients = {p.client_id for p in parties}
        if len(clients) == 1:
            contacts = tuple(p.id for p in parties if p.kind == PartyKind.CONTACT)
            # Several parties of ONE client share the number (e.g. office line): still that client.
            # A location among them means the office line itself: any contact's PIN may verify.
            if any(p.kind == PartyKind.LOCATION for p in parties):
                contacts = ()
            return Identity(clients.pop(), Why.CALLERID, parties[0].client_name, contacts), Why.CALLERID
        return None, Why.AMBIGUOUS
    if match == MatchKind.LEGACY:
        return None, Why.NO_IDS
    return None, Why.UNKNOWN


def _int(value: str | None) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return 0
