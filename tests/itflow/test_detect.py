"""Backend detection and check's permission probes against the simulator in all three profiles."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.itflow.detect import Capabilities, check_items, detect, probe_permissions
from pbx_bridge.itflow.errors import TransportError
from pbx_bridge.itflow.transport import RetryPolicy


def _keyed(sim, request) -> bool:
    key = sim.keys["all"]
    return key in request.path_qs or (request.body and key in request.body.decode("utf-8", "replace"))


async def test_legacy_2022(itflow_sim) -> None:
    sim = await itflow_sim("legacy-2022")
    caps = await detect(sim.url, sim.keys["all"])
    assert (caps.directory, caps.cid_live, caps.balance, caps.tickets) == ("legacy", "legacy", "legacy", None)
    assert caps.legacy_key_ok and caps.legacy_present and not caps.rbac and not caps.has_payments
    assert "legacy api.php" in caps.era and "2022" in caps.era
    assert not caps.endpoints["contacts/read"] and caps.endpoints["assets/read"]
    assert any("no auto-tickets" in n for n in caps.notes)


async def test_v1_v25(itflow_sim) -> None:
    sim = await itflow_sim("v1-v25")
    caps = await detect(sim.url, sim.keys["all"])
    assert (caps.directory, caps.cid_live, caps.balance, caps.tickets) == ("v1", "v1", "v1", "v1")
    assert caps.era == "V1c v26.3" and not caps.rbac and not caps.ticket_replies
    assert caps.has_payments and caps.key_all_clients is True and caps.client_id_honoured
    assert not caps.legacy_present


async def test_v1_v25_client_scoped_key_cannot_see_payments(itflow_sim) -> None:
    sim = await itflow_sim("v1-v25")
    caps = await detect(sim.url, sim.keys["client"])
    assert caps.balance == "v1" and not caps.has_payments and caps.key_all_clients is False
    assert any("client-scoped" in n for n in caps.notes)


async def test_v1_head(itflow_sim) -> None:
    sim = await itflow_sim("v1-head")
    caps = await detect(sim.url, sim.keys["all"])
    assert (caps.directory, caps.cid_live, caps.balance, caps.tickets) == ("v1", "v1", "v1", "v1")
    assert caps.rbac and caps.ticket_replies and not caps.has_payments and not caps.client_id_honoured
    assert caps.era.startswith("V1d") and "26.08" in caps.era
    assert any("approximation" in n for n in caps.notes)
    lines = caps.report()
    assert lines[0].startswith("era: V1d") and "balance: v1 (approximate: no payments)" in lines


async def test_v1_2610_told_from_v26_08_by_the_client_filter(itflow_sim) -> None:
    sim = await itflow_sim("v1-2610")
    caps = await detect(sim.url, sim.keys["all"])
    assert (caps.directory, caps.cid_live, caps.balance, caps.tickets) == ("v1", "v1", "v1", "v1")
    assert caps.v1e and caps.client_id_honoured and caps.rbac and caps.ticket_replies
    assert caps.era == "V1e v26.10+" and not any("disagree" in n for n in caps.notes)
    assert "client_id filter on v1 reads: honoured" in caps.report()
    # told by behaviour: the by-id read was made, and without the endpoint files it still says V1e
    assert any("client_id=" in r.path_qs and "clients/read" in r.path_qs for r in sim.requests)
    from dataclasses import replace

    from itflow_sim.profiles import HEAD_ENDPOINTS, PROFILES

    sim.profile = replace(PROFILES["v1-2610"], endpoints=HEAD_ENDPOINTS)  # 26.10 reads, v26.08 files
    caps = await detect(sim.url, sim.keys["all"])
    assert caps.v1e and caps.client_id_honoured and any("disagree" in n for n in caps.notes)


async def test_v1e_behaviour_wins_over_files_and_26_09_is_named(itflow_sim) -> None:
    from dataclasses import replace

    from itflow_sim.profiles import PROFILES, V26_10_ENDPOINTS, _eps

    sim = await itflow_sim("v1-2610")
    # a 26.09 install: tickets/close but not the 26.10 archive endpoints
    sim.profile = replace(
        PROFILES["v1-2610"], endpoints=V26_10_ENDPOINTS - _eps("vendors: create update archive unarchive")
    )
    assert (await detect(sim.url, sim.keys["all"])).era == "V1e v26.09"
    head = await itflow_sim("v1-head")
    head.profile = replace(PROFILES["v1-head"], endpoints=V26_10_ENDPOINTS)  # files say 26.10, reads ignore
    caps = await detect(head.url, head.keys["all"])
    assert not caps.v1e and caps.era == "V1d v26.08" and any("disagree" in n for n in caps.notes)


async def test_v1e_with_one_client_visible_goes_by_files(itflow_sim) -> None:
    seed = {"clients": [{"client_id": 1, "client_name": "Solo"}]}
    sim = await itflow_sim("v1-2610", seed=seed)
    caps = await detect(sim.url, sim.keys["all"])
    assert caps.v1e and caps.era == "V1e v26.10+" and any("fewer than two" in n for n in caps.notes)
    # the era comes from the files, but the filter was never seen working: nothing may narrow by it
    assert not caps.client_id_honoured
    assert "client_id filter on v1 reads: not checked, not relied on" in caps.report()


@pytest.mark.parametrize("profile", ["legacy-2022", "v1-v25", "v1-head", "v1-2610"])
async def test_keyless_probes_come_first_and_nothing_is_written(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    tickets, assets, alerts = len(sim.db.tickets), len(sim.db["assets"]), len(sim.db.alerts)
    # every row of every table but the request log, as it was (an archive or a status change is a write too)
    before = {t: [dict(r) for r in rows] for t, rows in sim.db.tables.items() if t != "logs"}
    await detect(sim.url, sim.keys["all"])
    seen = list(sim.requests)
    first_keyed = next(i for i, r in enumerate(seen) if _keyed(sim, r))
    assert first_keyed >= 12 and not any(_keyed(sim, r) for r in seen[:first_keyed])
    assert all(r.method == "GET" for r in seen)
    for r in seen:  # no legacy function with side effects (cid alerts, balance/phonebook log rows)
        assert not any(
            f"{fn}=" in r.path_qs
            for fn in ("cid", "phonebook", "account_balance", "add_asset", "incoming_call")
        )
    assert (len(sim.db.tickets), len(sim.db["assets"]), len(sim.db.alerts)) == (tickets, assets, alerts)
    assert {t: [dict(r) for r in rows] for t, rows in sim.db.tables.items() if t != "logs"} == before
    assert len(seen) <= 25  # "a few cheap requests"


async def test_forced_generation(itflow_sim) -> None:
    legacy = await itflow_sim("legacy-2022")
    caps = await detect(legacy.url, legacy.keys["all"], forced="v1")
    assert (caps.directory, caps.cid_live, caps.balance, caps.tickets) == (None, None, None, None)
    assert not any("api.php" in r.path_qs and _keyed(legacy, r) for r in legacy.requests)
    head = await itflow_sim("v1-head")
    caps = await detect(head.url, head.keys["all"], forced="legacy")
    assert (caps.directory, caps.cid_live, caps.balance, caps.tickets) == (None, None, None, None)
    assert not any(_keyed(head, r) for r in head.requests)


@pytest.mark.parametrize(
    ("profile", "key", "note"),
    [
        ("v1-head", "wrong-key-000000000000000000000000", "rejected the key"),
        ("v1-head", "unbound", "predates v26.08"),
        ("v1-head", "inactive", "disabled"),
        ("v1-v25", "expired", "rejected the key"),
        ("legacy-2022", "wrong-key-000000", "api.php rejected the key"),
    ],
)
async def test_a_bad_key_leaves_every_feature_unavailable(
    itflow_sim, profile: str, key: str, note: str
) -> None:
    sim = await itflow_sim(profile)
    secret = sim.keys.get(key, key)
    caps = await detect(sim.url, secret)
    assert (caps.directory, caps.cid_live, caps.balance) == (None, None, None)
    assert any(note in n for n in caps.notes), caps.notes
    assert secret not in json.dumps(caps.to_dict())


async def test_unreachable_raises(itflow_sim) -> None:
    sim = await itflow_sim("v1-head")
    sim.down = True
    with pytest.raises(TransportError):
        await detect(sim.url, sim.keys["all"], timeout=2.0)


async def test_leading_newline_era_is_reported(itflow_sim) -> None:
    sim = await itflow_sim("legacy-2022", quirks={"leading_newline": True})
    caps = await detect(sim.url, sim.keys["all"])
    assert "leading-newline" in caps.era and caps.directory == "legacy"


async def test_bundle_detects_once_and_refreshes_on_demand(itflow_sim) -> None:
    sim = await itflow_sim("v1-head")
    async with Itflow(sim.url, sim.keys["all"]) as itflow:
        assert itflow.cached_capabilities is None and itflow.v1 and itflow.legacy
        results = await asyncio.gather(*(itflow.capabilities() for _ in range(5)))
        after_first = len(sim.requests)
        assert all(r is results[0] for r in results)
        assert await itflow.capabilities() is results[0] and len(sim.requests) == after_first
        again = await itflow.capabilities(refresh=True)
        assert again is not results[0] and len(sim.requests) > after_first
        assert Capabilities.from_dict(json.loads(json.dumps(again.to_dict()))) == again


async def test_bundle_from_settings_builds_only_the_forced_client(itflow_sim) -> None:
    from pbx_bridge.settings import parse_settings

    sim = await itflow_sim("legacy-2022")
    settings = parse_settings(
        f"itflow: {{url: '{sim.url}', api_key: '{sim.keys['all']}', api: legacy}}\n", env={}
    )
    async with Itflow.from_settings(settings.itflow) as itflow:
        assert itflow.v1 is None and itflow.legacy is not None
        caps = await itflow.capabilities()
        assert caps.directory == "legacy"
        assert await itflow.legacy.cid("4125550101") == "Alice Anderson"


# ------------------------------------------------------------------ check: permissions without writing


async def _items(sim, key: str) -> dict[str, tuple[str, str]]:
    async with Itflow(sim.url, sim.keys[key]) as itflow:
        caps = await itflow.capabilities()
        items = await probe_permissions(itflow.v1, caps)
    return {i.feature: (i.status, i.detail) for i in items}


async def test_permissions_head_admin_restricted_and_readonly(itflow_sim) -> None:
    sim = await itflow_sim("v1-head")
    before = len(sim.db.tickets)
    admin = await _items(sim, "all")
    assert admin["tickets (known callers)"][0] == "ok"
    assert admin["tickets (unknown callers, client 0)"][0] == "ok"
    assert admin["ticket replies"][0] == "ok" and admin["directory"][0] == "ok"
    restricted = await _items(sim, "client")
    assert restricted["tickets (known callers)"][0] == "ok"
    status, detail = restricted["tickets (unknown callers, client 0)"]
    assert status == "warn" and "client-not-allowed" in detail
    readonly = await _items(sim, "readonly")
    status, detail = readonly["tickets (known callers)"]
    assert status == "warn" and "role-lacks-permission" in detail
    assert readonly["directory"][0] == "ok"
    assert len(sim.db.tickets) == before  # probing wrote nothing
    probes = [r for r in sim.requests if "/create.php" in r.path_qs]
    assert probes and all(r.method == "GET" for r in probes)


async def test_permissions_before_rbac_are_not_checkable(itflow_sim) -> None:
    sim = await itflow_sim("v1-v25")
    items = await _items(sim, "all")
    assert items["tickets"][0] == "info" and "not checkable" in items["tickets"][1]
    assert items["balance"][0] == "ok"


async def test_permissions_legacy(itflow_sim) -> None:
    sim = await itflow_sim("legacy-2022")
    items = await _items(sim, "all")
    assert items["directory"] == ("ok", "legacy api.php (the key is accepted)")
    assert items["tickets"][0] == "warn"
    assert all(status != "fail" for status, _ in items.values())


class _FlakyOnce(httpx.AsyncBaseTransport):
    """The network drops the first keyed v1 request (a passing failure during detection)."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.dropped = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        if b"api_key" in body and not self.dropped:
            self.dropped += 1
            raise httpx.ConnectError("connection refused (injected)", request=request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_an_incomplete_detection_is_repeated(itflow_sim) -> None:
    sim = await itflow_sim("v1-head")
    flaky = _FlakyOnce()
    async with Itflow(
        sim.url, sim.keys["all"], transport=flaky, redetect_after=0.0, retry=RetryPolicy(attempts=1)
    ) as itflow:  # no retry: the failure reaches detection
        first = await itflow.capabilities()
        assert flaky.dropped == 1 and not first.complete and first.directory is None
        second = await itflow.capabilities()
        assert second is not first and second.complete and second.directory == "v1"
        assert await itflow.capabilities() is second  # complete: cached from now on


@pytest.mark.parametrize("profile", ["legacy-2022", "v1-v25", "v1-head"])
async def test_check_items_have_no_failure_with_a_good_key(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    async with Itflow(sim.url, sim.keys["all"]) as itflow:
        items = await check_items(itflow)
    by = {(i.feature, i.status) for i in items}
    assert ("itflow", "ok") in by and ("api key", "ok") in by
    assert not [i for i in items if i.status == "fail"], items
    assert any(i.feature == "generation" and i.status == "info" for i in items)
    if profile == "legacy-2022":
        assert ("tickets", "warn") in by  # the era cannot open tickets: a warning, not a failure


async def test_check_items_fail_on_a_bad_key_or_no_server(itflow_sim) -> None:
    sim = await itflow_sim("v1-head")
    async with Itflow(sim.url, "wrong-key-000000000000000000000000") as itflow:
        items = await check_items(itflow)
    assert [(i.feature, i.status) for i in items] == [("itflow", "ok"), ("api key", "fail")]
    sim.down = True
    async with Itflow(sim.url, sim.keys["all"], timeout=2.0) as itflow:
        items = await check_items(itflow)
    assert [(i.feature, i.status) for i in items] == [("itflow", "fail")]
    assert sim.keys["all"] not in items[0].detail


@pytest.mark.parametrize("profile", ["legacy-2022", "v1-v25", "v1-head"])
async def test_detection_logs_no_key(itflow_sim, profile: str, caplog) -> None:
    import logging

    sim = await itflow_sim(profile)
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore"):  # caplog restores these levels at teardown
        caplog.set_level(logging.DEBUG, logger=name)
    async with Itflow(sim.url, sim.keys["all"]) as itflow:
        caps = await itflow.capabilities()
        await probe_permissions(itflow.v1, caps)
    assert "ITFlow detected" in caplog.text
    assert sim.keys["all"] not in caplog.text
