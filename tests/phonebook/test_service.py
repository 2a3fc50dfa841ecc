"""The phonebook service against the ITFlow simulator over real HTTP: pull, publish, last good, guard,
scheduler."""

from __future__ import annotations

import asyncio
import re

import pytest
from lxml import etree

from pbx_bridge.numbers import NumberPlan
from tests.phonebook.helpers import eventually
from tests.support.sim_fixtures import legacy_request

STRICT = etree.XMLParser(recover=False)


def yealink_entries(env) -> list[tuple[str, list[str]]]:
    root = etree.fromstring((env.out / "yealink-phonebook.xml").read_bytes(), STRICT)
    return [
        (e.findtext("Name"), [t.text for t in e.findall("Telephone")]) for e in root.findall("DirectoryEntry")
    ]


async def test_v1_directory_published_in_every_format(phonebook_env):
    env = await phonebook_env("v1-head")
    result = await env.service.sync()
    assert result is not None and result.status == "published"
    entries = dict(yealink_entries(env))
    assert entries["Alice Anderson (ACME Corp)"] == ["+14125550101", "+14125550199"]
    assert entries["Bell & Whistle"] == ["+18005550123"]
    assert "ACME Corp - ACME HQ" in entries
    assert len(result.records) == 16
    assert env.metrics.registry.get_sample_value("pbx_bridge_phonebook_entries") == result.entries


async def test_malformed_legacy_phonebook_loses_no_entry(phonebook_env):
    env = await phonebook_env("legacy-2022")
    raw = (await legacy_request(env.sim, {"api_key": env.sim.keys["all"], "phonebook": ""})).text
    # the legacy body is not XML (unescaped '&', declaration glued to the root): read it loosely here
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(raw.encode(), STRICT)
    pairs = re.findall(r"<LastName>(.*?)</LastName>\s*<Phone>\s*<phonenumber>(\d*)</phonenumber>", raw)
    expected = [(name, number) for name, number in pairs if number]
    assert ("Bell & Whistle", "8005550123") in expected and len(expected) >= 5

    result = await env.service.sync()
    assert result is not None and result.status == "published"
    published = yealink_entries(env)
    plan = NumberPlan()
    for name, number in expected:
        e164 = plan.canonical(number)
        assert any(name in shown and e164 in numbers for shown, numbers in published), (name, number)
    # the primary contacts' mobiles come from primary_contact_numbers
    alice = next(numbers for shown, numbers in published if shown.startswith("Alice Anderson"))
    assert alice == ["+14125550101", "+14125550199"]
    # every XML format of this book is well-formed
    for path in env.out.glob("*.xml"):
        if path.name.startswith(("yealink-local", "gigaset-phonebook")):
            continue  # multi-root by the vendor's definition: checked in test_formats
        etree.fromstring(path.read_bytes(), STRICT)


async def test_itflow_down_keeps_the_last_book(phonebook_env):
    env = await phonebook_env("v1-head")
    await env.service.sync()
    before = {p.name: p.read_bytes() for p in env.out.iterdir()}
    env.sim.down = True
    result = await env.service.sync()
    assert result is None
    assert "pull failed" in env.service.last_error
    assert {p.name: p.read_bytes() for p in env.out.iterdir()} == before
    assert env.service.publisher.output("yealink") is not None
    health = env.service.health()
    assert health.ok and "pull failed" in health.detail


async def test_itflow_down_at_start_publishes_the_stored_directory(phonebook_env):
    env = await phonebook_env("v1-head")
    await env.directory.sync()  # a directory stored by an earlier run
    env.service.publisher.outputs.clear()
    env.sim.down = True
    result = await env.service.sync()
    assert result is not None and result.status == "published"
    assert "Bell & Whistle" in dict(yealink_entries(env))


async def test_shrink_guard_trips_when_itflow_loses_80_percent(phonebook_env):
    env = await phonebook_env("v1-head")
    for i in range(40):
        env.sim.db.add_contact(1, f"Extra {i:02d}", phone=f"41255520{i:02d}")
    first = await env.service.sync()
    assert first.status == "published" and first.entries >= 45
    keep = 0.2 * first.entries
    contacts = env.sim.db.tables["contacts"]
    env.sim.db.tables["contacts"] = contacts[: max(0, int(keep) - 4)]
    for table in ("locations", "vendors"):
        env.sim.db.tables[table] = []
    guarded = await env.service.sync()
    assert guarded.status == "guarded" and guarded.entries <= keep
    assert env.metrics.registry.get_sample_value("pbx_bridge_phonebook_shrink_guard_total") == 1
    assert len(yealink_entries(env)) == first.entries
    forced = await env.service.sync(force=True)
    assert forced.status == "published"
    assert len(yealink_entries(env)) == forced.entries


async def test_scheduler_runs_at_start_follows_snapshots_and_manual_trigger(phonebook_env):
    env = await phonebook_env("v1-head", interval=3600)
    await env.service.start()
    try:
        await eventually(lambda: env.service.runs >= 1)  # run at start
        assert env.service.last_result.status == "published"
        # a directory sync elsewhere (the directory's own schedule) republishes
        env.sim.db.add_contact(1, "New Person", phone="4125557777")
        await env.directory.sync()
        await eventually(lambda: "New Person (ACME Corp)" in dict(yealink_entries(env)))
        assert "New Person (ACME Corp)" in dict(yealink_entries(env))
        # a manual trigger pulls
        env.sim.db.add_contact(1, "Manual Person", phone="4125557778")
        runs = env.service.runs
        env.service.trigger()
        await eventually(
            lambda: env.service.runs > runs and "Manual Person (ACME Corp)" in dict(yealink_entries(env))
        )
        assert "Manual Person (ACME Corp)" in dict(yealink_entries(env))
    finally:
        await env.service.stop(asyncio.get_running_loop().time() + 5)
    assert env.service._task is None


async def test_start_publishes_the_directory_snapshot_without_a_second_pull(phonebook_env):
    # In the daemon the directory has just synced when the phonebook starts: no second pull.
    env = await phonebook_env("v1-head")
    await env.directory.sync()
    pulls = env.directory.syncs
    await env.service.start()
    try:
        await eventually(lambda: env.service.runs >= 1)
        assert env.service.last_result.status == "published"
        assert env.directory.syncs == pulls
        assert "Bell & Whistle" in dict(yealink_entries(env))
    finally:
        await env.service.stop(asyncio.get_running_loop().time() + 5)


async def test_a_failed_write_is_reported_and_keeps_previous_files(phonebook_env):
    env = await phonebook_env("v1-head", formats=["yealink", "csv"])
    await env.service.sync()
    before = (env.out / "phonebook.csv").read_bytes()
    env.sim.db.add_contact(1, "Blocked Writer", phone="4125556666")
    # a directory where the Yealink file goes: the rename fails (even for root)
    (env.out / "yealink-phonebook.xml").unlink()
    (env.out / "yealink-phonebook.xml").mkdir()
    assert await env.service.sync() is None
    assert "cannot write the phonebook files" in env.service.last_error
    assert (env.out / "phonebook.csv").read_bytes() == before
    assert not [p for p in env.out.iterdir() if p.name.endswith(".tmp")]
    (env.out / "yealink-phonebook.xml").rmdir()
    result = await env.service.sync()
    assert result is not None and result.status == "published"
    assert b"Blocked Writer" in (env.out / "phonebook.csv").read_bytes()
