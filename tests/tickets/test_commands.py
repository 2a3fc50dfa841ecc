"""`pbx-bridge tickets list|retry|drop` on a real state file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pbx_bridge.cli import main
from pbx_bridge.store import Store
from pbx_bridge.tickets.outbox import Outbox


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"itflow:\n  url: http://127.0.0.1:9\n  api_key: k\nstate_dir: {tmp_path}\n")
    path.chmod(0o600)
    store = Store.in_state_dir(tmp_path)
    box = Outbox(store, clock=time.time)
    box.enqueue("1.1", "missed", {"subject": "Missed call from A", "details": "", "marker": "m1"})
    row = box.enqueue("1.2", "missed", {"subject": "Missed call from B", "details": "", "marker": "m2"})
    assert row is not None
    box.update(row.id, state="dead", last_error="refused")
    store.close()
    return path


def _run(cfg: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    rc = main(["-c", str(cfg), "tickets", *args])
    return rc, capsys.readouterr().out


def test_list_retry_drop(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _run(cfg, capsys, "list", "--json")
    data = json.loads(out)
    assert rc == 0 and data["counts"] == {"pending": 1, "dead": 1}
    assert [r["state"] for r in data["rows"]] == ["pending", "dead"]
    rc, out = _run(cfg, capsys, "list")
    assert "dead" in out and "refused" in out
    rc, out = _run(cfg, capsys, "retry", "--all-dead", "--json")
    assert rc == 0 and json.loads(out) == {"requeued": 1}
    rc, out = _run(cfg, capsys, "drop", "1")
    assert rc == 0 and "kept" in out
    rc, out = _run(cfg, capsys, "list", "--json", "--state", "dropped")
    assert [r["linkedid"] for r in json.loads(out)["rows"]] == ["1.1"]
    rc, out = _run(cfg, capsys, "drop", "99")
    assert rc == 1
