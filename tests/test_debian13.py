"""The non-lab suite on Debian 13 (trixie): Python 3.13, the Python of FreePBX 18, as one test.

``scripts/trixie-setup`` (run by ``scripts/test-setup``) builds or restores the chroot; this test runs
the suite of this checkout inside it: the checkout bind-mounted read-only at /src in a private mount
namespace, in a private network namespace with only loopback. It fails when that suite fails, so the
README's one pytest line decides for both Pythons.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("PBX_BRIDGE_TRIXIE_ROOT", "/var/lib/pbx-bridge-trixie/chroot"))
VENV = "/opt/pbx-bridge-test-venv"
MARKER = ".pbx-bridge-trixie"

pytestmark = pytest.mark.host


def _unavailable() -> str:
    if os.geteuid() != 0:
        return "needs root (mount namespace, chroot)"
    if not (ROOT / MARKER).is_file() or not (ROOT / VENV.lstrip("/") / "bin/pytest").exists():
        return f"no trixie chroot at {ROOT} (scripts/test-setup builds it with scripts/trixie-setup)"
    return ""


def root_mount_hint(stderr: str) -> str:
    """Why ``unshare --propagation private`` failed, when it did: "/" is not a mount point here."""
    if "propagation" not in stderr:
        return ""
    return (
        "\n(this runs in a bare chroot whose / is not a mount point: private mounts need one; run the "
        "tests on the host, in systemd-nspawn, or bind-mount the chroot onto itself before chroot)"
    )


def require_trixie() -> None:
    """Fail in CI (the chroot is part of the test set-up there), skip elsewhere, when it is missing."""
    reason = _unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"Debian 13 chroot unavailable in CI: {reason}")
        pytest.skip(reason)


@pytest.mark.timeout(1200)
def test_non_lab_suite_passes_on_debian13_python313() -> None:
    require_trixie()
    root = shlex.quote(str(ROOT))
    inner = (
        f"cd /src && exec {VENV}/bin/python -m pytest -q -p no:cacheprovider -o addopts= "
        "-m 'not lab and not host'"
    )
    env = [
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME=/root",
        "LANG=C.UTF-8",
        "PYTHONPATH=/src",
        "PYTHONDONTWRITEBYTECODE=1",
        *(["CI=" + os.environ["CI"]] if os.environ.get("CI") else []),
    ]
    # The real FreePBX 17 files (the tracker's trace tests read them), read-only at /freepbx17.
    freepbx = os.environ.get("PBX_BRIDGE_FREEPBX17", "")
    freepbx_mount: list[str] = []
    if freepbx and Path(freepbx).is_dir():
        env.append("PBX_BRIDGE_FREEPBX17=/freepbx17")
        freepbx_mount = [
            f"mkdir -p {root}/freepbx17",
            f"mount --bind {shlex.quote(str(Path(freepbx).resolve()))} {root}/freepbx17",
            f"mount -o remount,bind,ro {root}/freepbx17",
        ]
    # Everything below happens in the new namespaces: the mounts vanish with the process. The chroot is
    # bind-mounted onto itself first, so that inside it "/" is a mount point and the tests' own private
    # mount namespaces (the full-disk fault test) work there too.
    script = "\n".join(
        [
            "set -e",
            "ip link set lo up",
            f"mount --bind {root} {root}",
            f"mount --rbind /dev {root}/dev",
            f"mount -t proc proc {root}/proc",
            f"mount -t tmpfs -o mode=1777 tmpfs {root}/tmp",
            f"mkdir -p {root}/src",
            f"mount --bind {shlex.quote(str(REPO))} {root}/src",
            f"mount -o remount,bind,ro {root}/src",
            *freepbx_mount,
            f"exec chroot {root} env -i {' '.join(shlex.quote(e) for e in env)} sh -c {shlex.quote(inner)}",
        ]
    )
    proc = subprocess.run(
        ["unshare", "--mount", "--net", "--propagation", "private", "--fork", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=1150,
        stdin=subprocess.DEVNULL,
    )
    out = proc.stdout + proc.stderr + root_mount_hint(proc.stderr)
    summary = out.strip().splitlines()[-1] if out.strip() else ""
    assert proc.returncode == 0, f"non-lab suite on Debian 13 failed (exit {proc.returncode}):\n{out[-6000:]}"
    passed = re.search(r"(\d+) passed", summary)
    # The whole non-lab suite ran, not a handful of tests.
    assert passed and int(passed.group(1)) >= 500, out[-3000:]
    assert "failed" not in summary and "error" not in summary, summary


def test_the_trixie_chroot_has_python_313() -> None:
    require_trixie()
    version = subprocess.run(
        ["chroot", str(ROOT), f"{VENV}/bin/python", "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert version == "(3, 13)", version
