"""CallerId against the simulator: index first, live ITFlow on a miss within the budget, caches, fallbacks.

Budgets are tested by behaviour (a simulator slower than the budget gives the no-match fallback while
the number does exist in ITFlow); time limits appear only as generous hang guards.
"""

from __future__ import annotations

import asyncio

import pytest

from pbx_bridge.directory.model import MatchKind
from tests.directory.conftest import EnvFactory

HANG_GUARD = 20.0


def cid_log_rows(db) -> int:
    """Rows legacy ``cid`` writes on every call (docs/itflow-api.md §1.5: one alert, one log row)."""
    return sum(1 for r in db.logs if (r.get("log_type") or "").lower() == "call")


@pytest.mark.parametrize("profile", ["v1-head", "v1-v25", "v1-2610"])
async def test_index_then_live_then_cache(caller_env: EnvFactory, profile: str) -> None:
    env = await caller_env(profile)
    c = env.sim.db.add_client("Live Co")
    env.sim.db.add_contact(c, "Synced Sam", phone="4125552101", email="s@live.example")
    await env.directory.sync()
    r = await env.callerid.lookup("+1 412 555 2101")
    assert (r.match, r.source, r.display) == (MatchKind.CONTACT, "index", "Live Co - Synced Sam")
    # Created after the sync, stored with the country code typed in: found live through a digit variant.
    env.sim.db.add_contact(c, "New Nina", mobile="14125552102", email="n@live.example")
    async with asyncio.timeout(HANG_GUARD):
        r = await env.callerid.lookup("4125552102", budget=HANG_GUARD)
    assert (r.match, r.source, r.display, r.client_id) == (MatchKind.CONTACT, "live", "Live Co - New Nina", c)
    r = await env.callerid.lookup("4125552102", live=False)
    assert (r.match, r.source) == (MatchKind.CONTACT, "cache")


@pytest.mark.parametrize("profile", ["v1-head", "v1-v25", "v1-2610"])
async def test_negative_answers_are_cached(caller_env: EnvFactory, profile: str) -> None:
    env = await caller_env(profile)
    c = env.sim.db.add_client("Late Co")
    await env.directory.sync()
    async with asyncio.timeout(HANG_GUARD):
        first = await env.callerid.lookup("4125552201", budget=HANG_GUARD)
    assert (first.match, first.source) == (MatchKind.NONE, "live")
    # Added now, but the negative answer is cached (negative_cache_ttl): ITFlow is not asked again.
    env.sim.db.add_contact(c, "Late Larry", phone="4125552201", email="l@late.example")
    again = await env.callerid.lookup("4125552201", budget=HANG_GUARD)
    assert (again.match, again.source) == (MatchKind.NONE, "cache")
    env.callerid.cache_clear()
    fresh = await env.callerid.lookup("4125552201", budget=HANG_GUARD)
    assert (fresh.match, fresh.display) == (MatchKind.CONTACT, "Late Co - Late Larry")


async def test_live_answer_for_a_client_newer_than_the_sync_names_the_person(caller_env: EnvFactory) -> None:
    env = await caller_env("v1-head")
    await env.directory.sync()
    c = env.sim.db.add_client("Brand New Co")  # unknown to the snapshot until the next sync
    env.sim.db.add_contact(c, "Nell New", phone="4125552202", email="n@new.example")
    r = await env.callerid.lookup("4125552202", budget=HANG_GUARD)
    assert (r.match, r.display, r.client_id) == (MatchKind.CONTACT, "Nell New", c)
    await env.directory.sync()
    r = await env.callerid.lookup("4125552202")
    assert (r.source, r.display) == ("index", "Brand New Co - Nell New")


@pytest.mark.parametrize("profile", ["v1-head", "v1-v25", "v1-2610"])
async def test_live_lookup_skips_archived_contacts(caller_env: EnvFactory, profile: str) -> None:
    env = await caller_env(profile)
    await env.directory.sync()
    c = env.sim.db.add_client("Arch Co")
    env.sim.db.add_contact(c, "Archived Ann", phone="4125552301", email="a@arch.example", archived=True)
    r = await env.callerid.lookup("4125552301", budget=HANG_GUARD)
    assert r.match is MatchKind.NONE


@pytest.mark.parametrize("profile", ["v1-head", "v1-v25", "legacy-2022"])
async def test_slow_itflow_past_budget_gives_no_match_then_caches_the_late_answer(
    caller_env: EnvFactory, profile: str
) -> None:
    env = await caller_env(profile, "callerid:\n  live_budget: 0.2\n")
    await env.directory.sync()
    c = env.sim.db.add_client("Slow Co")
    env.sim.db.add_contact(c, "Slow Sue", phone="4125552401", email="s@slow.example")
    env.sim.delay = 1.5
    async with asyncio.timeout(HANG_GUARD):
        r = await env.callerid.lookup("4125552401")
    # ITFlow has the number, but it answers after the budget: the call goes on unnamed.
    assert (r.match, r.display, r.source) == (MatchKind.NONE, "", "none")
    # The request kept running in the background; its answer serves the next call from that number.
    await env.callerid.drain(HANG_GUARD)
    env.sim.delay = 0
    r = await env.callerid.lookup("4125552401", live=False)
    assert r.found and r.source == "cache" and "Slow Sue" in r.display


@pytest.mark.parametrize("profile", ["v1-head", "legacy-2022"])
async def test_itflow_down_known_numbers_still_named_unknown_within_budget(
    caller_env: EnvFactory, profile: str
) -> None:
    env = await caller_env(profile)
    c = env.sim.db.add_client("Down Co")
    env.sim.db.add_contact(c, "Dora Down", phone="4125552501", email="d@down.example", primary=True)
    await env.directory.sync()
    env.sim.down = True
    async with asyncio.timeout(HANG_GUARD):
        known = await env.callerid.lookup("4125552501")
        unknown = await env.callerid.lookup("4125552599")
    assert (known.match, known.display) == (MatchKind.CONTACT, "Down Co - Dora Down")
    assert (unknown.match, unknown.display) == (MatchKind.NONE, "")


async def test_legacy_live_cid_names_a_non_primary_contact(caller_env: EnvFactory) -> None:
    env = await caller_env("legacy-2022")
    c = env.sim.db.add_client("Legacy Co")
    env.sim.db.add_contact(c, "Primary Pete", phone="4125552601", email="p@leg.example", primary=True)
    env.sim.db.add_contact(c, "Other O'Neil", phone="4125552602", email="o@leg.example")
    await env.directory.sync()
    assert env.directory.index.lookup("+14125552602").match is MatchKind.NONE  # not in legacy listings
    r = await env.callerid.lookup("4125552602", budget=HANG_GUARD)
    # An apostrophe makes legacy api.php answer HTTP 500 with the answer in the body (docs/itflow-api.md
    # §6.4).
    assert (r.match, r.display, r.source, r.client_id) == (MatchKind.LEGACY, "Other O'Neil", "live", 0)


async def test_legacy_cid_is_rate_limited_and_never_asked_for_internal_or_anonymous(
    caller_env: EnvFactory,
) -> None:
    env = await caller_env("legacy-2022", "callerid:\n  legacy_cid_per_minute: 1\n")
    await env.directory.sync()
    db = env.sim.db
    before = cid_log_rows(db)
    for raw in ("anonymous", "201", "", "Restricted", "5550101"):
        r = await env.callerid.lookup(raw, budget=HANG_GUARD)
        assert (r.match, r.number) == (MatchKind.NONE, ""), raw
    assert cid_log_rows(db) == before
    await env.callerid.lookup("4125552701", budget=HANG_GUARD)  # one token: one call (maybe two variants)
    after_first = cid_log_rows(db)
    assert after_first == before + 1
    r = await env.callerid.lookup("4125552702", budget=HANG_GUARD)  # no token left: not asked
    assert r.match is MatchKind.NONE and cid_log_rows(db) == after_first


async def test_live_lookup_can_be_switched_off(caller_env: EnvFactory) -> None:
    env = await caller_env("v1-head", "callerid:\n  live_lookup: false\n")
    await env.directory.sync()
    c = env.sim.db.add_client("Off Co")
    env.sim.db.add_contact(c, "Olive Off", phone="4125552801", email="o@off.example")
    r = await env.callerid.lookup("4125552801", budget=HANG_GUARD)
    assert r.match is MatchKind.NONE
    forced = await env.callerid.lookup("4125552801", live=True, budget=HANG_GUARD)
    assert (forced.match, forced.source) == (MatchKind.CONTACT, "live")


async def test_metrics_count_lookups(caller_env: EnvFactory) -> None:
    env = await caller_env("v1-head")
    c = env.sim.db.add_client("Metric Co")
    env.sim.db.add_contact(c, "Mia Metric", phone="4125552901", email="m@metric.example")
    await env.directory.sync()
    await env.callerid.lookup("4125552901")
    text = env.metrics.render().decode()
    assert 'pbx_bridge_lookups_total{match="contact"} 1.0' in text
    assert "pbx_bridge_directory_numbers" in text


@pytest.mark.parametrize("profile", ["v1-head", "v1-v25", "v1-2610"])
async def test_restricted_key_never_names_another_clients_contact_through_the_mobile_bug(
    caller_env: EnvFactory, profile: str
) -> None:
    """docs/itflow-api.md §2.5 Q1: contacts/read?contact_phone_or_mobile= skips the client scope on a
    mobile match."""
    env = await caller_env(profile, key="client")  # a key restricted to client 1
    await env.directory.sync()
    assert set(env.directory.snapshot.clients) == {1}
    other = env.sim.db.add_client("Other Tenant")
    env.sim.db.add_contact(other, "Secret Sam", mobile="4125552951", email="s@other.example")
    env.sim.db.add_contact(other, "Secret Sue", phone="4125552952", email="u@other.example")
    env.sim.db.add_contact(1, "Allowed Al", mobile="4125552953", email="al@acme.example")
    for number in ("4125552951", "4125552952"):
        r = await env.callerid.lookup(number, budget=HANG_GUARD)
        assert (r.match, r.display) == (MatchKind.NONE, ""), number
    allowed = await env.callerid.lookup("4125552953", budget=HANG_GUARD)
    assert (allowed.match, allowed.client_id) == (MatchKind.CONTACT, 1)


async def test_background_lookups_are_bounded_one_per_number(caller_env: EnvFactory) -> None:
    env = await caller_env("v1-head", "callerid:\n  live_budget: 0.05\n  max_inflight: 2\n")
    await env.directory.sync()
    env.sim.delay = 1.0
    async with asyncio.timeout(HANG_GUARD):
        same = await asyncio.gather(*(env.callerid.lookup("4125552961") for _ in range(5)))
        assert all(r.match is MatchKind.NONE for r in same)
        assert env.callerid.inflight == 1  # five calls from one number: one ITFlow request
        others = await asyncio.gather(*(env.callerid.lookup(f"41255529{n}") for n in (62, 63, 64)))
        assert all(r.match is MatchKind.NONE for r in others)
        assert env.callerid.inflight == 2  # capped by callerid.max_inflight
        await env.callerid.drain(HANG_GUARD)
    assert env.callerid.inflight == 0
