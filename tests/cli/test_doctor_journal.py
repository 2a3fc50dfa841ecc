"""``check`` on the journal: availability per ITFlow era, every technician's key and user id, and a
voicemail spool_root that points at the wrong directory."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pbx_bridge.itflow.v1 import V1Client
from tests.support.daemon import PBX_BRIDGE, closed_port, write_config


async def _check(config: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(PBX_BRIDGE),
        "check",
        "--config",
        str(config),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return out.decode()


def _lines(out: str, name: str) -> list[str]:
    return [x for x in out.splitlines() if x[6:].startswith(name)]


def _config(tmp_path: Path, sim: Any, **extra: Any) -> Path:
    return write_config(
        tmp_path / "c.yaml",
        itflow_url=sim.url,
        api_key=sim.keys["all"],
        state_dir=tmp_path / "state",
        extra={
            "ami": {"port": closed_port(), "username": "u", "secret": "s3cret"},
            "journal": {"enabled": True},
            **extra,
        },
    )


@pytest.mark.parametrize(
    ("profile", "level", "words"),
    [
        ("v1-2610", "ok", "open tickets by client_id"),
        ("v1-head", "ok", "open-ticket index"),
        ("v1-v25", "warn", "before v26.08"),
        ("legacy-2022", "warn", "journal unavailable"),
    ],
)
async def test_journal_availability_per_era(
    itflow_sim: Any, tmp_path: Path, profile: str, level: str, words: str
) -> None:
    sim = await itflow_sim(profile)
    (line,) = _lines(await _check(_config(tmp_path, sim)), "journal:")
    assert line.startswith(level) and words in line, line


async def test_every_technician_key_and_user_id_is_verified(itflow_sim: Any, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    good, bad, empty = tmp_path / "rita.key", tmp_path / "wrong.key", tmp_path / "empty.key"
    good.write_text(sim.keys["client"])
    bad.write_text("x" * 32)
    empty.write_text("")
    for f in (good, bad, empty):
        f.chmod(0o600)
    people = [
        {"name": "Rita", "extensions": ["201"], "itflow_user_id": 2, "api_key_file": str(good)},
        {"name": "Wrong", "extensions": ["202"], "itflow_user_id": 9, "api_key_file": str(bad)},
        {"name": "Empty", "extensions": ["203"], "api_key_file": str(empty)},
        {"name": "Gone", "extensions": ["204"], "api_key_file": str(tmp_path / "missing.key")},
    ]
    cfg = _config(tmp_path, sim, technicians=people)
    out = await _check(cfg)
    rita = _lines(out, "technician Rita")
    assert any(x.startswith("ok") and "may write ticket replies" in x for x in rita), rita
    assert any(x.startswith("info") and "user 2: not confirmable" in x for x in rita), rita
    assert any(x.startswith("fail") and "refuses their key" in x for x in _lines(out, "technician Wrong"))
    assert any(x.startswith("fail") and "is empty" in x for x in _lines(out, "technician Empty"))
    assert any(x.startswith("fail") and "missing.key" in x for x in _lines(out, "technician Gone"))
    # Once Rita has logged time, ITFlow names user 2: the mapping is confirmed.
    async with V1Client(sim.url, sim.keys["client"]) as api:
        await api.ticket_replies_create(
            ticket_id=1, ticket_reply="call", client_id=1, ticket_reply_time_worked="0:05:00"
        )
    rita = _lines(await _check(cfg), "technician Rita")
    assert any(x.startswith("ok") and "ITFlow user 2 is 'Rita Restricted'" in x for x in rita), rita


@pytest.mark.parametrize(
    ("layout", "words"),
    [
        ("asterisk", "one level too high"),  # spool_root: /var/spool/asterisk
        ("asterisk/voicemail/default", "a voicemail context"),
        ("asterisk/voicemail/default/202", "a mailbox"),
    ],
)
async def test_a_wrong_spool_root_is_caught(itflow_sim: Any, tmp_path: Path, layout: str, words: str) -> None:
    sim = await itflow_sim("v1-head")
    (tmp_path / "asterisk/voicemail/default/202/INBOX").mkdir(parents=True)
    cfg = _config(tmp_path, sim, voicemail={"spool_root": str(tmp_path / layout)})
    (line,) = _lines(await _check(cfg), "voicemail spool")
    assert line.startswith("fail") and words in line, line
    cfg = _config(tmp_path, sim, voicemail={"spool_root": str(tmp_path / "asterisk/voicemail")})
    (line,) = _lines(await _check(cfg), "voicemail spool")
    assert line.startswith("ok"), line
