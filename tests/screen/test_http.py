"""The calls page's doors refuse what they must, over real HTTP on loopback (the daemon's HttpFace, the
page's routes, the simulator as ITFlow): not signed in, a wrong user or password, a forged request (no
or a wrong CSRF token, another origin), another technician's extension. Each refusal is one test."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from pbx_bridge.http import HttpFace, RouteGroup
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.screen import CallBoard, CallerTickets, Dialer, ItflowLinks, ScreenService, screen_routes
from pbx_bridge.screen.passwords import hash_password
from pbx_bridge.screen.settings import ScreenSettings
from pbx_bridge.technicians import TechniciansSettings

HASH = hash_password("correct horse 1")
PEOPLE = TechniciansSettings.model_validate(
    [
        {"name": "Dana", "extensions": ["201"], "username": "dana", "password_hash": HASH},
        {
            "name": "Sam",
            "extensions": ["202"],
            "username": "sam",
            "password_hash": hash_password("sam pass 22"),
        },
    ]
)


@pytest_asyncio.fixture
async def page() -> AsyncIterator[httpx.AsyncClient]:
    settings = ScreenSettings(enabled=True, login_attempts=3)
    plan = NumberPlan()
    links = ItflowLinks("https://itflow.example", "agent")
    board = CallBoard(index=lambda: None, plan=plan, links=links, technicians=PEOPLE, clock=time.time)
    service = ScreenService(
        settings,
        PEOPLE,
        board,
        links,
        CallerTickets(None, ttl=60, clock=time.monotonic),
        Dialer(settings.dial, plan, None, time.monotonic),  # no AMI: a dial that passes every check gets 503
        ticket_of=None,
        clock=time.time,
    )
    face = HttpFace(
        "127.0.0.1", 0, [], groups=[RouteGroup("screen", screen_routes(service), ["127.0.0.0/8"])]
    )
    await face.start()
    await service.start()
    base = f"http://127.0.0.1:{face.bound_port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            yield client
    finally:
        await service.stop(time.monotonic() + 5)
        await face.stop(time.monotonic() + 5)


def _token(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html
    return m.group(1)


async def _sign_in(client: httpx.AsyncClient, user: str = "dana", password: str = "correct horse 1") -> str:
    form = await client.get("/calls/login")
    resp = await client.post(
        "/calls/login",
        data={"csrf": _token(form.text), "username": user, "password": password, "next": "/calls"},
    )
    assert resp.status_code == 303, resp.text
    return _token((await client.get("/calls")).text)


@pytest.mark.parametrize("path", ["/calls", "/calls/1733241234.12", "/calls/dial?to=tel:4125550101"])
async def test_not_signed_in_gets_only_the_login_page(page: httpx.AsyncClient, path: str) -> None:
    resp = await page.get(path)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/calls/login?next=")
    assert (await page.get("/calls/events")).status_code == 401
    assert (await page.get("/calls/app.js")).status_code == 401
    assert (await page.post("/calls/dial", data={"to": "4125550101", "extension": "201"})).status_code == 401
    login = await page.get("/calls/login")
    assert login.status_code == 200 and 'id="sign-in"' in login.text


async def test_wrong_password_or_unknown_user_is_refused_then_locked(page: httpx.AsyncClient) -> None:
    for user, password in [("dana", "wrong"), ("nobody", "correct horse 1"), ("dana", "")]:
        token = _token((await page.get("/calls/login")).text)
        resp = await page.post("/calls/login", data={"csrf": token, "username": user, "password": password})
        assert resp.status_code == 401 and "Wrong user name or password" in resp.text
        assert "pbxb_session" not in resp.cookies
    # two failures for dana so far; the third (screen.login_attempts) locks her name, even the right
    # password waits now, while another technician at the same address still signs in
    token = _token((await page.get("/calls/login")).text)
    await page.post("/calls/login", data={"csrf": token, "username": "dana", "password": "wrong again"})
    right = {"csrf": token, "username": "dana", "password": "correct horse 1"}
    assert (await page.post("/calls/login", data=right)).status_code == 429
    sam = {"csrf": token, "username": "sam", "password": "sam pass 22"}
    assert (await page.post("/calls/login", data=sam)).status_code == 303
    # fifteen failures from one address (five times the per-name limit) lock the address
    token = _token((await page.get("/calls/login")).text)  # signing in used up the form's token
    sam["csrf"] = token
    for n in range(11):
        await page.post("/calls/login", data={"csrf": token, "username": f"guess{n}", "password": "x"})
    assert (await page.post("/calls/login", data=sam)).status_code == 429


async def test_a_forged_request_is_refused(page: httpx.AsyncClient) -> None:
    token = await _sign_in(page)
    dial = {"to": "tel:(412) 555-0101", "extension": "201"}
    # no token, a wrong one, the right one from another site
    assert (await page.post("/calls/dial", data=dial)).status_code == 403
    assert (await page.post("/calls/dial", data={**dial, "csrf": "x" + token})).status_code == 403
    other = await page.post(
        "/calls/dial", data={**dial, "csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert other.status_code == 403
    assert (await page.post("/calls/logout", data={})).status_code == 403
    # a sign-in form posted from elsewhere (login CSRF): refused too
    fresh = httpx.AsyncClient(base_url=str(page.base_url))
    async with fresh:
        resp = await fresh.post(
            "/calls/login", data={"csrf": "t", "username": "dana", "password": "correct horse 1"}
        )
        assert resp.status_code == 403
    # with the token from this page the same request passes every check (no AMI here: 503)
    resp = await page.post("/calls/dial", data={**dial, "csrf": token})
    assert resp.status_code == 503 and "not available" in resp.text


async def test_another_technicians_extension_is_refused(page: httpx.AsyncClient) -> None:
    token = await _sign_in(page)
    resp = await page.post("/calls/dial", data={"to": "4125550101", "extension": "202", "csrf": token})
    assert resp.status_code == 403 and "only from your own extension" in resp.text


async def test_signing_out_ends_the_session(page: httpx.AsyncClient) -> None:
    token = await _sign_in(page)
    assert (await page.get("/calls")).status_code == 200
    assert (await page.post("/calls/logout", data={"csrf": token})).status_code == 303
    assert (await page.get("/calls")).status_code == 303


async def test_the_confirm_view_shows_the_normalised_number_escaped(page: httpx.AsyncClient) -> None:
    await _sign_in(page)
    resp = await page.get("/calls/dial", params={"to": "tel:(412)%20555-0101;ext=12"})
    assert resp.status_code == 200
    assert '<span id="dial-digits">4125550101</span>' in resp.text and "extension 12" in resp.text
    bad = await page.get("/calls/dial", params={"to": "tel:<script>alert(1)</script>"})
    assert bad.status_code == 400 and "<script>" not in bad.text
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self'")


async def test_next_after_sign_in_stays_on_this_page(page: httpx.AsyncClient) -> None:
    form = await page.get("/calls/login", params={"next": "https://evil.example/"})
    assert 'name="next" value="/calls"' in form.text
    token = _token(form.text)
    resp = await page.post(
        "/calls/login",
        data={"csrf": token, "username": "dana", "password": "correct horse 1", "next": "//evil.example/x"},
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/calls"
