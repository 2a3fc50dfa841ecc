"""The calls page in a real headless Chromium against the real daemon and the lab Asterisk (issue 17's
acceptance): over HTTPS on a LAN name with a throwaway CA, notifications granted and the ``tel:``
handler prompt accepted over CDP. Screenshots of the page go to ``$PBX_BRIDGE_SCREENSHOTS`` (default:
the test's temporary directory); docs/screen.md shows one of them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiohttp import web

from tests.screen.rig import HOST, ITFLOW_WEB, PASSWORDS, screen_daemon
from tests.support.browser import Page, chromium_missing, open_browser
from tests.support.lab import Lab

pytestmark = [pytest.mark.lab]

ALICE = "4125550101"  # the simulator's Alice Anderson, ACME Corp (client 1, contact 1, open ticket 1)
ITFLOW_PAGE = "itflow.lab.test"


@pytest.fixture(autouse=True)
def _needs_chromium() -> None:
    why = chromium_missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


def _shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("PBX_BRIDGE_SCREENSHOTS") or tmp_path / "screenshots")


def _rules(*ports: int) -> str:
    return f"MAP {HOST} 127.0.0.1, MAP {ITFLOW_PAGE} 127.0.0.1"


async def sign_in(page: Page, base: str, user: str) -> None:
    await page.goto(f"{base}/calls")
    await page.wait_for("!!document.getElementById('sign-in')", "the sign-in page")
    await page.eval(
        f"document.getElementById('username').value = {user!r};"
        f"document.getElementById('password').value = {PASSWORDS[user]!r};"
        "document.getElementById('sign-in').click(); true"
    )
    await page.wait_for("document.body.dataset.connected === 'yes'", f"the calls page signed in as {user}")


def card(linkedid_or_text: str) -> str:
    """JS: the text of the first call card containing ``linkedid_or_text``, or ''."""
    return (
        "(Array.from(document.querySelectorAll('article.call')).map(a => a.innerText)"
        f".find(t => t.includes({linkedid_or_text!r})) || '')"
    )


async def test_ringing_call_shows_the_caller_links_and_a_notification_then_its_ticket(
    lab: Lab, itflow_sim, tmp_path: Path
) -> None:
    sim = await itflow_sim("v1-2610")  # 26.10: tickets/read honours client_id, so open tickets show
    async with (
        screen_daemon(tmp_path, lab, sim) as rig,
        open_browser(tmp_path / "browser", host_rules=_rules(), ca=rig.ca) as browser,
    ):
        await browser.send(
            "Browser.grantPermissions", {"permissions": ["notifications"], "origin": rig.https}
        )
        page = await browser.new_page()
        await sign_in(page, rig.https, "dana")
        assert await page.eval("window.isSecureContext") is True
        assert await page.eval("document.getElementById('insecure').classList.contains('hidden')")

        # Alice calls extension 201 (Dana's) and gives up after 4 s of ringing (before voicemail)
        handle = await lab.start_call(
            lab.route("ext201"), caller_num=ALICE, caller="cancel", hold_ms=4000, callees={"201": "ring"}
        )
        try:
            # before anyone answers: her name, client and links, on a card marked as ringing my phone
            linkedid = await page.wait_for(
                "(() => { const a = document.querySelector('article.call.ringing.mine');"
                " return a && a.innerText.includes('Alice Anderson') && a.querySelector('a')"
                " ? a.dataset.linkedid : ''; })()",
                "Alice's call ringing on 201",
            )
            one = f"document.querySelector('article.call[data-linkedid=\"{linkedid}\"]')"
            text = await page.eval(f"{one}.innerText")
            assert "ACME Corp" in text and "Ringing 201" in text and "+14125550101" in text
            links = await page.eval(f"Array.from({one}.querySelectorAll('a')).map(a => a.href)")
            assert f"{ITFLOW_WEB}/agent/client_overview.php?client_id=1" in links
            assert f"{ITFLOW_WEB}/agent/contact.php?client_id=1&contact_id=1" in links
            notes = await page.wait_for(
                "window.__notifications.length && window.__notifications", "a notification"
            )
            assert notes[0]["title"] == "Call from Alice Anderson" and "ACME Corp" in notes[0]["body"]
            # her open ticket (the simulator's ticket 1, "Printer jammed"), read over the API
            await page.wait_for(f"{one}.innerText.includes('Printer jammed')", "Alice's open ticket")
            links = await page.eval(f"Array.from({one}.querySelectorAll('a')).map(a => a.href)")
            assert f"{ITFLOW_WEB}/agent/ticket.php?client_id=1&ticket_id=1" in links
            await page.screenshot(_shots(tmp_path) / f"calls-ringing-{lab.dialplan}.png")
        finally:
            await handle.wait()

        # a missed call; once the outbox delivered its ticket, the page links to it
        await page.wait_for(
            f"{one}.classList.contains('ended') && {one}.innerText.includes('opened for this call')",
            "the missed call's ticket link",
            limit=60,
        )
        ours = [t for t in sim.tickets if int(t["ticket_id"]) > 2]  # the seed has tickets 1 and 2
        assert len(ours) == 1, ours
        links = await page.eval(f"Array.from({one}.querySelectorAll('a')).map(a => a.href)")
        assert f"{ITFLOW_WEB}/agent/ticket.php?client_id=1&ticket_id={ours[0]['ticket_id']}" in links
        await page.screenshot(_shots(tmp_path) / f"calls-missed-{lab.dialplan}.png")


async def test_unknown_caller_and_answered_by_202(lab_plain: Lab, itflow_sim, tmp_path: Path) -> None:
    lab = lab_plain
    sim = await itflow_sim("v1-head")
    async with (
        screen_daemon(tmp_path, lab, sim) as rig,
        open_browser(tmp_path / "browser", host_rules=_rules(), ca=rig.ca) as browser,
    ):
        page = await browser.new_page()
        await sign_in(page, rig.https, "sam")
        stranger = lab.new_caller_number()
        handle = await lab.start_call(
            lab.route("ext202"), caller_num=stranger, caller="bye", hold_ms=2500, callees={"202": "answer"}
        )
        try:
            text = await page.wait_for(
                "(() => { const a = document.querySelector('article.call[data-match=unknown]');"
                " return a && a.innerText.includes('answered by 202') ? a.innerText : ''; })()",
                "the unknown caller answered by 202",
            )
        finally:
            await handle.wait()
        assert "Unknown caller" in text and "Sam Ortiz" in text
        assert await page.eval("document.querySelectorAll('article.call a').length") == 0  # no ITFlow links
        await page.screenshot(_shots(tmp_path) / "calls-answered.png")


async def test_plain_http_on_the_lan_says_it_is_not_a_secure_context(itflow_sim, tmp_path: Path) -> None:
    sim = await itflow_sim("v1-head")
    async with (
        screen_daemon(tmp_path, None, sim, allow=["127.0.0.0/8"]) as rig,
        open_browser(tmp_path / "browser", host_rules=_rules(), ca=rig.ca) as browser,
    ):
        page = await browser.new_page()
        await sign_in(page, rig.http, "dana")
        assert await page.eval("window.isSecureContext") is False
        notice = await page.wait_for(
            "!document.getElementById('insecure').classList.contains('hidden') && "
            "document.getElementById('insecure').innerText",
            "the not-a-secure-context notice",
        )
        assert "not in a secure context" in notice
        await page.screenshot(_shots(tmp_path) / "calls-plain-http.png")
        # a journal note's link to a call the page no longer holds says so instead of showing nothing
        await page.goto(f"{rig.http}/calls/1733241234.12")
        await page.wait_for(
            "!document.getElementById('gone').classList.contains('hidden')", "the gone notice"
        )


async def test_clicking_a_tel_link_rings_my_extension_then_dials_the_number(
    lab: Lab, itflow_sim, tmp_path: Path
) -> None:
    sim = await itflow_sim("v1-head")

    # ITFlow's own markup of a phone number (national format, no country code)
    async def itflow_contact_page(_request: web.Request) -> web.Response:
        body = '<a id="tel" href="tel:(412) 555-0101">(412) 555-0101</a>'
        return web.Response(text=body, content_type="text/html")

    itflow = web.Application()
    itflow.router.add_get("/", itflow_contact_page)
    runner = web.AppRunner(itflow)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    itflow_port = runner.addresses[0][1]
    try:
        async with (
            screen_daemon(tmp_path, lab, sim) as rig,
            open_browser(tmp_path / "browser", host_rules=_rules(), ca=rig.ca) as browser,
            lab.ami_session() as ami,
        ):
            page = await browser.new_page()
            await page.send("Page.setRPHRegistrationMode", {"mode": "autoAccept"})
            await sign_in(page, rig.https, "dana")
            # what a technician does once: click "Dial tel: links from here", accept the browser's prompt
            await page.eval("document.getElementById('register-tel').click(); true", gesture=True)
            await page.wait_for("document.body.dataset.telHandler === 'asked'", "the tel: handler registered")
            await page.goto(f"http://{ITFLOW_PAGE}:{itflow_port}/")
            phones = await lab.start_phones({"201": "answer", "pstn": "answer"}, timeout=40)
            try:
                await page.eval("document.getElementById('tel').click(); true", gesture=True)
                shown = await page.wait_for(
                    "location.pathname === '/calls/dial' && document.getElementById('dial-digits').innerText",
                    "the confirm view",
                )
                assert shown == "4125550101"
                assert "+1 412-555-0101" in await page.eval(
                    "document.getElementById('dial-readable').innerText"
                )
                await page.screenshot(_shots(tmp_path) / f"calls-dial-confirm-{lab.dialplan}.png")
                await page.eval("document.getElementById('dial-confirm').click(); true", gesture=True)
                await page.wait_for(
                    "document.getElementById('message')?.innerText.includes('rings now')", "calling"
                )
                out = await ami.wait_for(
                    lambda e: (
                        e.name == "DialEnd"
                        and e.get("DialStatus") == "ANSWER"
                        and not e.get("DestChannel", "").startswith(("PJSIP/201-", "Local/"))
                    ),
                    timeout=30,
                )
                await ami.action({"Action": "Hangup", "Channel": out["DestChannel"]})
            finally:
                result = await phones.wait()
        dials = [
            e.get("DestChannel", "").rsplit("-", 1)[0]
            for e in ami.events
            if e.name == "DialBegin" and not e.get("DestChannel", "").startswith("Local/")
        ]
        assert dials[0] == "PJSIP/201" and len(dials) >= 2, dials  # my extension first, then the number
        assert result.callees["201"].received("INVITE")
        invites = result.callees["pstn"].received("INVITE")
        assert invites and "4125550101" in invites[0], invites[:1]
    finally:
        await runner.cleanup()
