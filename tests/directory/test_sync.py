"""Directory sync against the ITFlow simulator (real HTTP) in all three profiles."""

from __future__ import annotations

import pytest

from pbx_bridge.directory.model import MatchKind, PartyKind

from .conftest import PROFILES, EnvFactory


def seed_company(db, tag: str) -> int:
    """A client with a primary contact (phone + mobile), another contact, a location, a global vendor,
    an archived contact; numbers 412-555-11xx (tests use their own numbers)."""
    client = db.add_client(f"Sync Test {tag}")
    db.add_contact(
        client, "Pat Primary", phone="4125551101", mobile="4125551102", email="pat@example.com", primary=True
    )
    db.add_contact(client, "Nora Other", phone="4125551103", email="nora@example.com")
    db.add_contact(client, "Archie Archived", phone="4125551105", email="archie@example.com", archived=True)
    db.add_location(client, "Branch Office", phone="4125551106")
    db.add_vendor("Bell & Whistle Test", phone="4125551104")
    return client


@pytest.mark.parametrize("profile", PROFILES)
async def test_sync_names_primary_contact_office_and_mobile_and_vendor(
    caller_env: EnvFactory, profile: str
) -> None:
    env = await caller_env(profile)
    seed_company(env.sim.db, profile)
    snap = await env.directory.sync()
    idx = env.directory.index
    assert idx is not None and snap.source == ("legacy" if profile.startswith("legacy") else "v1")
    for raw in ("4125551101", "+1 (412) 555-1101", "14125551101", "0114125551101", "4125551102"):
        r = idx.lookup(env.plan.canonical(raw))
        assert (r.match, r.display) == (MatchKind.CONTACT, f"Sync Test {profile} - Pat Primary"), raw
    vendor = idx.lookup("+14125551104")
    assert (vendor.match, vendor.display) == (MatchKind.VENDOR, "Bell & Whistle Test")
    assert idx.lookup("+14125551105").match is MatchKind.NONE  # archived


@pytest.mark.parametrize("profile", ["v1-head", "v1-v25", "v1-2610"])
async def test_v1_sync_has_every_contact_and_location_with_ids(caller_env: EnvFactory, profile: str) -> None:
    env = await caller_env(profile)
    client = seed_company(env.sim.db, profile)
    await env.directory.sync()
    idx = env.directory.index
    nora = idx.lookup("+14125551103")
    assert (nora.match, nora.display, nora.client_id) == (
        MatchKind.CONTACT,
        f"Sync Test {profile} - Nora Other",
        client,
    )
    assert nora.contact_id > 0 and nora.party is not None and nora.party.kind is PartyKind.CONTACT
    loc = idx.lookup("+14125551106")
    assert (loc.match, loc.display, loc.contact_id) == (
        MatchKind.LOCATION,
        f"Sync Test {profile} - Branch Office",
        0,
    )


@pytest.mark.parametrize("profile", ["v1-head", "v1-v25", "v1-2610"])
async def test_v1_archived_client_and_records_excluded(caller_env: EnvFactory, profile: str) -> None:
    env = await caller_env(profile)
    db = env.sim.db
    gone = db.add_client("Gone Corp", archived=True)
    db.add_contact(gone, "Gone Person", phone="4125551201", email="g@example.com", primary=True)
    db.add_location(gone, "Gone HQ", phone="4125551202")
    live = db.add_client("Alive Corp")
    db.add_location(live, "Closed Branch", phone="4125551203", archived=True)
    db.add_vendor("Old Vendor", phone="4125551204", archived=True)
    await env.directory.sync()
    idx = env.directory.index
    for n in ("+14125551201", "+14125551202", "+14125551203", "+14125551204"):
        assert idx.lookup(n).match is MatchKind.NONE, n
    assert gone not in env.directory.snapshot.clients and live in env.directory.snapshot.clients


@pytest.mark.parametrize("profile", ["v1-head", "v1-v25", "v1-2610"])
async def test_v1_country_code_column_in_every_form(caller_env: EnvFactory, profile: str) -> None:
    env = await caller_env(profile)
    db = env.sim.db
    c = db.add_client("Codes Inc")
    db.add_contact(c, "Blank Code", phone="4125551301", phone_country_code="", email="a@x.example")
    db.add_contact(c, "Null Code", phone="4125551302", phone_country_code=None, email="b@x.example")
    db.add_contact(c, "One Code", phone="4125551303", phone_country_code="1", email="c@x.example")
    db.add_contact(c, "Typed Code", phone="14125551304", phone_country_code="", email="d@x.example")
    db.add_contact(c, "Typed And Column", mobile="14125551305", mobile_country_code="1", email="e@x.example")
    db.add_contact(c, "London", phone="2071234567", phone_country_code="44", email="f@x.example")
    await env.directory.sync()
    idx = env.directory.index
    expect = {
        "+14125551301": "Blank Code",
        "+14125551302": "Null Code",
        "+14125551303": "One Code",
        "+14125551304": "Typed Code",
        "+14125551305": "Typed And Column",
        "+442071234567": "London",
    }
    for number, name in expect.items():
        assert idx.lookup(number).display == f"Codes Inc - {name}", number


@pytest.mark.parametrize("profile", ["v1-head", "v1-v25", "v1-2610"])
async def test_a_second_sync_follows_changed_numbers_while_reusing_unchanged_keys(
    caller_env: EnvFactory, profile: str
) -> None:
    env = await caller_env(profile, "directory:\n  page_size: 2\n")
    db = env.sim.db
    c = db.add_client("Resync Ltd")
    db.add_contact(c, "Stays", phone="4125551501", email="s@r.example")
    moves = db.add_contact(c, "Moves", phone="4125551502", email="m@r.example")
    db.add_contact(c, "Short", phone="123", email="x@r.example")
    db.add_contact(c, "Coded", phone="2071234567", phone_country_code="44", email="c@r.example")
    await env.directory.sync()
    assert env.directory.index.lookup("+14125551502").display == "Resync Ltd - Moves"
    row = next(r for r in db["contacts"] if r["contact_id"] == str(moves))
    row["contact_phone"] = "4125551503"
    db.add_contact(c, "Also Short", phone="123", mobile="4125551504", email="y@r.example")
    db.add_contact(c, "Also Coded", mobile="2071234567", mobile_country_code="1", email="d@r.example")
    await env.directory.sync()
    idx = env.directory.index
    assert idx.lookup("+14125551501").display == "Resync Ltd - Stays"
    assert idx.lookup("+14125551502").match is MatchKind.NONE
    assert idx.lookup("+14125551503").display == "Resync Ltd - Moves"
    assert idx.lookup("+14125551504").display == "Resync Ltd - Also Short"
    assert idx.lookup("+442071234567").display == "Resync Ltd - Coded"
    assert idx.lookup("+12071234567").display == "Resync Ltd - Also Coded"  # same digits, code 1
    short = [n for p in env.directory.snapshot.parties for n in p.numbers if n.raw == "123"]
    assert len(short) == 2 and all(n.canonical == "" for n in short)


@pytest.mark.parametrize("profile", ["v1-head", "v1-v25", "v1-2610"])
async def test_v1_paging_reads_every_page(caller_env: EnvFactory, profile: str) -> None:
    env = await caller_env(profile, "directory:\n  page_size: 3\n")
    db = env.sim.db
    c = db.add_client("Many Contacts")
    for i in range(11):
        db.add_contact(c, f"Person {i:02d}", phone=f"41255514{i:02d}", email=f"p{i}@many.example")
    await env.directory.sync()
    idx = env.directory.index
    assert [idx.lookup(f"+141255514{i:02d}").display for i in range(11)] == [
        f"Many Contacts - Person {i:02d}" for i in range(11)
    ]


@pytest.mark.parametrize("profile", ["v1-head", "v1-v25", "v1-2610"])
async def test_number_of_two_clients_is_ambiguous(caller_env: EnvFactory, profile: str) -> None:
    env = await caller_env(profile, "directory:\n  ambiguous_label: Shared line\n")
    db = env.sim.db
    a, b = db.add_client("Left LLC"), db.add_client("Right LLC")
    db.add_contact(a, "Lefty", phone="4125551501", email="l@x.example", primary=True)
    db.add_contact(b, "Righty", phone="4125551501", email="r@x.example", primary=True)
    await env.directory.sync()
    r = env.directory.index.lookup("+14125551501")
    assert (r.match, r.display, r.client_id, r.client_name) == (MatchKind.AMBIGUOUS, "Shared line", 0, "")
    assert env.directory.index.stats().ambiguous >= 1


async def test_legacy_sync_uses_phonebook_and_primary_contact_mobiles(caller_env: EnvFactory) -> None:
    env = await caller_env("legacy-2022")
    seed_company(env.sim.db, "L")
    snap = await env.directory.sync()
    kinds = {(p.kind, p.name) for p in snap.parties}
    assert (PartyKind.CONTACT, "Pat Primary") in kinds and (PartyKind.VENDOR, "Bell & Whistle Test") in kinds
    # The mobile comes only from primary_contact_numbers (the phonebook prints the office number only).
    assert env.directory.index.lookup("+14125551102").display == "Sync Test L - Pat Primary"
    assert any("legacy" in n for n in snap.notes)


@pytest.mark.parametrize("profile", ["v1-head", "legacy-2022"])
async def test_hostile_names_arrive_exact_minus_control_characters(
    caller_env: EnvFactory, profile: str
) -> None:
    env = await caller_env(profile, "directory:\n  max_name_length: 100\n  max_name_bytes: 0\n")
    db = env.sim.db
    c = db.add_client('Quote "&" Co')
    db.add_contact(
        c, 'Zoë "Z" O\'Brien $\\{x}\r\n😀\x1b', phone="4125551601", email="z@q.example", primary=True
    )
    await env.directory.sync()
    r = env.directory.index.lookup("+14125551601")
    assert r.display == 'Quote "&" Co - Zoë "Z" O\'Brien $\\{x} 😀'  # the line break reads as a space


async def test_legacy_2021_install_without_primary_contact_numbers_still_names_vendors(
    caller_env: EnvFactory, itflow_sim
) -> None:
    """api.php of 2021-08 -> 2022-02: no primary_contact_* functions, phonebook of clients (phones empty
    then), contacts (always empty) and vendors, groups 0/1/2 (docs/itflow-api.md §1.6, 1.7)."""
    sim = await itflow_sim(
        "legacy-2022",
        quirks={
            "legacy_era": "2021-broken",
            "phonebook_era": "2019",
            "legacy_auth": "K3",
            "mysqli_exceptions": False,
        },
    )
    env = await caller_env("legacy-2022", sim=sim)
    sim.db.add_vendor("Old Era Vendor", phone="4125551701")
    snap = await env.directory.sync()
    r = env.directory.index.lookup("+14125551701")
    assert (r.match, r.display) == (MatchKind.VENDOR, "Old Era Vendor")
    assert any("primary_contact_numbers" in n for n in snap.notes)
    assert all(p.name for p in snap.parties)  # the era's empty contact entries are skipped
