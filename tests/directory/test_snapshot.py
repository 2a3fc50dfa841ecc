"""The snapshot in the state store: round trip, one row, schema version, digest."""

from __future__ import annotations

from pbx_bridge.directory.model import NumberLabel, PartyKind
from pbx_bridge.directory.snapshot import MIGRATIONS, load_snapshot, save_snapshot
from pbx_bridge.store import Store

from .helpers import PLAN, num, party, snapshot


def test_round_trip_keeps_every_field(tmp_path) -> None:
    store = Store.in_state_dir(tmp_path)
    try:
        store.migrate("directory", MIGRATIONS)
        assert load_snapshot(store) is None
        snap = snapshot(
            party(
                PartyKind.CONTACT,
                7,
                'Zoë "Z" O\'Brien 😀',
                num("4125550101"),
                num("2071234567", NumberLabel.MOBILE, cc="44"),
                client_id=1,
                client_name="ACME & Co",
                primary=True,
            ),
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
