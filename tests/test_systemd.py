"""The systemd unit: ``systemd-analyze verify``, the offline security score, and the notify protocol.

What this checks without systemd as PID 1 (CI runs in a container):
- ``systemd-analyze verify`` on a copy of ``systemd/pbx-bridge.service`` whose ExecStart points at the
  real ``.venv/bin/pbx-bridge``: the unit parses, every directive is known and its value valid (verify
  only *warns* about those, so any output fails the test), ExecStart is an executable file.
- ``systemd-analyze security --offline=true``: the exposure score computed from the unit file alone.
- The daemon speaks the notify protocol the unit relies on (``Type=notify``, ``WatchdogSec=``):
  READY=1 once serving, WATCHDOG=1 pings at half ``WATCHDOG_USEC``, STOPPING=1 on SIGTERM, over a real
  AF_UNIX datagram socket.

What it does not check (only a real host with systemd proves it): that systemd starts the unit, creates
the user's StateDirectory and hands over the LoadCredential= file, that the sandbox (ProtectSystem=,
SystemCallFilter=, RestrictAddressFamilies=, ...) lets the daemon do its work, that the watchdog restarts
a hung daemon, and that the service user can read the voicemail spool. The install doc lists the
commands for that (docs/install.md, "Verify on the host").
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.daemon import PBX_BRIDGE, Daemon, write_config

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "pbx-bridge.service"
INSTALLED_EXEC = "/opt/pbx-bridge/venv/bin/pbx-bridge"


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("systemd-analyze")
    assert exe, "systemd-analyze missing: scripts/bootstrap --test installs the 'systemd' package"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, check=False)


def _unit_copy(tmp_path: Path, *, replace: dict[str, str] | None = None) -> Path:
    text = UNIT.read_text()
    assert INSTALLED_EXEC in text, "ExecStart moved: update this test and docs/install.md"
    text = text.replace(INSTALLED_EXEC, str(PBX_BRIDGE))
    for old, new in (replace or {}).items():
        assert old in text
        text = text.replace(old, new)
    out = tmp_path / "pbx-bridge.service"
    out.write_text(text)
    return out


def _directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_unit_verifies_cleanly(tmp_path: Path) -> None:
    unit = _unit_copy(tmp_path)
    r = _analyze("verify", str(unit))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("NoNewPrivileges=yes", "NoNewPrivilegs=yes", "Unknown key"),
        # systemd 252 (Debian 12) says "service type", 257 (Debian 13) names the setting.
        ("Type=notify", "Type=notifyy", "Failed to parse (service type|Type=notifyy)"),
        (str(PBX_BRIDGE), "/nonexistent/pbx-bridge", "is not executable"),
    ],
)
def test_verify_would_catch_a_broken_unit(tmp_path: Path, old: str, new: str, complaint: str) -> None:
    # The check above is only worth something if verify speaks up on mistakes like these.
    unit = _unit_copy(tmp_path, replace={old: new})
    r = _analyze("verify", str(unit))
    assert re.search(complaint, r.stdout + r.stderr), r.stdout + r.stderr


def test_security_exposure_at_most_2(tmp_path: Path) -> None:
    unit = _unit_copy(tmp_path)
    r = _analyze("security", "--offline=true", str(unit))
    assert r.returncode == 0, r.stderr
    m = re.search(r"Overall exposure level for pbx-bridge\.service: (\d+(?:\.\d+)?)", r.stdout)
    assert m, r.stdout[-2000:]
    score = float(m.group(1))
    print(f"systemd-analyze security --offline=true: exposure {score}")
    assert score <= 2.0


def test_unit_carries_the_service_contract() -> None:
    d = _directives(UNIT.read_text())
    assert d["Type"] == ["notify"]
    assert d["WatchdogSec"] and d["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert d["User"] == ["pbx-bridge"] and d["SupplementaryGroups"] == ["asterisk"]
    assert d["LoadCredential"] == ["itflow-api-key:/etc/pbx-bridge/itflow-api-key"]
    assert d["ProtectSystem"] == ["strict"] and d["NoNewPrivileges"] == ["yes"]
    assert d["CapabilityBoundingSet"] == [""]
    assert "/var/lib/pbx-bridge" in d["ReadWritePaths"][0]
    assert d["ExecStart"] == [f"{INSTALLED_EXEC} --config /etc/pbx-bridge/config.yaml run"]


def test_unit_open_file_limit_fits_the_fastagi_cap() -> None:
    # The daemon lowers fastagi.max_connections to what the limit allows (it cannot raise the limit
    # itself: SystemCallFilter=~@resources); the unit's limit must leave the default cap whole.
    from pbx_bridge.agi import server
    from pbx_bridge.config import FastAgiSettings

    limit = int(_directives(UNIT.read_text())["LimitNOFILE"][0])
    assert server.connections_that_fit(limit) >= 4 * FastAgiSettings().max_connections


async def test_daemon_speaks_the_notify_protocol(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.setblocking(False)
    cfg = write_config(
        tmp_path / "c.yaml", itflow_url=sim.url, api_key=sim.keys["all"], state_dir=tmp_path / "state"
    )
    # WATCHDOG_USEC=2 s: the daemon pings every second.
    d = Daemon(
        cfg, log_path=tmp_path / "d.log", env={"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "2000000"}
    ).start()
    got: list[str] = []
    try:

        async def received(text: str, count: int = 1) -> bool:
            while True:
                try:
                    got.append(sock.recv(4096).decode())
                except BlockingIOError:
                    break
            return sum(text in m for m in got) >= count

        await d.wait_until(lambda: received("READY=1"), what="READY=1")
        # READY=1 once the doors are open; the status says "ready" once every part is (the directory's
        # first sync runs in the background: docs/callerid.md, "Directory at scale").
        await d.wait_until(lambda: received("STATUS=ready"), what="STATUS=ready")
        await d.wait_until(lambda: received("WATCHDOG=1", 2), what="two watchdog pings")
        d.signal(signal.SIGTERM)
        assert await d.wait_exit() == 0
        await received("STOPPING=1")
        assert any(m == "STOPPING=1" for m in got), got
    finally:
        d.kill()
        sock.close()
