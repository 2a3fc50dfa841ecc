from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from .support import Rig, RigFactory, make_rig


@pytest.fixture
async def rigs() -> AsyncIterator[list[Rig]]:
    """Rigs a test built itself (several on one simulator, a fault proxy); closed after the test."""
    made: list[Rig] = []
    yield made
    for rig in made:
        await rig.itflow.aclose()
        rig.store.close()


@pytest.fixture
async def rig_for(itflow_sim: Any, tmp_path: Path, rigs: list[Rig]) -> RigFactory:
    """``await rig_for("v1-head", key="client")``: a simulator of that profile and an outbox + worker
    talking to it over loopback HTTP (``make_rig``'s options), closed after the test."""

    async def make(profile: str, **options: Any) -> Rig:
        rig = await make_rig(await itflow_sim(profile), tmp_path, **options)
        rigs.append(rig)
        return rig

    return make
