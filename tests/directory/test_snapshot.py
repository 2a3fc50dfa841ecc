"""The snapshot in the state store: round trip, one row, schema version, digest."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pbx_bridge.directory.model import NumberLabel, Party, PartyKind, PartyNumber
from pbx_bridge.directory.snapshot import (
    MIGRATIONS,
    Snapshot,
    load_snapshot,
    save_snapshot,
    snapshot_from_json,
    snapshot_to_utf8,
)
from pbx_bridge.store import Store

from .helpers import PLAN, awkward_contact, num, party, snapshot


def test_round_trip_keeps_every_field(tmp_path) -> None:
    store = Store.in_state_dir(tmp_path)
    try:
        store.migrate("directory", MIGRATIONS)
        assert load_snapshot(store) is None
        snap = snapshot(
            awkward_contact(),
            party(PartyKind.VENDOR, 3, "Bell & Whistle", num("12")),
            clients={1: "ACME & Co", 2: "No Phone Ltd"},
        )
        save_snapshot(store, snap, PLAN.fingerprint())
        save_snapshot(store, snap, PLAN.fingerprint())  # replaces, never appends
        loaded, fingerprint = load_snapshot(store)
        assert loaded == snap and fingerprint == PLAN.fingerprint()
        assert loaded.digest() == snap.digest()
        assert store.call(lambda c: c.execute("SELECT COUNT(*) FROM directory_snapshot").fetchone()[0]) == 1
        assert store.migrate("directory", MIGRATIONS) == len(MIGRATIONS)
    finally:
        store.close()


def test_digest_ignores_time_but_not_content() -> None:
    a = snapshot(party(PartyKind.CONTACT, 1, "A", num("4125550101")))
    b = snapshot(party(PartyKind.CONTACT, 1, "A", num("4125550101")))
    c = snapshot(party(PartyKind.CONTACT, 1, "A.", num("4125550101")))
    assert a.digest() == b.digest() != c.digest()


def test_stored_document_reads_back_party_by_party_and_in_any_json_layout() -> None:
    """The reader decodes our own documents one party at a time (no half-second GIL hold at 100k);
    a document laid out otherwise (spaces, another key order) still reads the same."""
    when = datetime(2026, 12, 3, tzinfo=UTC)
    parties = tuple(
        Party(
            PartyKind.CONTACT,
            i,
            f'Zoë \U0001f600 {i}, "quoted" ]',
            client_id=7,
            client_name="ACME",
            numbers=(PartyNumber(NumberLabel.MOBILE, f"412555{i:04d}", f"+1412555{i:04d}"),),
        )
        for i in range(3)
    )
    snap = Snapshot(parties, when, "v1", clients={7: "ACME"}, archived_clients=frozenset({9}), notes=("n",))
    ours = snapshot_to_utf8(snap).decode()
    for body in (ours, json.dumps(json.loads(ours), indent=1)):
        back = snapshot_from_json(body, when, "v1")
        assert back == snap
    empty = Snapshot((), when, "v1")
    assert snapshot_from_json(snapshot_to_utf8(empty).decode(), when, "v1") == empty
