"""Voicemail audio links: signed and expiring, PCM WAV a browser plays, 403 tampered or expired, 410
once the message is gone, found by its msg_id when Asterisk renumbers, never a path from the request."""

from __future__ import annotations

import subprocess
import wave
from collections.abc import AsyncIterator
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from pbx_bridge.ami.outcome import Outcome
from pbx_bridge.tickets.intake import TicketIntake
from pbx_bridge.tickets.settings import TicketsSettings
from pbx_bridge.tickets.voicemail_links import VoicemailAudio, VoicemailLinks, load_key, voicemail_routes

from .support import RigFactory, record

MSG_TXT = '[message]\norigmailbox=202\ncallerid="ACME" <4125550101>\nmsg_id={id}\nduration=1\n'


def leave_message(spool: Path, n: int, msg_id: str, fmt: str = "wav") -> Path:
    inbox = spool / "default" / "202" / "INBOX"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / f"msg{n:04d}.txt").write_text(MSG_TXT.format(id=msg_id))
    audio = inbox / f"msg{n:04d}.{fmt}"
    # 8 kHz mono as Asterisk records; gsm is what many installs store (browsers cannot play it)
    args = ["-t", "gsm"] if fmt == "gsm" else []
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", *args, str(audio), "synth", "1", "sine", "440"], check=True
    )
    return audio


@pytest.fixture
def links(state: Path) -> VoicemailLinks:
    return VoicemailLinks(load_key(state), base_url="https://pbx.example.net:8443", days=30)


@pytest.fixture
async def served(tmp_path: Path, links: VoicemailLinks) -> AsyncIterator[tuple[str, Path]]:
    spool = tmp_path / "spool"
    spool.mkdir()
    app = web.Application()
    app.router.add_routes(voicemail_routes(links, VoicemailAudio(spool)))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", spool
    await runner.cleanup()


def local(url: str, base: str) -> str:
    return url.replace("https://pbx.example.net:8443", base)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    (tmp_path / "state").mkdir(exist_ok=True)
    return tmp_path / "state"


@pytest.mark.parametrize("fmt", ["wav", "gsm"])
async def test_link_plays_the_message_as_pcm_wav(
    served: tuple[str, Path], links: VoicemailLinks, fmt: str
) -> None:
    base, spool = served
    leave_message(spool, 0, "1795850038-00000000", fmt)
    made = links.link("202@default", "1795850038-00000000")
    assert made is not None
    url, expires = made
    assert f"?e={expires}&s=" in url
    assert url.startswith("https://pbx.example.net:8443/voicemail/default/202/1795850038-00000000.wav?e=")
    async with httpx.AsyncClient() as http:
        r = await http.get(local(url, base))
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    with wave.open(BytesIO(r.content)) as w:
        assert (w.getsampwidth(), w.getnchannels(), w.getframerate()) == (2, 1, 8000)
        assert w.getnframes() == pytest.approx(8000, rel=0.05)  # the one second recorded


async def test_tampered_or_expired_links_answer_403(served: tuple[str, Path], links: VoicemailLinks) -> None:
    base, spool = served
    leave_message(spool, 0, "1795850038-00000000")
    leave_message(spool, 1, "1795850099-00000001")
    url, _ = links.link("202@default", "1795850038-00000000") or ("", 0)
    other = url.replace("1795850038-00000000", "1795850099-00000001")
    later = url.replace("?e=", "?e=9")
    sig = url[:-1] + ("0" if url[-1] != "0" else "1")
    old, _ = links.link("202@default", "1795850038-00000000", now=1_000_000_000.0) or ("", 0)
    async with httpx.AsyncClient() as http:
        assert (await http.get(local(url, base))).status_code == 200
        for bad in (other, later, sig, old, url.split("?")[0]):
            r = await http.get(local(bad, base))
            assert r.status_code == 403, bad


async def test_deleted_message_answers_410_and_a_renumbered_one_is_still_found(
    served: tuple[str, Path], links: VoicemailLinks
) -> None:
    base, spool = served
    first = leave_message(spool, 0, "1795850038-00000000")
    second = leave_message(spool, 1, "1795850099-00000001")
    url1, _ = links.link("202@default", "1795850038-00000000") or ("", 0)
    url2, _ = links.link("202@default", "1795850099-00000001") or ("", 0)
    # The first message is deleted in the mailbox; Asterisk renumbers msg0001 to msg0000.
    first.unlink()
    first.with_suffix(".txt").unlink()
    second.rename(first)
    second.with_suffix(".txt").rename(first.with_suffix(".txt"))
    async with httpx.AsyncClient() as http:
        assert (await http.get(local(url1, base))).status_code == 410
        assert (await http.get(local(url2, base))).status_code == 200  # found by its msg_id


def test_names_that_could_leave_the_spool_are_never_linked(links: VoicemailLinks) -> None:
    assert links.link("../202@default", "1-1") is None
    assert links.link("202@..", "1-1") is None
    assert links.link("202@default", "../../etc/passwd") is None
    assert links.link("202@default", "1795850038-00000000") is not None


def test_the_key_lives_in_the_state_directory_and_survives_restarts(state: Path) -> None:
    key = load_key(state)
    assert load_key(state) == key and len(key) == 32
    assert ((state / "voicemail-links.key").stat().st_mode & 0o777) == 0o600


async def test_voicemail_ticket_carries_the_link_and_says_until_when(
    rig_for: RigFactory, tmp_path: Path, links: VoicemailLinks
) -> None:
    spool = tmp_path / "spool"
    leave_message(spool, 0, "1795850038-00000000")
    rig = await rig_for("v1-2610")
    intake = TicketIntake(
        TicketsSettings(), rig.outbox, is_internal=lambda n: len(n) <= 4, spool_root=spool, links=links
    )
    rec = record(
        "1800000600.1",
        Outcome.VOICEMAIL,
        mailbox="202@default",
        voicemail_path="/var/spool/asterisk/voicemail/default/202/INBOX/msg0000",
    )
    assert await intake.handle(rec)
    await rig.rounds(1, step=1)
    (ticket,) = rig.tickets
    details = ticket["ticket_details"]
    assert 'href="https://pbx.example.net:8443/voicemail/default/202/1795850038-00000000.wav?e=' in details
    assert "link valid until " in details and "Recording:</b> 1 s" in details
