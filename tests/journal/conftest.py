from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from .support import JournalRig, make_journal_rig


@pytest.fixture
async def journal_rig(itflow_sim: Any, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[JournalRig]]]:
    """``await journal_rig("v1-2610", journal={...})``: simulator, directory, outbox, worker, intake."""
    made: list[JournalRig] = []

    async def make(profile: str, **options: Any) -> JournalRig:
        tmp = tmp_path / f"rig{len(made)}"
        tmp.mkdir()
        rig = await make_journal_rig(await itflow_sim(profile), tmp, **options)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        await rig.close()
