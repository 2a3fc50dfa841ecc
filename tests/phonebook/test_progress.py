"""The terminal progress bar of ``phonebook sync`` and the service's Component shape."""

from __future__ import annotations

import io

from pbx_bridge.cli.phonebook import TerminalProgress
from pbx_bridge.component import Component
from pbx_bridge.phonebook.publisher import Publisher
from pbx_bridge.phonebook.settings import PhonebookSettings
from tests.phonebook.helpers import PLAN, many_parties


def test_progress_bar_draws_each_stage_and_ends_the_line():
    stream = io.StringIO()
    bar = TerminalProgress(stream)
    Publisher(PhonebookSettings(formats=["yealink", "csv", "vcard"])).publish(
        many_parties(10), PLAN, progress=bar
    )
    text = stream.getvalue()
    assert "building entries..." in text
    assert "[" + "#" * 10 + "." * 20 + "] 1/3 csv" in text
    assert text.endswith("] 3/3 \n")
    assert not bar.active


async def test_service_is_a_component(phonebook_env):
    env = await phonebook_env("v1-head")
    assert isinstance(env.service, Component)
    health = env.service.health()
    assert not health.ok and "no phonebook" in health.detail
    await env.service.sync()
    health = env.service.health()
    assert health.ok and health.data["entries"] == env.service.publisher.entries
