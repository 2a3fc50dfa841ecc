"""The HTTP face's guards, on the real daemon: IP allow-list (403), basic auth (401/200), open /healthz.

Loopback has many addresses: the daemon listens on 127.0.0.1 and the client picks its source address
(127.0.0.1 or 127.0.0.2), so the allow-list sees two real peers without leaving the machine.
"""

from __future__ import annotations

import asyncio
import base64
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tests.support.daemon import Daemon, write_config

ALICE = "4125550101"


@pytest_asyncio.fixture
async def start_daemon(tmp_path: Path, itflow_sim) -> AsyncIterator:
    started: list[Daemon] = []

    async def make(http: dict) -> Daemon:
        sim = await itflow_sim("v1-head")
        cfg = write_config(
            tmp_path / f"c{len(started)}.yaml",
            itflow_url=sim.url,
            api_key=sim.keys["all"],
            state_dir=tmp_path / "state",
            extra={"http": http},
        )
        d = Daemon(cfg, log_path=tmp_path / f"d{len(started)}.log").start()
        started.append(d)
        await d.wait_until(lambda: "pbx-bridge running (ready)" in d.log(), what="the daemon to be ready")
        return d

    try:
        yield make
    finally:
        for d in started:
            if d.alive():
                d.signal(signal.SIGTERM)
                await d.wait_exit()
            d.kill()


async def _get(d: Daemon, path: str, *, source: str = "127.0.0.1", **kw) -> httpx.Response:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(base_url=d.base, transport=transport, timeout=10) as http:
        return await http.get(path, **kw)


async def test_allow_list_refuses_other_addresses(start_daemon) -> None:
    d = await start_daemon({"allow": ["127.0.0.2/32"]})
    for path in ("/cid", "/healthz", "/metrics", "/phonebook/yealink"):
        r = await _get(d, path, params={"number": ALICE})
        assert r.status_code == 403, path
    ok = await _get(d, "/cid", source="127.0.0.2", params={"number": ALICE})
    assert ok.status_code == 200 and ok.text.strip() == "ACME Corp - Alice Anderson"
    assert (await _get(d, "/healthz", source="127.0.0.2")).status_code == 200
    assert "not in http.allow" in d.log()


async def test_default_allow_is_loopback_only(start_daemon) -> None:
    d = await start_daemon({})
    assert (await _get(d, "/healthz")).status_code == 200
    assert (await _get(d, "/healthz", source="127.0.0.2")).status_code == 200  # all of 127/8


@pytest.mark.parametrize("path", ["/cid", "/phonebook/yealink", "/metrics", "/readyz"])
async def test_basic_auth_guards_everything_but_healthz(start_daemon, path: str) -> None:
    d = await start_daemon({"basic_auth": {"username": "phones", "password": "Pa55-word"}})
    params = {"number": ALICE}
    r = await _get(d, path, params=params)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic ")
    assert (await _get(d, path, params=params, auth=("phones", "wrong"))).status_code == 401
    assert (await _get(d, path, params=params, auth=("other", "Pa55-word"))).status_code == 401
    good = await _get(d, path, params=params, auth=("phones", "Pa55-word"))
    assert good.status_code == 200, good.text
    if path == "/cid":
        assert good.text.strip() == "ACME Corp - Alice Anderson"
    # Liveness stays open, so a monitor needs no credentials.
    h = await _get(d, "/healthz")
    assert h.status_code == 200 and h.text == "ok"
    assert "Pa55-word" not in d.log()


async def test_allow_list_applies_before_basic_auth(start_daemon) -> None:
    d = await start_daemon(
        {"allow": ["127.0.0.2/32"], "basic_auth": {"username": "phones", "password": "Pa55-word"}}
    )
    r = await _get(d, "/cid", params={"number": ALICE}, auth=("phones", "Pa55-word"))
    assert r.status_code == 403
    r = await _get(d, "/cid", source="127.0.0.2", params={"number": ALICE}, auth=("phones", "Pa55-word"))
    assert r.status_code == 200


@pytest.mark.parametrize("scheme", ["basic", "BASIC", "Basic", "bAsIc"])
async def test_basic_auth_accepts_the_scheme_in_any_case(start_daemon, scheme: str) -> None:
    d = await start_daemon({"basic_auth": {"username": "phones", "password": "Pa55-word"}})
    token = base64.b64encode(b"phones:Pa55-word").decode()
    ok = await _get(d, "/cid", params={"number": ALICE}, headers={"Authorization": f"{scheme} {token}"})
    assert ok.status_code == 200 and ok.text.strip() == "ACME Corp - Alice Anderson"
    bad = base64.b64encode(b"phones:pa55-word").decode()  # the password itself stays case-sensitive
    r = await _get(d, "/cid", params={"number": ALICE}, headers={"Authorization": f"{scheme} {bad}"})
    assert r.status_code == 401


async def test_200_malformed_requests_log_a_line_or_two_and_no_traceback(start_daemon) -> None:
    d = await start_daemon({})
    before = len(d.log().splitlines())
    for i in range(200):
        reader, writer = await asyncio.open_connection("127.0.0.1", d.http_port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: nope%d\r\n\r\n" % i)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
        assert answer.split(b" ", 2)[1] == b"400", answer[:80]
        writer.close()
    assert (await _get(d, "/healthz")).status_code == 200
    log = d.log()
    new = log.splitlines()[before:]
    assert "Traceback" not in log
    assert 1 <= len([line for line in new if "malformed" in line]) <= 3, new[:20]
    assert len(new) <= 5, new[:20]
