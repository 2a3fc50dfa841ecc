"""DirectorySync as a daemon part: persisted snapshot, restart without ITFlow, last good kept, subscribers."""

from __future__ import annotations

import asyncio

import pytest

from pbx_bridge.directory.model import MatchKind
from pbx_bridge.directory.snapshot import Snapshot
from pbx_bridge.directory.sync import SyncError

from .conftest import PROFILES, EnvFactory

HANG_GUARD = 20.0


@pytest.mark.parametrize("profile", PROFILES)
async def test_restart_with_itflow_stopped_still_names_known_callers(
    caller_env: EnvFactory, tmp_path, profile: str
) -> None:
    first = await caller_env(profile, state=tmp_path / "state")
    c = first.sim.db.add_client("Restart Co")
    first.sim.db.add_contact(
        c, "Rita Restart", phone="4125553101", mobile="4125553102", email="r@restart.example", primary=True
    )
    await first.directory.start()
    async with asyncio.timeout(HANG_GUARD):
        await first.directory.settled()
    assert first.directory.index is not None and "+14125553101" in first.directory.index
    await first.directory.stop(asyncio.get_running_loop().time() + 5)
    await first.sim.stop()

    # A new process: same state file, ITFlow gone.
    second = await caller_env(profile, sim=first.sim, state=tmp_path / "state")
    async with asyncio.timeout(HANG_GUARD):
        await second.directory.start()
        await second.directory.loaded()
        known = await second.callerid.lookup("+1 (412) 555-3102")
        unknown = await second.callerid.lookup("4125553199")
    assert (known.match, known.display) == (MatchKind.CONTACT, "Restart Co - Rita Restart")
    assert unknown.match is MatchKind.NONE
    health = second.directory.health()
    assert health.ok and health.data["parties"] >= 1


async def test_state_file_failure_during_sync_counts_as_a_failed_sync(caller_env: EnvFactory) -> None:
    """Not only ITFlow can fail: a sync whose snapshot cannot be stored is reported like one that could
    not be pulled (health, metric, SyncError), and the last good directory keeps answering."""
    env = await caller_env("v1-head")
    c = env.sim.db.add_client("Disk Co")
    env.sim.db.add_contact(c, "Dana Disk", phone="4125553301", email="d@disk.example")
    good = await env.directory.sync()
    env.store.call(lambda conn: conn.execute("DROP TABLE directory_snapshot"))
    with pytest.raises(SyncError, match="OperationalError"):
        async with asyncio.timeout(HANG_GUARD):
            await env.directory.sync()
    assert env.directory.snapshot is good
    assert env.directory.index.lookup("+14125553301").display == "Disk Co - Dana Disk"
    assert "last sync failed" in env.directory.health().detail
    assert "pbx_bridge_directory_sync_failures_total 1.0" in env.metrics.render().decode()


async def test_failed_sync_keeps_last_good_and_reports(caller_env: EnvFactory) -> None:
    env = await caller_env("v1-head")
    c = env.sim.db.add_client("Keep Co")
    env.sim.db.add_contact(c, "Kim Keep", phone="4125553201", email="k@keep.example")
    good = await env.directory.sync()
    env.sim.down = True
    with pytest.raises(SyncError):
        async with asyncio.timeout(HANG_GUARD):
            await env.directory.sync()
    assert env.directory.snapshot is good
    assert env.directory.index.lookup("+14125553201").display == "Keep Co - Kim Keep"
    health = env.directory.health()
    assert health.ok and "last sync failed" in health.detail
    assert "pbx_bridge_directory_sync_failures_total 1.0" in env.metrics.render().decode()
    env.sim.down = False
    await env.directory.sync()
    assert "last sync failed" not in env.directory.health().detail


async def test_start_without_itflow_and_without_snapshot_is_not_ready(caller_env: EnvFactory) -> None:
    env = await caller_env("v1-head", "directory:\n  retry_interval: 0.2\n")
    env.sim.down = True
    async with asyncio.timeout(HANG_GUARD):
        await env.directory.start()
        await env.directory.settled()
    assert env.directory.index is None and not env.directory.health().ok
    r = await env.callerid.lookup("4125553301")
    assert r.match is MatchKind.NONE
    # ITFlow comes back: the retry loop syncs on its own.
    c = env.sim.db.add_client("Back Co")
    env.sim.db.add_contact(c, "Bo Back", phone="4125553301", email="b@back.example")
    got: asyncio.Queue[Snapshot] = asyncio.Queue()
    env.directory.subscribe(got.put)
    env.sim.down = False
    async with asyncio.timeout(HANG_GUARD):
        await got.get()
    assert (await env.callerid.lookup("4125553301")).display == "Back Co - Bo Back"


async def test_subscribers_get_each_snapshot_and_on_demand_sync(caller_env: EnvFactory) -> None:
    env = await caller_env("v1-head", "directory:\n  sync_interval: 3600\n")
    seen: list[Snapshot] = []
    got: asyncio.Queue[Snapshot] = asyncio.Queue()

    def plain(snap: Snapshot) -> None:
        seen.append(snap)

    def broken(snap: Snapshot) -> None:
        raise RuntimeError("a subscriber bug must not stop the others")

    env.directory.subscribe(broken)
    env.directory.subscribe(plain)
    unsubscribe = env.directory.subscribe(got.put)
    async with asyncio.timeout(HANG_GUARD):
        await env.directory.start()
        first = await got.get()
        c = env.sim.db.add_client("Demand Co")
        env.sim.db.add_contact(c, "Dee Demand", phone="4125553401", email="d@demand.example")
        env.directory.request_sync()
        second = await got.get()
    assert seen[:2] == [first, second]
    assert second.digest() != first.digest()
    assert env.directory.index.lookup("+14125553401").display == "Demand Co - Dee Demand"
    unsubscribe()
    await env.directory.sync()
    assert got.empty() and len(seen) == 3


async def test_changed_number_settings_rekey_the_stored_directory(caller_env: EnvFactory, tmp_path) -> None:
    first = await caller_env("v1-head", state=tmp_path / "s")
    c = first.sim.db.add_client("Rekey Co")
    first.sim.db.add_contact(c, "Local Lou", phone="5553501", email="l@rekey.example")
    await first.directory.sync()
    assert "+14125553501" not in first.directory.index  # a 7-digit number has no key by default
    second = await caller_env(
        "v1-head", "numbers:\n  local_area_code: '412'\n", sim=first.sim, state=tmp_path / "s"
    )
    assert second.directory.load()
    assert second.directory.index.lookup("+14125553501").display == "Rekey Co - Local Lou"


async def test_damaged_stored_directory_is_replaced_by_a_fresh_sync(caller_env: EnvFactory, tmp_path) -> None:
    env = await caller_env("v1-head", state=tmp_path / "d")
    c = env.sim.db.add_client("Damage Co")
    env.sim.db.add_contact(c, "Dan Damage", phone="4125553601", email="d@damage.example")
    await env.directory.sync()
    env.store.call(lambda conn: conn.execute("UPDATE directory_snapshot SET body = '{not json'"))
    again = await caller_env("v1-head", sim=env.sim, state=tmp_path / "d")
    assert not again.directory.load()
    async with asyncio.timeout(HANG_GUARD):
        await again.directory.start()
        await again.directory.settled()
    assert again.directory.index.lookup("+14125553601").display == "Damage Co - Dan Damage"


async def test_running_daemon_adopts_a_directory_synced_from_the_command_line(
    caller_env: EnvFactory, tmp_path
) -> None:
    daemon = await caller_env(
        "v1-head", "directory:\n  sync_interval: 3600\n", state=tmp_path / "shared", store_poll=0.1
    )
    got: asyncio.Queue[Snapshot] = asyncio.Queue()
    async with asyncio.timeout(HANG_GUARD):
        await daemon.directory.start()
        await daemon.directory.settled()
        daemon.directory.subscribe(got.put)
        c = daemon.sim.db.add_client("Cli Sync Co")
        daemon.sim.db.add_contact(c, "Cy Cli", phone="4125553701", email="c@clisync.example")
        # Another process (here: another DirectorySync on its own connection) syncs into the same file.
        cli = await caller_env("v1-head", sim=daemon.sim, state=tmp_path / "shared")
        await cli.directory.sync()
        adopted = await got.get()
    assert adopted.fetched_at == cli.directory.snapshot.fetched_at
    assert daemon.directory.syncs == 1  # adopted, not pulled again
    assert daemon.directory.index.lookup("+14125553701").display == "Cli Sync Co - Cy Cli"
