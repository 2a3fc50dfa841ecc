"""Asterisk lab fixtures (see tests/support/LAB.md).

- ``lab_plain`` / ``lab_freepbx``: a running lab Asterisk with the plain dialplan / the real FreePBX 17
  generated dialplan (installed from ``$PBX_BRIDGE_FREEPBX17``, its AstDB restored before each test).
- ``lab``: parametrized over both dialplans (test ids ``[plain]`` / ``[freepbx17]``).

One Asterisk per session at a time: asking for the other dialplan stops the running one (by PID) and
starts the other; a test that killed Asterisk gets a fresh one in the next test. Lab tests within a
module are ordered by dialplan so that switches are rare.

No chroot / no root / no sipp / no ``PBX_BRIDGE_FREEPBX17`` folder (freepbx17 tests): the test is skipped
with the reason, or FAILS when ``CI`` is set.
The chroot is built by ``lab/setup``, never by a test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.lab import DIALPLANS, Dialplan, Lab, LabController, LabError, unavailable_reason
from tests.support.lab import freepbx17 as lab_freepbx17

LAB_FIXTURES = ("lab", "lab_plain", "lab_freepbx")


def lab_missing(reason: str) -> None:
    """Skip outside CI, fail in CI (a missing lab must never pass silently there)."""
    if os.environ.get("CI"):
        pytest.fail(f"Asterisk lab unavailable in CI: {reason}", pytrace=False)
    pytest.skip(f"Asterisk lab unavailable: {reason}")


@pytest.fixture(scope="session")
def lab_controller() -> Iterator[LabController]:
    reason = unavailable_reason()
    if reason:
        lab_missing(reason)
    ctl = LabController()
    try:
        ctl.acquire()
    except LabError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield ctl
    finally:
        ctl.reap_sipp()
        ctl.stop()
        ctl.release()


@pytest.fixture(scope="session")
def lab_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where sipp logs and generated scenarios of every call go (kept for failure analysis)."""
    return tmp_path_factory.mktemp("lab-calls")


def _running(ctl: LabController, dialplan: Dialplan, workdir: Path) -> Lab:
    if dialplan == "freepbx17" and (reason := lab_freepbx17.unavailable_reason(ctl.root)):
        lab_missing(reason)
    try:
        ctl.ensure(dialplan)
        ctl.restore_astdb()  # FreePBX's cidlookup (cache on) and the tests write AstDB keys
    except LabError as exc:
        pytest.fail(f"lab Asterisk ({dialplan}) did not start: {exc}", pytrace=False)
    return Lab(ctl, dialplan, workdir)


@pytest.fixture
def lab_plain(lab_controller: LabController, lab_workdir: Path) -> Iterator[Lab]:
    lab = _running(lab_controller, "plain", lab_workdir)
    yield lab
    lab.reap()  # sipp left running by a failed test would hold the phones' ports


@pytest.fixture
def lab_freepbx(lab_controller: LabController, lab_workdir: Path) -> Iterator[Lab]:
    lab = _running(lab_controller, "freepbx17", lab_workdir)
    yield lab
    lab.reap()


@pytest.fixture(params=DIALPLANS)
def lab(request: pytest.FixtureRequest, lab_controller: LabController, lab_workdir: Path) -> Iterator[Lab]:
    lab = _running(lab_controller, request.param, lab_workdir)
    yield lab
    lab.reap()


def _item_dialplan(item: pytest.Item) -> str | None:
    names = getattr(item, "fixturenames", ())
    if "lab_plain" in names:
        return "plain"
    if "lab_freepbx" in names:
        return "freepbx17"
    if "lab" in names:
        callspec = getattr(item, "callspec", None)
        return callspec.params.get("lab") if callspec else None
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark lab tests (``-m lab`` / ``-m 'not lab'``) and, within each module, run the plain-dialplan
    tests before the FreePBX ones so Asterisk restarts once per module instead of once per test."""
    for item in items:
        dialplan = _item_dialplan(item)
        if dialplan is not None:
            item.add_marker(pytest.mark.lab)
            if dialplan == "freepbx17":
                item.add_marker(pytest.mark.freepbx)
    order = {"plain": 0, "freepbx17": 1}
    by_module: dict[object, list[int]] = {}
    for i, item in enumerate(items):
        by_module.setdefault(item.module, []).append(i)  # type: ignore[attr-defined]
    for positions in by_module.values():
        group = [items[i] for i in positions]
        group.sort(key=lambda it: order.get(_item_dialplan(it) or "", -1))
        for i, item in zip(positions, group, strict=True):
            items[i] = item
