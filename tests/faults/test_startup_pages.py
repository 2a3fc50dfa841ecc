"""ITFlow's web server up but broken when the daemon starts: calls are queued, never dropped as
"no ticket API"; once ITFlow answers, every one is ticketed once. ``/readyz`` names the real cause."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from tests.support.fault_proxy import APACHE_404_PAGE


async def _queued(r, n: int):
    """Start the daemon, feed n calls, wait until the outbox shows them waiting."""
    d, calls = await r.start_with_calls(n)

    async def queued() -> bool:
        return f"{n} waiting" in str((await r.tickets_health(d)).get("detail", ""))

    await d.wait_until(queued, what=f"{n} calls waiting in the outbox")
    return d, calls


PAGES = {
    "http-503": (503, b"<html><body><h1>Service Unavailable</h1></body></html>", "HTTP 503"),
    "apache-404-page": (404, APACHE_404_PAGE, "HTTP 404 (HTML page)"),
    "html-200-page": (200, b"<!DOCTYPE html><html><body>Maintenance</body></html>", "HTML"),
    "broken-json-200": (200, b'{"success": "True", "data": [', "not JSON"),
}


@pytest.mark.parametrize("page", list(PAGES))
async def test_broken_itflow_at_start_10_calls_0_lost_0_duplicated(rig, page: str) -> None:
    r = await rig()
    status, body, cause = PAGES[page]
    r.proxy.page = (status, body)
    d, calls = await _queued(r, 10)
    health = await r.tickets_health(d)
    assert health["ok"] is False
    assert cause in health["detail"], health  # the real cause, as `check` would name it
    assert "no ticket API" not in d.log()
    parts = await r.parts(d)
    directory = parts["directory"]["detail"]
    assert "offers this key no directory listing" not in directory and cause in directory, directory
    assert cause in parts["itflow"]["detail"], parts["itflow"]

    r.proxy.page = None  # ITFlow recovers
    ids = [lid for lid, _ in calls]
    count = await r.wait_tickets(d, ids)
    await r.settled(d)
    count = r.count(ids)
    assert (count.ticketed, count.lost, count.duplicated) == (10, 0, 0), str(count)


async def test_rejected_key_at_start_queues_5_calls_and_readyz_names_the_key(rig) -> None:
    r = await rig(key="not-a-valid-key-0123456789abcdef")
    d, calls = await _queued(r, 5)
    parts = await r.parts(d)
    assert "rejected the API key" in parts["tickets"]["detail"], parts
    assert "rejected the API key" in parts["directory"]["detail"], parts
    assert "rejected the API key" in parts["itflow"]["detail"], parts
    assert "no ticket API" not in d.log()
    assert r.count([lid for lid, _ in calls]).ticketed == 0


async def test_itflow_without_ticket_api_is_said_so_and_5_calls_are_not_queued(rig) -> None:
    # The one case where "no ticket API" is right: ITFlow answered, and the endpoint does not exist.
    r = await rig("legacy-2022")
    d, calls = await r.start_with_calls(5)
    await d.wait_log("calls are not ticketed")

    async def said() -> bool:
        return "no ticket API" in str((await r.tickets_health(d)).get("detail", ""))

    await d.wait_until(said, what="/readyz saying this ITFlow has no ticket API")
    # Every call is decided once none is left in its grace period (each was on disk ~10 ms after its
    # Hangup, long before the first was decided): then the outbox, read in the file, has no row.
    db = r.state_dir / "pbx-bridge.sqlite3"
    await d.wait_until(lambda: _rows(db, "ended_calls") == 0, what="all 5 calls decided")
    assert _rows(db, "outbox") == 0
    assert "waiting" not in (await r.tickets_health(d))["detail"]
    assert r.count([lid for lid, _ in calls]).ticketed == 0


def _rows(db: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as c:
        return int(c.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
