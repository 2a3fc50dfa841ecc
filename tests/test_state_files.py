"""A trial run as root, then the service user: ``check`` and ``/readyz`` tell the truth about every state
file, not just the directory (real subprocesses, real users, the simulator over loopback HTTP)."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pbx_bridge.state_files import STATE_FILES
from tests.support.daemon import PBX_BRIDGE, Daemon, write_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create files of another user")

USER = "nobody"


def _as_user() -> tuple[str, ...]:
    return ("setpriv", f"--reuid={USER}", f"--regid={pwd.getpwnam(USER).pw_gid}", "--clear-groups", "--")


def _reachable() -> bool:
    """Can the other user run this checkout's program (not when it lives under /root, 0700)?"""
    return (
        subprocess.run(
            [*_as_user(), str(PBX_BRIDGE), "--version"], capture_output=True, timeout=60
        ).returncode
        == 0
    )


@pytest.fixture
def base() -> Iterator[Path]:
    # Not pytest's tmp_path: that is 0700 root, and the other user must reach the config.
    path = Path(tempfile.mkdtemp(prefix="pbxb-state-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


async def _check(cfg: Path) -> tuple[int, str]:
    # Async: the simulator answering it runs in this test's event loop.
    proc = await asyncio.create_subprocess_exec(
        *_as_user(),
        str(PBX_BRIDGE),
        "check",
        "--config",
        str(cfg),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def _chown(path: Path, *, recursive: bool) -> None:
    pw = pwd.getpwnam(USER)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    if recursive:
        for child in path.iterdir():
            os.chown(child, pw.pw_uid, pw.pw_gid)


async def test_root_trial_files_are_reported_until_they_are_taken_over(itflow_sim, base: Path) -> None:
    if not _reachable():
        # tests/test_install.py checks the same as the installed service user, wherever the checkout is.
        pytest.skip(f"user {USER} cannot run {PBX_BRIDGE} (a checkout under a private directory)")
    sim = await itflow_sim("v1-head")
    state = base / "state"
    cfg = write_config(base / "c.yaml", itflow_url=sim.url, api_key=sim.keys["all"], state_dir=state)
    # 1. A trial as root: leaves root-owned state files (the database 0644, the phonebook state 0600).
    trial = Daemon(cfg, log_path=base / "trial.log")
    try:
        trial.start()
        await trial.wait_http("/readyz", 200)
        await trial.wait_until(lambda: (state / "phonebook-state.json").exists(), what="phonebook state")
    finally:
        trial.kill()
    assert {p.name for p in state.iterdir()} & set(STATE_FILES) >= {
        "pbx-bridge.sqlite3",
        "phonebook-state.json",
    }
    # 2. What an installer that only takes over the directory leaves: the service user owns state/ only.
    _chown(cfg, recursive=False)
    _chown(state, recursive=False)
    rc, out = await _check(cfg)
    assert rc == 1, out
    fails = [line for line in out.splitlines() if line.startswith("fail")]
    assert all("state file" in f for f in fails), out
    assert any(
        "state file" in f and "pbx-bridge.sqlite3: not writable" in f and "owner root" in f for f in fails
    ), out
    assert any("phonebook-state.json: not writable" in f for f in fails), out
    daemon = Daemon(cfg, log_path=base / "service.log", prefix=_as_user())
    try:
        daemon.start()
        await daemon.wait_http("/readyz", 503)
        body = (await daemon.get("/readyz")).text
        assert "state" in body and "pbx-bridge.sqlite3" in body, body
    finally:
        daemon.kill()
    # 3. Taken over (what scripts/install now does): check and /readyz agree it is fine.
    _chown(state, recursive=True)
    rc, out = await _check(cfg)
    assert rc == 0, out
    assert not [line for line in out.splitlines() if "state file" in line], out
    daemon = Daemon(cfg, log_path=base / "service2.log", prefix=_as_user())
    try:
        daemon.start()
        await daemon.wait_http("/readyz", 200)
    finally:
        daemon.kill()
