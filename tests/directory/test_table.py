"""The packed party table: every field back as stored, the keys collected on the way in, the stored copy
answering without a pass over the parties, and the old JSON document still read."""

from __future__ import annotations

import sqlite3

import pytest

from pbx_bridge.directory.index import DirectoryIndex
from pbx_bridge.directory.model import MatchKind, PartyKind
from pbx_bridge.directory.snapshot import MIGRATIONS, load_snapshot, save_snapshot, snapshot_to_utf8
from pbx_bridge.directory.table import PartyTable, TableBuilder, decode_party, e164_key, encode_party
from pbx_bridge.store import Store

from .helpers import PLAN, awkward_contact, num, party, snapshot

PARTIES = (
    awkward_contact(),
    party(PartyKind.LOCATION, 2, "HQ", num("4125550199"), client_id=1, client_name="ACME & Co"),
    party(PartyKind.VENDOR, 3, "=cmd|' /C calc'!A0", num("12")),
)


def test_every_field_reads_back() -> None:
    table = PartyTable.of(PARTIES)
    assert len(table) == 3 and table == PARTIES and list(table) == list(PARTIES)
    assert table[-1] == PARTIES[-1] and table[0:2] == PARTIES[0:2]
    assert decode_party(encode_party(PARTIES[0])) == PARTIES[0]
    assert table.count_by_kind() == {"contact": 1, "location": 1, "vendor": 1}
    with pytest.raises(IndexError):
        table[3]


def test_a_truncated_listing_adds_nobody() -> None:
    b = TableBuilder()
    b.extend(PARTIES[:1])
    b.extend(PARTIES[1:])
    b.truncate(1)
    keys = b.keys(PLAN.fingerprint())
    table = b.finish()
    assert table == PARTIES[:1]
    assert {"+" + str(k) for k in keys.keys} == {n.canonical for n in PARTIES[0].numbers}


def test_e164_keys_are_lossless_and_odd_keys_are_kept_apart() -> None:
    assert e164_key("+390612345678") == 390612345678
    assert e164_key("+0123") is None and e164_key("12345") is None


def test_stored_copy_answers_from_its_stored_keys(tmp_path) -> None:
    store = Store.in_state_dir(tmp_path)
    try:
        store.migrate("directory", MIGRATIONS)
        b = TableBuilder()
        b.extend(PARTIES)
        keys = b.keys(PLAN.fingerprint())
        snap = snapshot(*PARTIES, clients={1: "ACME & Co"})
        snap = type(snap)(b.finish(), snap.fetched_at, snap.source, snap.clients, keys=keys)
        save_snapshot(store, snap, PLAN.fingerprint())
        loaded, _ = load_snapshot(store)
        assert loaded == snap and loaded.keys is not None
        assert list(loaded.keys.keys) == list(keys.keys) and list(loaded.keys.rows) == list(keys.rows)
        index = DirectoryIndex.build(loaded, PLAN)
        assert index.keys is loaded.keys  # no pass over the parties
        hit = index.lookup(PARTIES[0].numbers[0].canonical)
        assert hit.match is MatchKind.CONTACT and hit.client_name == "ACME & Co"
        assert index.lookup("+14125550100").match is MatchKind.NONE
        assert len(index) == 3  # "12" is not a possible number: unkeyed
    finally:
        store.close()


def test_the_json_document_of_earlier_releases_is_still_read(tmp_path) -> None:
    store = Store.in_state_dir(tmp_path)
    try:
        store.migrate("directory", MIGRATIONS[:1])
        snap = snapshot(*PARTIES)

        def old_write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO directory_snapshot(id, fetched_at, source, plan, body) VALUES (1, ?, ?, ?, ?)",
                (
                    snap.fetched_at.isoformat(),
                    snap.source,
                    PLAN.fingerprint(),
                    snapshot_to_utf8(snap).decode(),
                ),
            )

        store.call(old_write)
        store.migrate("directory", MIGRATIONS)  # the upgrade adds the table's columns
        loaded, _ = load_snapshot(store)
        assert loaded == snap and loaded.keys is None
        assert DirectoryIndex.build(loaded, PLAN).lookup(PARTIES[1].numbers[0].canonical).party == PARTIES[1]
    finally:
        store.close()
