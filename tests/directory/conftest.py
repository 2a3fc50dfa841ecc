"""Directory tests run against the ITFlow simulator over real HTTP on loopback, with a real SQLite store."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pbx_bridge.callerid.service import CallerId
from pbx_bridge.directory.service import DirectorySync
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.metrics import Metrics
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.settings import Settings, parse_settings
from pbx_bridge.store import Store

PROFILES = ["v1-head", "v1-2610", "v1-v25", "legacy-2022"]


def settings_text(url: str, key: str, state_dir: Path, extra: str = "") -> str:
    return f"itflow:\n  url: {url}\n  api_key: {key}\n  timeout: 5\nstate_dir: {state_dir}\n{extra}"


def make_settings(url: str, key: str, state_dir: Path, extra: str = "") -> Settings:
    return parse_settings(settings_text(url, key, state_dir, extra), env={})


@dataclass
class Env:
    """One simulator plus everything the caller-ID path needs, wired as the daemon wires it."""

    sim: Any
    settings: Settings
    store: Store
    itflow: Itflow
    plan: NumberPlan
    directory: DirectorySync
    callerid: CallerId
    metrics: Metrics

    @property
    def legacy(self) -> bool:
        return self.sim.profile.startswith("legacy") if hasattr(self.sim, "profile") else False


EnvFactory = Callable[..., Awaitable[Env]]


@pytest.fixture
async def caller_env(itflow_sim: Any, tmp_path: Path) -> AsyncIterator[EnvFactory]:
    """``env = await caller_env("v1-head", extra_yaml="callerid: {...}")``: sim, store, sync, lookup."""
    made: list[Env] = []

    async def make(
        profile: str,
        extra: str = "",
        *,
        sim: Any = None,
        state: Path | None = None,
        key: str = "all",
        store_poll: float = 30.0,
    ) -> Env:
        sim = sim or await itflow_sim(profile)
        settings = make_settings(sim.url, sim.keys[key], state or tmp_path / f"state{len(made)}", extra)
        store = Store.in_state_dir(settings.state_dir)
        itflow = Itflow.from_settings(settings.itflow)
        plan = NumberPlan(settings.numbers)
        metrics = Metrics()
        directory = DirectorySync(settings.directory, itflow, store, plan, metrics, store_poll=store_poll)
        callerid = CallerId(directory, itflow, plan, settings.callerid, settings.directory, metrics)
        env = Env(sim, settings, store, itflow, plan, directory, callerid, metrics)
        made.append(env)
        return env

    yield make
    for env in reversed(made):
        with contextlib.suppress(Exception):
            await env.directory.stop(0)
        await env.callerid.aclose()
        await env.itflow.aclose()
        env.store.close()
