"""scripts/bootstrap (the quick start's installer): installs once, re-runs offline, never hides a
failed pip step. Offline means a private network namespace without even loopback routes to PyPI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# pip without any index or local wheel directory: what "no PyPI" looks like.
OFFLINE_PIP = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "", "PIP_CONFIG_FILE": os.devnull}

# host: acts on this checkout's own .venv, which does not work inside the Debian 13 chroot.
pytestmark = [
    pytest.mark.host,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a private network namespace"),
]


def _offline(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["unshare", "--net", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **OFFLINE_PIP, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def test_a_rerun_with_the_venv_in_place_needs_no_network() -> None:
    # The venv running these tests has this checkout at this version, with the test extras.
    for args in (["sh", "scripts/bootstrap", "--test"], ["sh", "scripts/bootstrap"]):
        r = _offline(*args)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "pip" not in r.stdout + r.stderr, r.stdout + r.stderr


def test_run_example_starts_offline() -> None:
    # "--help" after "run": run-example got as far as exec'ing the daemon, without PyPI.
    r = _offline("sh", "scripts/run-example", "--help")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "usage: pbx-bridge" in r.stdout and " run" in r.stdout, r.stdout


def test_a_failed_pip_step_is_said_not_silenced(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # A venv whose pip cannot run at all: the upgrade fails for sure.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    r = _offline("sh", "scripts/bootstrap", env={"PBX_BRIDGE_VENV": str(venv)})
    out = r.stdout + r.stderr
    assert "bootstrap: note: could not upgrade pip" in out, out
    # ... and the install after it fails, loudly too: pip's own error, a non-zero exit.
    assert r.returncode != 0 and "No module named pip" in out, out
