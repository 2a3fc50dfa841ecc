"""The real daemon (``pbx-bridge --config C run``) as a subprocess against the ITFlow simulator.

Everything on free loopback ports; the simulator runs in the test's event loop (``itflow_sim``), so all
waiting here is async. Waits are hang guards, never timed assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.agi_flood import Answer, real_request
from tests.support.daemon import Daemon, closed_port, write_config

ALICE = "4125550101"  # ACME Corp's primary contact in the simulator's default seed
ALICE_NAME = "ACME Corp - Alice Anderson"

DaemonFactory = Callable[..., Daemon]


@pytest_asyncio.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[DaemonFactory]:
    """Factory: ``daemon(config, args=(...), run_args=(...))`` starts one subprocess (killed at teardown)."""
    started: list[Daemon] = []

    def make(config: Path, **kwargs: Any) -> Daemon:
        d = Daemon(config, log_path=tmp_path / f"daemon-{len(started)}.log", **kwargs).start()
        started.append(d)
        return d

    try:
        yield make
    finally:
        for d in started:
            d.kill()


async def _cid(d: Daemon, number: str) -> str:
    r = await d.get("/cid", params={"number": number})
    assert r.status_code == 200, r.text
    return r.text.strip()


async def test_healthz_readyz_and_metrics(itflow_sim, daemon: DaemonFactory, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    cfg = write_config(
        tmp_path / "c.yaml", itflow_url=sim.url, api_key=sim.keys["all"], state_dir=tmp_path / "state"
    )
    d = daemon(cfg)
    await d.wait_http("/readyz", 200)
    r = await d.get("/healthz")
    assert r.status_code == 200 and r.text == "ok"
    ready = (await d.get("/readyz")).json()
    assert ready["ready"] is True
    assert {"directory", "itflow", "fastagi", "http"} <= set(ready["parts"])
    assert all(p["ok"] for p in ready["parts"].values())
    # Part "state" speaks for the files' ownership and for the database itself.
    state = ready["parts"]["state"]["detail"]
    assert "every state file writable" in state and "pbx-bridge.sqlite3" in state, state

    assert await _cid(d, ALICE) == ALICE_NAME  # feeds the lookup histogram
    r = await d.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    for name in (
        "pbx_bridge_lookup_seconds",
        "pbx_bridge_lookups",
        "pbx_bridge_lookup_cache",
        "pbx_bridge_directory_numbers",
        "pbx_bridge_directory_last_sync_timestamp_seconds",
        "pbx_bridge_ami_connected",
        "pbx_bridge_ami_reconnects",
        "pbx_bridge_ami_events",
        "pbx_bridge_outbox_pending",
        "pbx_bridge_outbox_oldest_age_seconds",
        "pbx_bridge_outbox_dead_letters",
        "pbx_bridge_outbox_held",
        "pbx_bridge_phonebook_last_success_timestamp_seconds",
    ):
        assert name in families, f"{name} missing from /metrics"
    assert families["pbx_bridge_lookup_seconds"].type == "histogram"
    count = [
        s.value
        for s in families["pbx_bridge_lookup_seconds"].samples
        if s.name == "pbx_bridge_lookup_seconds_count"
    ]
    assert sum(count) >= 1
    numbers = families["pbx_bridge_directory_numbers"].samples[0].value
    assert numbers >= 10  # the default seed's numbers, as the directory loaded them


async def test_readyz_503_names_itflow_while_down_and_recovers(
    itflow_sim, daemon: DaemonFactory, tmp_path: Path
) -> None:
    sim = await itflow_sim("v1-v25")
    cfg = write_config(
        tmp_path / "c.yaml", itflow_url=sim.url, api_key=sim.keys["all"], state_dir=tmp_path / "state"
    )
    d = daemon(cfg)
    await d.wait_http("/readyz", 200)

    sim.down = True
    await d.wait_http("/readyz", 503)
    body = (await d.get("/readyz")).json()
    assert body["ready"] is False
    assert body["parts"]["itflow"]["ok"] is False
    assert "unreachable" in body["parts"]["itflow"]["detail"]
    # Only what depends on ITFlow degrades: the stored directory still answers, FastAGI still listens.
    assert body["parts"]["directory"]["ok"] is True
    assert body["parts"]["fastagi"]["ok"] is True
    assert await _cid(d, ALICE) == ALICE_NAME

    sim.down = False
    await d.wait_http("/readyz", 200)
    await d.wait_log("ITFlow reachable again")


async def test_started_with_itflow_down_becomes_ready_when_it_returns(
    itflow_sim, daemon: DaemonFactory, tmp_path: Path
) -> None:
    sim = await itflow_sim("v1-head")
    sim.down = True
    cfg = write_config(
        tmp_path / "c.yaml",
        itflow_url=sim.url,
        api_key=sim.keys["all"],
        state_dir=tmp_path / "state",
        extra={"directory": {"retry_interval": 2}},
    )
    d = daemon(cfg)
    await d.wait_http("/readyz", 503)
    parts = (await d.get("/readyz")).json()["parts"]
    assert parts["itflow"]["ok"] is False and parts["directory"]["ok"] is False
    sim.down = False
    await d.wait_http("/readyz", 200, limit=150)
    assert await _cid(d, ALICE) == ALICE_NAME


async def test_itflow_and_ami_unreachable_serves_the_stored_directory(
    itflow_sim, daemon: DaemonFactory, tmp_path: Path
) -> None:
    sim = await itflow_sim("v1-head")
    state = tmp_path / "state"
    cfg = write_config(tmp_path / "c.yaml", itflow_url=sim.url, api_key=sim.keys["all"], state_dir=state)
    first = daemon(cfg)
    await first.wait_http("/readyz", 200)
    first.signal(signal.SIGTERM)
    assert await first.wait_exit() == 0

    sim.down = True
    ami_port = closed_port()
    cfg2 = write_config(
        tmp_path / "c2.yaml",
        itflow_url=sim.url,
        api_key=sim.keys["all"],
        state_dir=state,
        extra={
            "ami": {
                "host": "127.0.0.1",
                "port": ami_port,
                "username": "pbx",
                "secret": "s3cret-ami",
                "reconnect_max": 1,
            }
        },
    )
    d = daemon(cfg2)
    await d.wait_http("/healthz", 200)
    await d.wait_http("/directory/stats", 200)  # the stored copy loads in the background (docs/callerid.md)
    assert await _cid(d, ALICE) == ALICE_NAME
    r = await d.get("/readyz")
    assert r.status_code == 503
    parts = r.json()["parts"]
    assert parts["ami"]["ok"] is False and parts["itflow"]["ok"] is False
    assert parts["directory"]["ok"] is True

    async def reconnects() -> float:
        text = (await d.get("/metrics")).text
        return next(
            s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == "pbx_bridge_ami_reconnects_total"
        )

    # It keeps retrying (several backoff rounds) and keeps answering: it never gives up and exits.
    await d.wait_until(lambda: _at_least(reconnects, 3), what="3 AMI reconnect attempts")
    assert d.alive()
    assert await _cid(d, ALICE) == ALICE_NAME
    d.signal(signal.SIGTERM)
    assert await d.wait_exit() == 0


async def _at_least(fn: Callable[[], Any], n: float) -> bool:
    return await fn() >= n


async def test_sigterm_drains_and_exits_0(itflow_sim, daemon: DaemonFactory, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    cfg = write_config(
        tmp_path / "c.yaml", itflow_url=sim.url, api_key=sim.keys["all"], state_dir=tmp_path / "state"
    )
    d = daemon(cfg, run_args=("--drain", "5"))
    await d.wait_http("/readyz", 200)
    # A slow live lookup in flight when SIGTERM arrives (ITFlow answers after 2 s).
    sim.delay = 2.0
    pending = asyncio.ensure_future(d.get("/cid", params={"number": "4125550777"}))
    await asyncio.sleep(0.1)
    d.signal(signal.SIGTERM)
    # Hang guard well above the 5 s drain deadline; the log proves the drain path ran.
    assert await d.wait_exit(limit=60) == 0
    log = d.log()
    assert "stopping (drain deadline 5 s)" in log and "pbx_bridge.service: stopped" in log
    with contextlib.suppress(Exception):
        await pending
    sim.delay = 0


async def test_sighup_applies_a_valid_changed_config(
    itflow_sim, daemon: DaemonFactory, tmp_path: Path
) -> None:
    sim = await itflow_sim("v1-head")
    cfg = tmp_path / "c.yaml"
    write_config(cfg, itflow_url=sim.url, api_key=sim.keys["all"], state_dir=tmp_path / "state")
    d = daemon(cfg)
    await d.wait_http("/readyz", 200)
    assert await _cid(d, ALICE) == ALICE_NAME
    pid = d.pid

    changed = "directory:\n  name_template: '{name} @ {client}'\nphonebook:"
    cfg.write_text(cfg.read_text().replace("phonebook:", changed))
    d.signal(signal.SIGHUP)
    await d.wait_log("SIGHUP: config valid")

    async def renamed() -> bool:
        try:
            return await _cid(d, ALICE) == "Alice Anderson @ ACME Corp"
        except Exception:
            return False

    await d.wait_until(renamed, what="the new name template in /cid answers")
    assert d.pid == pid and d.alive()  # reloaded in place, not restarted


async def test_sighup_with_a_broken_config_keeps_running(
    itflow_sim, daemon: DaemonFactory, tmp_path: Path
) -> None:
    sim = await itflow_sim("v1-head")
    cfg = tmp_path / "c.yaml"
    write_config(cfg, itflow_url=sim.url, api_key=sim.keys["all"], state_dir=tmp_path / "state")
    d = daemon(cfg)
    await d.wait_http("/readyz", 200)

    lines = cfg.read_text().splitlines()
    lines.append("directory:")
    lines.append("  sync_intervall: 60")  # a typo'd key
    cfg.write_text("\n".join(lines) + "\n")
    d.signal(signal.SIGHUP)
    await d.wait_log("config not reloaded")
    line = len(lines)
    assert f"{cfg}:{line}: directory.sync_intervall: unknown key" in d.log()
    assert d.alive()
    assert (await d.get("/readyz")).status_code == 200
    assert await _cid(d, ALICE) == ALICE_NAME


class _FakeAmiRefusingLogin:
    """A TCP peer speaking just enough AMI to receive a Login (so the secret goes on the wire)."""

    def __init__(self) -> None:
        self.logins = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        await writer.drain()
        with contextlib.suppress(Exception):
            data = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            if b"Action: Login" in data:
                self.logins += 1
                action_id = b""
                for line in data.split(b"\r\n"):
                    if line.lower().startswith(b"actionid:"):
                        action_id = line.split(b":", 1)[1].strip()
                writer.write(
                    b"Response: Error\r\nActionID: "
                    + action_id
                    + b"\r\nMessage: Authentication failed\r\n\r\n"
                )
                await writer.drain()
        writer.close()


@pytest.mark.parametrize("profile", ["v1-head", "legacy-2022"])
async def test_no_secret_in_any_log_line_at_debug_level(
    itflow_sim, daemon: DaemonFactory, tmp_path: Path, profile: str
) -> None:
    sim = await itflow_sim(profile)
    ami = _FakeAmiRefusingLogin()
    server = await asyncio.start_server(ami.handle, "127.0.0.1", 0)
    ami_port = server.sockets[0].getsockname()[1]
    secret = "AmiSecretXyzzy42"
    key = sim.keys["all"]
    try:
        cfg = write_config(
            tmp_path / "c.yaml",
            itflow_url=sim.url,
            api_key=key,
            state_dir=tmp_path / "state",
            extra={
                "ami": {
                    "host": "127.0.0.1",
                    "port": ami_port,
                    "username": "pbx",
                    "secret": secret,
                    "reconnect_max": 1,
                }
            },
        )
        d = daemon(cfg, args=("--log-level", "debug"))
        await d.wait_http("/healthz", 200)
        await d.wait_until(lambda: ami.logins >= 2, what="two AMI logins")
        # Live lookups (legacy: the key travels in the URL there), a miss, a phonebook.
        await _cid(d, ALICE)
        await _cid(d, "4125550123")
        await d.get("/phonebook/yealink")
        await d.get("/readyz")
        d.signal(signal.SIGTERM)
        assert await d.wait_exit() == 0
    finally:
        server.close()
        await server.wait_closed()
    log = d.log()
    assert "DEBUG" in log  # debug lines were really written
    assert key not in log
    assert secret not in log


async def test_log_format_json_lines_parse(itflow_sim, daemon: DaemonFactory, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    cfg = write_config(
        tmp_path / "c.yaml",
        itflow_url=sim.url,
        api_key=sim.keys["all"],
        state_dir=tmp_path / "state",
        extra={
            "ami": {
                "host": "127.0.0.1",
                "port": closed_port(),
                "username": "pbx",
                "secret": "x",
                "reconnect_max": 1,
            }
        },
    )
    d = daemon(cfg, args=("--log-format", "json", "--log-level", "debug"))
    await d.wait_http("/healthz", 200)
    await _cid(d, ALICE)
    d.signal(signal.SIGTERM)
    assert await d.wait_exit() == 0
    lines = [ln for ln in d.log().splitlines() if ln.strip()]
    assert len(lines) > 5
    records = [json.loads(ln) for ln in lines]
    for rec in records:
        assert {"ts", "level", "logger", "msg"} <= set(rec)
    msgs = [r["msg"] for r in records]
    assert "stopped" in msgs
    assert any(r["level"] == "warning" and r["logger"].startswith("pbx_bridge.ami") for r in records)


def _named(answer: Answer) -> str | None:
    """The CALLERID(name) a FastAGI ``cid`` session set, or None when it set none (no match)."""
    for line in answer.commands:
        if line.startswith("SET VARIABLE CALLERID(name) "):
            return line.removeprefix("SET VARIABLE CALLERID(name) ").strip('"')
    return None


async def _fastagi_answer(d: Daemon, port: int) -> Answer:
    """The first FastAGI ``cid`` session the daemon answers for ALICE (bounded wait)."""
    got: list[Answer] = []

    async def answered() -> bool:
        a = await real_request(port, ALICE)
        if not a.refused:
            got.append(a)
        return not a.refused

    await d.wait_until(answered, what="a FastAGI answer")
    return got[0]


async def test_nothing_stored_and_itflow_hanging_fastagi_and_http_answer_no_match_at_once(
    itflow_sim, daemon: DaemonFactory, tmp_path: Path
) -> None:
    """A first start whose first sync cannot finish (ITFlow hangs): the doors are open and answer "no
    match" meanwhile; they do not refuse connections until the sync is in (docs/callerid.md)."""
    sim = await itflow_sim("v1-head")
    sim.delay = 120.0  # every ITFlow request hangs longer than the test waits (stop() interrupts it)
    cfg = write_config(
        tmp_path / "c.yaml",
        itflow_url=sim.url,
        api_key=sim.keys["all"],
        state_dir=tmp_path / "state",
        extra={"itflow": {"timeout": 120}},
    )
    port = int(yaml.safe_load(cfg.read_text())["fastagi"]["port"])
    d = daemon(cfg)
    answer = await _fastagi_answer(d, port)
    assert _named(answer) is None
    assert any(c.startswith("SET VARIABLE ITFLOW_MATCH ") and "none" in c for c in answer.commands)
    await d.wait_http("/healthz", 200)  # the HTTP face starts right after FastAGI
    r = await d.get("/cid", params={"number": ALICE})
    assert r.status_code == 200 and r.text.strip() == ALICE  # no name: the number itself
    # All of that before the first sync was even done: no directory, and no failure reported yet.
    ready = (await d.get("/readyz")).json()["parts"]["directory"]
    assert ready == {"ok": False, "detail": "no directory yet"}


async def test_stored_directory_and_itflow_hanging_fastagi_names_callers_from_it(
    itflow_sim, daemon: DaemonFactory, tmp_path: Path
) -> None:
    sim = await itflow_sim("v1-head")
    state = tmp_path / "state"
    cfg = write_config(
        tmp_path / "c.yaml",
        itflow_url=sim.url,
        api_key=sim.keys["all"],
        state_dir=state,
        extra={"itflow": {"timeout": 120}},
    )
    first = daemon(cfg)
    await first.wait_http("/readyz", 200)
    first.signal(signal.SIGTERM)
    assert await first.wait_exit() == 0

    sim.delay = 120.0  # the restarted daemon's sync cannot finish while the test runs
    port = int(yaml.safe_load(cfg.read_text())["fastagi"]["port"])
    d = daemon(cfg)
    answer = await _fastagi_answer(d, port)
    assert _named(answer) == ALICE_NAME
    assert await _cid(d, ALICE) == ALICE_NAME
    stats = (await d.get("/directory/stats")).json()
    assert stats["syncs"] == 0 and stats["failures"] == 0  # named from the stored copy, not a new sync
