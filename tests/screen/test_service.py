"""The calls page in the real daemon (``pbx-bridge run``): a SIGTERM with a page's event stream open
still drains at once and exits 0 (the page's part stops before the listener)."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import httpx

from tests.screen.rig import PASSWORDS, screen_daemon


async def test_sigterm_with_an_open_event_stream_drains(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    async with screen_daemon(tmp_path, None, sim) as rig:
        d = rig.daemon
        async with httpx.AsyncClient(base_url=d.base, timeout=10) as http:
            form = (await http.get("/calls/login")).text
            token = re.search(r'name="csrf" value="([^"]+)"', form)
            assert token
            signed = await http.post(
                "/calls/login",
                data={"csrf": token.group(1), "username": "dana", "password": PASSWORDS["dana"]},
            )
            assert signed.status_code == 303
            async with http.stream("GET", "/calls/events") as stream:
                lines = stream.aiter_lines()
                assert (await anext(lines)).startswith('data: {"type":"snapshot"')
                d.signal(signal.SIGTERM)
                assert await d.wait_exit(limit=30) == 0
        assert "did not drain before the deadline" not in d.log()
