"""/readyz of the real daemon says whether the journal can work on this ITFlow (the 'journal' part)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.support.daemon import Daemon, closed_port, write_config


@pytest_asyncio.fixture
async def started(tmp_path: Path) -> AsyncIterator[list[Daemon]]:
    daemons: list[Daemon] = []
    yield daemons
    for d in daemons:
        d.kill()


@pytest.mark.parametrize(
    ("profile", "ok", "words"),
    [
        ("legacy-2022", False, "journal unavailable"),
        ("v1-v25", False, "before v26.08"),
        ("v1-2610", True, "journaling answered calls"),
    ],
)
async def test_readyz_names_the_journal(
    itflow_sim: Any, tmp_path: Path, started: list[Daemon], profile: str, ok: bool, words: str
) -> None:
    sim = await itflow_sim(profile)
    cfg = write_config(
        tmp_path / "c.yaml",
        itflow_url=sim.url,
        api_key=sim.keys["all"],
        state_dir=tmp_path / "state",
        extra={
            "ami": {"port": closed_port(), "username": "u", "secret": "s3cret"},
            "journal": {"enabled": True},
        },
    )
    d = Daemon(cfg, log_path=tmp_path / "daemon.log").start()
    started.append(d)
    await d.wait_http("/healthz", 200)

    async def settled() -> bool:
        r = await d.get("/readyz")
        part = r.json().get("parts", {}).get("journal", {})
        return words in part.get("detail", "")

    await d.wait_until(settled, what=f"/readyz journal saying {words!r}")
    part = (await d.get("/readyz")).json()["parts"]["journal"]
    assert part["ok"] is ok, part
