"""One pulled directory (a ``Snapshot``) and its copy in the state store, so a restart answers at once.

The snapshot is stored whole in one row: it is written once per sync and read once at start, never
queried piecewise, and one row makes the swap atomic (a crash mid-sync leaves the last good snapshot in
place). Format 2 stores the packed party table (directory/table.py) as two blobs, read back without
decoding a single party (a 100k directory loads in milliseconds); format 1 (one JSON document, up to
the first directory-at-scale release) is still read, and replaced by the next sync.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from pbx_bridge.directory.model import NumberLabel, Party, PartyKind, PartyNumber
from pbx_bridge.directory.table import NumberKeys, PartyTable
from pbx_bridge.store import Store

__all__ = ["MIGRATIONS", "Snapshot", "load_snapshot", "read_snapshot", "save_snapshot", "write_snapshot"]

# Append-only: never edit a step that has shipped.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE directory_snapshot (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        fetched_at TEXT NOT NULL,
        source TEXT NOT NULL,
        plan TEXT NOT NULL,
        body TEXT NOT NULL
    );
    """,
    """
    ALTER TABLE directory_snapshot ADD COLUMN parties BLOB;
    ALTER TABLE directory_snapshot ADD COLUMN offsets BLOB;
    ALTER TABLE directory_snapshot ADD COLUMN number_keys BLOB;
    ALTER TABLE directory_snapshot ADD COLUMN number_rows BLOB;
    """,
]

_FORMAT = 1  # the JSON document (read only)
_FORMAT_TABLE = 2


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every party the directory knows, when it was pulled and from where (``v1`` | ``legacy`` | ...).

    ``clients`` maps client id -> name for every non-archived client (also those without a phone party):
    a live lookup that finds a contact created after the sync still names its company, and one that
    finds a contact of an archived client (``archived_clients``) ignores it.
    """

    parties: PartyTable  # any iterable of parties is packed into one on construction
    fetched_at: datetime
    source: str
    clients: Mapping[int, str] = field(default_factory=dict)
    archived_clients: frozenset[int] = frozenset()
    notes: tuple[str, ...] = ()
    # The parties' number keys when they were collected on the way in (a pull, a stored copy): the
    # index then needs no pass over the table. Not content: left out of equality.
    keys: NumberKeys | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.parties, PartyTable):
            object.__setattr__(self, "parties", PartyTable.of(self.parties))

    def digest(self) -> str:
        """A hash of the content (not of the time): equal digests mean nothing changed."""
        return hashlib.sha256(self.parties.data).hexdigest()

    def age(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.fetched_at).total_seconds()

    def count_by_kind(self) -> dict[str, int]:
        return self.parties.count_by_kind()


def _party_to_json(p: Party) -> dict[str, Any]:
    return {
        "kind": p.kind.value,
        "id": p.id,
        "name": p.name,
        "client_id": p.client_id,
        "client_name": p.client_name,
        "primary": p.primary,
        "title": p.title,
        "email": p.email,
        "archived": p.archived,
        "numbers": [[n.label.value, n.raw, n.canonical, n.extension, n.country_code] for n in p.numbers],
    }


def _party_from_json(d: dict[str, Any]) -> Party:
    return Party(
        kind=PartyKind(d["kind"]),
        id=int(d["id"]),
        name=d["name"],
        client_id=int(d["client_id"]),
        client_name=d["client_name"],
        primary=bool(d["primary"]),
        title=d.get("title", ""),
        email=d.get("email", ""),
        archived=bool(d.get("archived", False)),
        numbers=tuple(PartyNumber(NumberLabel(n[0]), n[1], n[2], n[3], n[4]) for n in d["numbers"]),
    )


def snapshot_to_utf8(snap: Snapshot) -> bytes:
    """The format 1 document (what earlier releases stored; the daemon now writes format 2 and only
    reads this one, tests write it to prove the upgrade) as UTF-8: the same text as json.dumps of the
    whole, encoded one party at a time. One dump of the whole would hold every party as a dict plus
    millions of small chunks at once, and one str of it takes 4 bytes per character as soon as a
    single name holds an emoji (a 100k directory: hundreds of MB for a moment); UTF-8 bytes stay at
    about 1 byte per character."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    return b"".join(
        (
            b'{"format":',
            encode(_FORMAT).encode(),
            b',"parties":[',
            b",".join([encode(_party_to_json(p)).encode() for p in snap.parties]),
            b'],"clients":',
            encode([[cid, name] for cid, name in snap.clients.items()]).encode(),
            b',"archived_clients":',
            encode(sorted(snap.archived_clients)).encode(),
            b',"notes":',
            encode(list(snap.notes)).encode(),
            b"}",
        )
    )


_PREFIX = '{"format":1,"parties":['  # how snapshot_to_utf8 starts a document


def _loads(body: str) -> dict[str, Any]:
    """The stored document. Written by :func:`snapshot_to_utf8`, its parties are decoded one at a time:
    one ``json.loads`` of a 100k document is a single C call holding the GIL for about half a second,
    which a running daemon (adopting a directory synced from the command line) or one starting up (its
    doors opening) would wait out (docs/callerid.md, "Directory at scale"). Any other shape: one loads."""
    if not body.startswith(_PREFIX):
        return cast(dict[str, Any], json.loads(body))
    decode = json.JSONDecoder().raw_decode
    parties: list[Any] = []
    pos = len(_PREFIX)
    if body.startswith("]", pos):
        pos += 1
    else:
        while True:
            party, pos = decode(body, pos)
            parties.append(party)
            sep = body[pos : pos + 1]
            pos += 1
            if sep == "]":
                break
            if sep != ",":
                raise ValueError(f"stored directory: unexpected {sep!r} at {pos - 1}")
    rest = json.loads("{" + body[pos + 1 :]) if body.startswith(",", pos) else json.loads("{}")
    if not isinstance(rest, dict):
        raise ValueError("stored directory: not an object")
    return {"format": _FORMAT, "parties": parties, **rest}


def snapshot_from_json(body: str, fetched_at: datetime, source: str) -> Snapshot:
    data = _loads(body)
    if data.get("format") != _FORMAT:
        raise ValueError(f"stored directory format {data.get('format')!r} is not {_FORMAT}")
    return Snapshot(
        parties=PartyTable.of(_party_from_json(d) for d in data["parties"]),
        fetched_at=fetched_at,
        source=source,
        clients={int(c): str(n) for c, n in data.get("clients", [])},
        archived_clients=frozenset(int(c) for c in data.get("archived_clients", [])),
        notes=tuple(data.get("notes", [])),
    )


def _meta_json(snap: Snapshot) -> str:
    keys = snap.keys
    return json.dumps(
        {
            "format": _FORMAT_TABLE,
            "clients": [[cid, name] for cid, name in snap.clients.items()],
            "archived_clients": sorted(snap.archived_clients),
            "notes": list(snap.notes),
            "keys": None if keys is None else {"plan": keys.plan, "odd": keys.odd, "unkeyed": keys.unkeyed},
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def write_snapshot(conn: sqlite3.Connection, snap: Snapshot, plan_fingerprint: str) -> None:
    """Replace the stored snapshot (one statement: atomic)."""
    conn.execute(
        "INSERT INTO directory_snapshot(id, fetched_at, source, plan, body, parties, offsets, "
        "number_keys, number_rows) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET fetched_at=excluded.fetched_at, source=excluded.source, "
        "plan=excluded.plan, body=excluded.body, parties=excluded.parties, offsets=excluded.offsets, "
        "number_keys=excluded.number_keys, number_rows=excluded.number_rows",
        (
            snap.fetched_at.isoformat(),
            snap.source,
            plan_fingerprint,
            _meta_json(snap),
            snap.parties.data,
            snap.parties.offsets.tobytes(),  # native byte order: the state file stays on its host
            None if snap.keys is None else snap.keys.keys.tobytes(),
            None if snap.keys is None else snap.keys.rows.tobytes(),
        ),
    )


def _array(typecode: str, blob: bytes) -> array[int]:
    a = array(typecode)
    a.frombytes(blob)
    return a


def _table_snapshot(row: sqlite3.Row, fetched_at: datetime, source: str) -> Snapshot:
    d = json.loads(row["body"])
    if not isinstance(d, dict) or d.get("format") != _FORMAT_TABLE:
        raise ValueError("stored directory: not a format 2 record")
    k = d.get("keys")
    keys = None
    if k is not None and row["number_keys"] is not None:
        keys = NumberKeys(
            str(k["plan"]),
            _array("q", row["number_keys"]),
            _array("q", row["number_rows"]),
            {str(n): [int(e) for e in v] for n, v in k["odd"].items()},
            int(k["unkeyed"]),
        )
    return Snapshot(
        parties=PartyTable(bytes(row["parties"]), _array("Q", row["offsets"])),
        fetched_at=fetched_at,
        source=source,
        clients={int(c): str(n) for c, n in d.get("clients", [])},
        archived_clients=frozenset(int(c) for c in d.get("archived_clients", [])),
        notes=tuple(d.get("notes", [])),
        keys=keys,
    )


def read_snapshot(conn: sqlite3.Connection) -> tuple[Snapshot, str] | None:
    """The stored snapshot and the number-plan fingerprint it was keyed with, or None."""
    row = conn.execute(
        "SELECT fetched_at, source, plan, body, parties, offsets, number_keys, number_rows "
        "FROM directory_snapshot WHERE id = 1"
    ).fetchone()
    if row is None:
        return None
    when = datetime.fromisoformat(row["fetched_at"])
    if row["parties"] is not None:
        return _table_snapshot(row, when, row["source"]), row["plan"]
    snap = snapshot_from_json(row["body"], when, row["source"])
    return snap, row["plan"]


def save_snapshot(store: Store, snap: Snapshot, plan_fingerprint: str) -> None:
    """Synchronous save (CLI, tests); the daemon uses ``await store.run(lambda c: write_snapshot(...))``."""
    store.call(lambda conn: write_snapshot(conn, snap, plan_fingerprint))


def load_snapshot(store: Store) -> tuple[Snapshot, str] | None:
    return store.call(read_snapshot)
