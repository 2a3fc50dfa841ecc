"""The real daemon (``pbx-bridge run`` subprocess) against the lab Asterisk and the ITFlow simulator.

Not the call-outcome matrix (tests/tickets and tests/lab/test_tickets_* own that): what the *service*
promises. ``/readyz`` follows Asterisk going away and coming back; a SIGTERM in the middle of a burst of
missed calls loses no outbox item, and after a restart every ticket is in ITFlow exactly once (the
in-flight one included: the simulator commits it although the daemon stopped waiting).
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.support.daemon import PBX_BRIDGE, Daemon, write_config
from tests.support.lab import Lab


def _config(tmp_path: Path, lab: Lab, sim: Any, name: str = "c.yaml", **extra: Any) -> Path:
    ami = lab.ami
    sections: dict[str, Any] = {
        "fastagi": {"port": lab.fastagi_port},  # the lab dialplan's AGI(agi://127.0.0.1:<port>/cid)
        "ami": {
            "host": ami.host,
            "port": ami.port,
            "username": ami.username,
            "secret": ami.secret,
            "reconnect_max": 1,
            "grace": 0.5,
        },
        "tickets": {"retry_first": 0.5, "retry_max": 2},
        **extra,
    }
    return write_config(
        tmp_path / name,
        itflow_url=sim.url,
        api_key=sim.keys["all"],
        state_dir=tmp_path / "state",
        extra=sections,
    )


async def _metric(d: Daemon, sample: str) -> float:
    text = (await d.get("/metrics")).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == sample)


def _outbox(state: Path) -> list[tuple[str, str, str, int]]:
    db = sqlite3.connect(f"file:{next(state.glob('*.sqlite3'))}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("SELECT linkedid, kind, state, in_flight FROM outbox ORDER BY id").fetchall()
    finally:
        db.close()


async def test_readyz_follows_asterisk_stopping_and_returning(
    lab_plain: Lab, itflow_sim, tmp_path: Path
) -> None:
    lab = lab_plain
    sim = await itflow_sim("v1-head")
    d = Daemon(_config(tmp_path, lab, sim), log_path=tmp_path / "d.log").start()
    try:
        await d.wait_http("/readyz", 200)
        assert (await d.get("/readyz")).json()["parts"]["ami"]["ok"] is True

        await asyncio.to_thread(lab.controller.stop)
        await d.wait_http("/readyz", 503)
        parts = (await d.get("/readyz")).json()["parts"]
        assert parts["ami"]["ok"] is False
        # Only AMI degraded: caller ID from the directory, ITFlow and FastAGI are fine.
        assert parts["directory"]["ok"] and parts["itflow"]["ok"] and parts["fastagi"]["ok"]
        assert (await _metric(d, "pbx_bridge_ami_connected")) == 0

        await asyncio.to_thread(lab.controller.start, lab.dialplan)
        await d.wait_http("/readyz", 200)
        assert (await _metric(d, "pbx_bridge_ami_connected")) == 1
        assert (await _metric(d, "pbx_bridge_ami_reconnects_total")) >= 1
        assert d.alive()
    finally:
        d.kill()


async def test_sigterm_during_a_burst_of_missed_calls_loses_no_ticket(
    lab_plain: Lab, itflow_sim, tmp_path: Path
) -> None:
    lab = lab_plain
    sim = await itflow_sim("v1-head")
    seed_ids = {t["ticket_id"] for t in sim.tickets}
    cfg = _config(tmp_path, lab, sim)
    first = Daemon(cfg, log_path=tmp_path / "first.log", run_args=("--drain", "1")).start()
    burst = 6
    numbers = [lab.new_caller_number() for _ in range(burst)]

    async def calls() -> None:
        # Sequential (the lab has one caller port): each reaches voicemail 205 and hangs up after 0.5 s,
        # a missed call ("voicemail, no message") for a caller ITFlow does not know: one ticket each.
        for n in numbers:
            await lab.call(lab.route("ext205"), caller_num=n, hold_ms=500)

    try:
        await first.wait_http("/readyz", 200)
        # ITFlow now answers after 3 s: delivery falls behind the calls, so at SIGTERM some tickets
        # are waiting and one is in flight.
        sim.delay = 3.0
        burst_task = asyncio.create_task(calls())
        await first.wait_until(
            lambda: _at_least(lambda: _metric(first, "pbx_bridge_call_outcomes_total"), 3),
            what="three finished calls",
            limit=120,
        )
        first.signal(signal.SIGTERM)  # calls go on while it drains and exits
        assert await first.wait_exit(limit=60) == 0
        await asyncio.wait_for(burst_task, 180)
    finally:
        first.kill()

    rows = _outbox(tmp_path / "state")
    assert len(rows) >= 3, rows
    waiting = [r for r in rows if r[2] == "pending"]
    assert waiting, f"every ticket went out before SIGTERM: the test proved nothing ({rows})"

    sim.delay = 0.0
    second = Daemon(cfg, log_path=tmp_path / "second.log").start()
    try:
        await second.wait_http("/readyz", 200)

        def all_delivered() -> bool:
            return all(state in ("delivered", "replaced") for _, _, state, _ in _outbox(tmp_path / "state"))

        await second.wait_until(all_delivered, what="every outbox item delivered", limit=120)
    finally:
        second.signal(signal.SIGTERM)
        await second.wait_exit()
        second.kill()

    new = [t for t in sim.tickets if t["ticket_id"] not in seed_ids]
    for linkedid, kind, state, _ in rows:
        if state == "replaced":
            continue
        marker = f"pbx-bridge:call={linkedid};kind={kind}"
        found = [t["ticket_id"] for t in new if marker in t["ticket_details"]]
        assert len(found) == 1, f"{marker}: {len(found)} tickets in ITFlow (want exactly 1)"
    # Nothing but our calls' tickets, each once.
    assert len(new) == len([r for r in rows if r[2] != "replaced"]), [t["ticket_subject"] for t in new]


async def _at_least(fn: Callable[[], Any], n: float) -> bool:
    return await fn() >= n


# ------------------------------------------------------------------ check + the documented AMI user

ROOT = Path(__file__).resolve().parents[2]


def _doc_filters() -> list[str]:
    text = (ROOT / "docs/freepbx.md").read_text()
    block = text.split("```ini\n[pbxbridge]\n", 1)[1].split("```", 1)[0]
    return [ln.strip() for ln in block.splitlines() if ln.startswith("eventfilter")]


def test_documented_filters_are_the_lab_tested_ones() -> None:
    # docs/freepbx.md's filters must be exactly the lab's [pbxbridge-filtered] user, whose events the
    # call tracker is tested on (the freepbx17 lab overlay, test_tickets_lab.py).
    lab_conf = (ROOT / "lab/etc/freepbx17-overlay.conf").read_text()
    section = lab_conf.split("[pbxbridge-filtered]", 1)[1].split("\n[", 1)[0]
    lab_filters = [ln.strip() for ln in section.splitlines() if ln.startswith("eventfilter")]
    assert _doc_filters() == lab_filters


async def test_check_logs_in_with_the_filtered_ami_user(lab_freepbx: Lab, itflow_sim, tmp_path: Path) -> None:
    lab = lab_freepbx
    sim = await itflow_sim("v1-head")

    async def check(secret: str, username: str = "pbxbridge-filtered") -> tuple[int, str]:
        cfg = write_config(
            tmp_path / "c.yaml",
            itflow_url=sim.url,
            api_key=sim.keys["all"],
            state_dir=tmp_path / "state",
            extra={
                "ami": {
                    "host": lab.ami.host,
                    "port": lab.ami.port,
                    "username": username,
                    "secret": secret,
                },
                "voicemail": {"spool_root": str(lab.spool)},
            },
        )
        proc = await asyncio.create_subprocess_exec(
            str(PBX_BRIDGE),
            "--config",
            str(cfg),
            "check",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode is not None
        return proc.returncode, out.decode()

    section = (ROOT / "lab/etc/freepbx17-overlay.conf").read_text().split("[pbxbridge-filtered]")[1]
    secret = next(ln.split("=", 1)[1].strip() for ln in section.splitlines() if ln.startswith("secret"))
    rc, out = await check(secret)
    assert rc == 0, out
    assert any(
        ln.startswith("ok    ami: ") and "logged in as pbxbridge-filtered" in ln for ln in out.splitlines()
    ), out
    # the documented classes (write = call,originate,reporting) cannot run Command: no warning
    assert "may run Command" not in out, out
    # the lab's observer user may (write includes command): check says so
    rc, out = await check(lab.ami.secret, lab.ami.username)
    assert any(ln.startswith("warn  ami: ") and "may run Command" in ln for ln in out.splitlines()), out
    rc, out = await check("not-the-secret")
    assert rc == 1
    assert any(ln.startswith("fail  ami: ") and "login refused" in ln for ln in out.splitlines()), out
    assert "not-the-secret" not in out
