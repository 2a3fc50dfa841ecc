"""kill -9 at seeded random instants after a call's last Hangup (inside ``ami.grace``), and a full disk
(a small tmpfs in a private mount namespace under the state directory)."""

from __future__ import annotations

import asyncio
import errno
import os
import random
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support.daemon import PBX_BRIDGE, Daemon

from .harness import ANSWERED, call_blocks, count_replies

SEED = 1101


async def test_kill_9_within_grace_after_hangup_10_calls_0_lost_0_duplicated(rig) -> None:
    r = await rig(grace=3.0)
    rng = random.Random(SEED)
    calls = call_blocks(10)
    ids = [lid for lid, _ in calls]
    for round_no in range(5):  # 5 daemons killed, 2 calls each
        d = r.start()
        await r.ami.wait_login(round_no + 1)
        for _, blocks in calls[2 * round_no : 2 * round_no + 2]:
            await r.ami.play(blocks)
        # Killed 0.1-2.5 s after the last Hangup: always inside the 3 s grace, so nothing was decided.
        await asyncio.sleep(0.1 + rng.random() * 2.4)
        os.kill(d.pid, signal.SIGKILL)
        d.proc.wait(10)
    d = r.start()  # the last start decides and delivers them all
    count = await r.wait_tickets(d, ids)
    await r.settled(d)
    count = r.count(ids)
    assert (count.ticketed, count.lost, count.duplicated, count.invented) == (10, 0, 0, 0), str(count)


async def test_kill_9_at_random_instants_while_calls_run_20_calls_none_invented_none_duplicated(rig) -> None:
    # Calls in progress at a crash are lost, never invented; every call whose last Hangup was read at
    # least 0.1 s before a kill is ticketed exactly once.
    r = await rig(grace=1.0)
    rng = random.Random(SEED + 1)
    calls = call_blocks(20)
    safe: set[str] = set()
    fed = 0
    for kill_no in range(4):
        d = r.start()
        await r.ami.wait_login(kill_no + 1)
        loop = asyncio.get_running_loop()
        kill_at = loop.time() + 0.3 + rng.random() * 1.5
        ended_at: dict[str, float] = {}
        while fed < len(calls) and loop.time() < kill_at:
            lid, blocks = calls[fed]
            half = rng.randrange(1, len(blocks))  # sometimes the kill lands mid-call
            await r.ami.play(blocks[:half])
            await asyncio.sleep(rng.random() * 0.1)
            await r.ami.play(blocks[half:])
            ended_at[lid] = loop.time()
            fed += 1
            await asyncio.sleep(rng.random() * 0.2)
        await asyncio.sleep(max(0.0, kill_at - loop.time()))
        now = loop.time()
        safe |= {lid for lid, t in ended_at.items() if now - t >= 0.1}
        os.kill(d.pid, signal.SIGKILL)
        d.proc.wait(10)
    d = r.start()
    fed_ids = [lid for lid, _ in calls[:fed]]
    await r.wait_tickets(d, sorted(safe))
    await r.settled(d)
    count = r.count(fed_ids)
    assert safe and count.duplicated == 0 and count.invented == 0, str(count)
    assert safe <= set(count.per_call), f"{len(safe - set(count.per_call))} safe calls lost; {count}"


class _NsDaemon(Daemon):
    """``pbx-bridge run`` in a private mount namespace whose state directory is a small tmpfs."""

    def __init__(self, *a, state_dir: Path, size: str = "8m", **kw) -> None:
        super().__init__(*a, **kw)
        self.state_dir = state_dir
        self.size = size

    def start(self) -> _NsDaemon:
        self._log = self.log_path.open("ab")
        script = f'mount -t tmpfs -o size={self.size} tmpfs "$1" && shift && exec "$@"'
        self.proc = subprocess.Popen(
            [
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
                str(self.state_dir),
                str(PBX_BRIDGE),
                "--config",
                str(self.config),
                "run",
            ],
            stdout=self._log,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            env=self.env,
        )
        return self

    def inside(self) -> Path:
        """The state directory as the daemon sees it (its tmpfs), through /proc."""
        return Path(f"/proc/{self.pid}/root") / str(self.state_dir).lstrip("/")


def _fill(path: Path) -> int:
    """Write zeros until the filesystem is full (bounded: at most 64 MiB); the bytes written (0 when
    it was full already)."""
    written = 0
    try:
        f = path.open("wb", buffering=0)  # unbuffered: no ENOSPC left for close()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
        return 0
    with f:
        for _ in range(1024):
            try:
                f.write(b"\0" * 65536)
                os.fsync(f.fileno())
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
            written += 65536
    return written


@pytest.mark.skipif(
    (os.geteuid() != 0 or shutil.which("unshare") is None) and not os.environ.get("CI"),
    reason="a private mount namespace needs root and unshare (CI runs as root: no skip)",
)
async def test_full_disk_40_calls_0_lost_0_duplicated(rig, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    r = await rig(state_dir=state)
    d = r.start(_NsDaemon, state_dir=state)
    r.daemons[-1] = d
    await d.wait_http("/healthz")
    await r.ami.wait_login(1)
    inside = d.inside()
    await d.wait_until(lambda: (inside / "pbx-bridge.sqlite3").exists(), what="the state file on tmpfs")
    filler = inside / "filler"
    _fill(filler)
    assert os.statvfs(inside).f_bavail == 0 or not _fill(inside / "filler2")  # the disk is full
    calls = call_blocks(40)
    ids = [lid for lid, _ in calls]
    for _, blocks in calls:
        await r.ami.play(blocks)

    async def red() -> bool:
        intake = (await r.parts(d)).get("intake", {})
        return "database or disk is full" in str(intake.get("detail", "")) and "40 finished" in str(
            intake.get("detail", "")
        )

    await d.wait_until(red, what="readiness naming the full disk with 40 calls held")
    assert "cannot rollback" not in d.log()
    for f in (filler, inside / "filler2"):  # space returns
        f.unlink(missing_ok=True)
    await r.wait_tickets(d, ids)
    await r.settled(d)
    count = r.count(ids)
    assert (count.ticketed, count.lost, count.duplicated) == (40, 0, 0), str(count)
    intake = (await r.parts(d))["intake"]
    assert intake["ok"], intake


@pytest.mark.skipif(
    (os.geteuid() != 0 or shutil.which("unshare") is None) and not os.environ.get("CI"),
    reason="a private mount namespace needs root and unshare (CI runs as root: no skip)",
)
async def test_full_disk_10_answered_calls_journaled_0_lost_0_duplicated(rig, tmp_path: Path) -> None:
    # The journal's notes are outbox items behind the same intake buffer as tickets (docs/tickets.md):
    # answered calls on a full disk wait in memory and are noted once space returns, each exactly once.
    state = tmp_path / "state"
    state.mkdir()
    r = await rig(state_dir=state, journal={"enabled": True, "min_talk_seconds": 0})
    r.sim.db.insert(  # the answered trace's caller: a contact of client 1, whose ticket 1 is open
        "contacts", {"contact_name": "Trace Caller", "contact_phone": "5551230001", "contact_client_id": 1}
    )
    d = r.start(_NsDaemon, state_dir=state)
    r.daemons[-1] = d
    await d.wait_http("/healthz")
    await r.ami.wait_login(1)

    async def journal_ready() -> bool:
        return bool((await r.parts(d)).get("journal", {}).get("ok"))

    await d.wait_until(journal_ready, what="the journal ready (directory synced, open-ticket index)")
    inside = d.inside()
    filler = inside / "filler"
    _fill(filler)
    assert os.statvfs(inside).f_bavail == 0 or not _fill(inside / "filler2")  # the disk is full
    calls = call_blocks(10, ANSWERED)
    ids = [lid for lid, _ in calls]
    for _, blocks in calls:
        await r.ami.play(blocks)

    async def red() -> bool:
        detail = str((await r.parts(d)).get("intake", {}).get("detail", ""))
        return "database or disk is full" in detail and "10 finished" in detail

    await d.wait_until(red, what="readiness naming the full disk with 10 answered calls held")
    assert count_replies(r.sim, set(ids)).ticketed == 0  # nothing noted while the disk is full
    for f in (filler, inside / "filler2"):  # space returns
        f.unlink(missing_ok=True)
    await d.wait_until(
        lambda: count_replies(r.sim, set(ids)).ticketed == len(ids), what="10 journal notes", limit=90
    )
    await r.settled(d)
    count = count_replies(r.sim, set(ids))
    assert (count.ticketed, count.lost, count.duplicated) == (10, 0, 0), str(count)


class _FullAtStartDaemon(_NsDaemon):
    """``pbx-bridge run`` started on a full tmpfs that already holds the state file of an earlier run."""

    def __init__(self, *a, seed_dir: Path, **kw) -> None:
        super().__init__(*a, **kw)
        self.seed_dir = seed_dir

    def start(self) -> _FullAtStartDaemon:
        self._log = self.log_path.open("ab")
        # Bounded fill: at most 64 MiB of zeros into an 8 MiB tmpfs.
        script = (
            "mount -t tmpfs -o size=" + self.size + ' tmpfs "$1" && cp -a "$2"/. "$1"/ && '
            '{ dd if=/dev/zero of="$1/filler" bs=64k count=1024 2>/dev/null; true; } && '
            'shift 2 && exec "$@"'
        )
        self.proc = subprocess.Popen(
            [
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
                str(self.state_dir),
                str(self.seed_dir),
                str(PBX_BRIDGE),
                "--config",
                str(self.config),
                "run",
            ],
            stdout=self._log,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            env=self.env,
        )
        return self


@pytest.mark.skipif(
    (os.geteuid() != 0 or shutil.which("unshare") is None) and not os.environ.get("CI"),
    reason="a private mount namespace needs root and unshare (CI runs as root: no skip)",
)
async def test_restart_on_a_full_disk_5_waiting_kept_in_the_file_and_the_advice_is_free_space(
    rig, tmp_path: Path
) -> None:
    # 5 tickets wait in a healthy state file (ITFlow broken); the daemon restarts on a full disk: SQLite
    # cannot open the file, the daemon runs on memory, and must not advise moving the good file aside.
    r = await rig()
    calls = await r.stopped_with_waiting(5)
    seed = tmp_path / "seed"  # the tmpfs hides the directory it is mounted on
    shutil.copytree(r.state_dir, seed)
    d = r.start(_FullAtStartDaemon, state_dir=r.state_dir, seed_dir=seed)
    await d.wait_http("/healthz")
    state = (await r.parts(d))["state"]
    assert state["ok"] is False and "filesystem is full" in state["detail"], state
    assert "move the file aside or restore" not in state["detail"] + d.log()
    assert d.alive()
    # Space back, restarted on the real file: the 5 waiting tickets were kept and go out once each.
    d.signal(signal.SIGTERM)
    assert await d.wait_exit() == 0
    r.proxy.page = None
    d = r.start()
    ids = [lid for lid, _ in calls]
    await r.wait_tickets(d, ids)
    await r.settled(d)
    count = r.count(ids)
    assert (count.ticketed, count.lost, count.duplicated) == (5, 0, 0), str(count)
