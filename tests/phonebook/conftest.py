"""A phonebook wired as in the daemon: simulator -> Itflow -> DirectorySync -> PhonebookService."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_asyncio
import yaml

from itflow_sim import Simulator
from pbx_bridge.directory.service import DirectorySync
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.metrics import Metrics
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.phonebook.service import PhonebookService
from pbx_bridge.settings import Settings, parse_settings
from pbx_bridge.store import Store


@dataclass
class PhonebookEnv:
    sim: Simulator
    settings: Settings
    directory: DirectorySync
    service: PhonebookService
    metrics: Metrics
    out: Path
    config_path: Path


def write_config(
    path: Path,
    sim: Simulator,
    state: Path,
    out: Path,
    phonebook: dict[str, Any],
    http: dict[str, Any] | None = None,
) -> Path:
    data = {
        "itflow": {"url": sim.url, "api_key": sim.keys["all"], "timeout": 5},
        "state_dir": str(state),
        "phonebook": {"output_dir": str(out), **phonebook},
    }
    if http:
        data["http"] = http
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest_asyncio.fixture
async def phonebook_env(itflow_sim, tmp_path) -> AsyncIterator[Callable[..., Awaitable[PhonebookEnv]]]:
    cleanup: list[Any] = []

    async def make(
        profile: str = "v1-head", *, http: dict[str, Any] | None = None, **phonebook: Any
    ) -> PhonebookEnv:
        sim = await itflow_sim(profile)
        n = len(cleanup)
        state, out = tmp_path / f"state{n}", tmp_path / f"out{n}"
        config = write_config(tmp_path / f"config{n}.yaml", sim, state, out, phonebook, http)
        settings = parse_settings(config.read_text(), path=str(config))
        itflow = Itflow.from_settings(settings.itflow)
        store = Store.in_state_dir(settings.state_dir)
        cleanup.append((itflow, store))
        plan = NumberPlan(settings.numbers)
        metrics = Metrics()
        directory = DirectorySync(settings.directory, itflow, store, plan, metrics)
        directory.load()
        service = PhonebookService(
            settings.phonebook,
            directory,
            plan,
            http=settings.http,
            state_dir=settings.state_dir,
            metrics=metrics,
        )
        return PhonebookEnv(sim, settings, directory, service, metrics, out, config)

    try:
        yield make
    finally:
        for itflow, store in cleanup:
            await itflow.aclose()
            store.close()
