from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .support import Rig


@pytest.fixture
async def rigs() -> AsyncIterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for rig in made:
        await rig.itflow.aclose()
        rig.store.close()
