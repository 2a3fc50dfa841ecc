"""The calls page's routes (``/calls``...), served by the daemon's HTTP face as the ``screen`` route
group behind ``screen.allow`` (docs/screen.md).

Without a session only the sign-in page (and its style sheet) is served. Every POST carries the
session's CSRF token (sign-in: a token in a cookie and the form, double-submit) and, when the browser
sends ``Origin``, must come from this page's own origin.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from aiohttp import web

from pbx_bridge.screen.assets import APP_CSS, APP_JS
from pbx_bridge.screen.dial import DialRefused, read_target
from pbx_bridge.screen.pages import board_page, dial_page, login_page, message_page
from pbx_bridge.screen.passwords import verify_password
from pbx_bridge.screen.service import ScreenService
from pbx_bridge.screen.sessions import Session
from pbx_bridge.technicians import Technician

__all__ = ["screen_routes"]

log = logging.getLogger("pbx_bridge.screen")

SESSION_COOKIE = "pbxb_session"
LOGIN_COOKIE = "pbxb_login"
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes Chromium send Origin: null on POST
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
_KEEPALIVE = 15.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8", headers=_HEADERS)


def _safe_next(value: str | None) -> str:
    """Only a path of this page after sign-in: never another site (``//evil``, ``https://...``)."""
    if not value or not value.startswith("/calls") or value.startswith("//") or "\\" in value:
        return "/calls"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/calls"


def _cookie(resp: web.StreamResponse, request: web.Request, name: str, value: str, max_age: int) -> None:
    resp.set_cookie(
        name, value, max_age=max_age, path="/calls", httponly=True, samesite="Lax", secure=request.secure
    )


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not every browser sends Origin on a same-origin form POST; the token still decides
    return origin == f"{request.scheme}://{request.host}"


def screen_routes(service: ScreenService) -> list[web.RouteDef]:
    technicians = service.technicians

    def signed_in(request: web.Request) -> tuple[Session, Technician] | None:
        session = service.sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is None:
            return None
        person = technicians.by_username(session.username)
        if person is None:  # removed from the config (a reload rebuilds sessions anyway)
            service.sessions.drop(session.id)
            return None
        return session, person

    def to_login(request: web.Request) -> web.Response:
        raise web.HTTPSeeOther(f"/calls/login?next={quote(request.path_qs, safe='')}", headers=_HEADERS)

    async def forged(request: web.Request, session: Session | None, given: str | None) -> bool:
        ok = _same_origin(request) and session is not None and service.sessions.csrf_ok(session, given)
        if not ok:
            log.warning(
                "screen: refused %s %s from %s: CSRF check failed",
                request.method,
                request.path,
                request.remote,
            )
        return not ok

    # ------------------------------------------------------------------ public: sign-in
    async def app_css(_request: web.Request) -> web.Response:
        return web.Response(text=APP_CSS, content_type="text/css", headers=_HEADERS)

    async def login_form(request: web.Request) -> web.Response:
        token = request.cookies.get(LOGIN_COOKIE) or _new_token()
        resp = _html(login_page(token, _safe_next(request.query.get("next"))))
        _cookie(resp, request, LOGIN_COOKIE, token, 3600)
        return resp

    async def login(request: web.Request) -> web.Response:
        form = await request.post()
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        given = str(form.get("csrf", ""))
        next_url = _safe_next(str(form.get("next", "")))
        if not _same_origin(request) or not cookie or not _compare(cookie, given):
            log.warning(
                "screen: refused a sign-in from %s: CSRF check failed (%s)",
                request.remote,
                "no form cookie"
                if not cookie
                else "token differs"
                if _same_origin(request)
                else "foreign origin",
            )
            return _html(
                message_page("Refused", "The sign-in form expired or came from elsewhere.", error=True), 403
            )
        username = str(form.get("username", "")).strip()[:64]
        password = str(form.get("password", ""))[:1024]
        peer = request.remote or "?"
        limits = service.login_failures
        if limits.blocked(f"user:{username.lower()}") or service.peer_failures.blocked(peer):
            log.warning("screen: sign-in as %r from %s refused: too many failures", username, peer)
            return _html(login_page(cookie, next_url, "Too many failed sign-ins: wait 15 minutes."), 429)
        person = technicians.by_username(username) if username else None
        # the hash is checked even for an unknown name, so timing does not tell which names exist
        ok = await asyncio.to_thread(verify_password, password, person.password_hash if person else None)
        if not ok or person is None:
            limits.fail(f"user:{username.lower()}")
            service.peer_failures.fail(peer)
            log.warning("screen: failed sign-in as %r from %s", username, peer)
            return _html(login_page(cookie, next_url, "Wrong user name or password."), 401)
        session = service.sessions.create(person.username or username)
        log.info("screen: %s signed in from %s", person.name, peer)
        resp = web.HTTPSeeOther(next_url, headers=_HEADERS)
        _cookie(resp, request, SESSION_COOKIE, session.id, int(service.sessions.lifetime))
        resp.del_cookie(LOGIN_COOKIE, path="/calls")
        raise resp

    async def logout(request: web.Request) -> web.Response:
        who = signed_in(request)
        form = await request.post()
        if who is None:
            raise web.HTTPSeeOther("/calls/login", headers=_HEADERS)
        if await forged(request, who[0], str(form.get("csrf", ""))):
            return _html(
                message_page("Refused", "This request did not come from the calls page.", error=True), 403
            )
        service.sessions.drop(who[0].id)
        resp = web.HTTPSeeOther("/calls/login", headers=_HEADERS)
        resp.del_cookie(SESSION_COOKIE, path="/calls")
        raise resp

    # ------------------------------------------------------------------ signed in
    async def app_js(request: web.Request) -> web.Response:
        if signed_in(request) is None:
            return web.Response(status=401, text="sign in first\n", headers=_HEADERS)
        return web.Response(text=APP_JS, content_type="application/javascript", headers=_HEADERS)

    async def board(request: web.Request) -> web.Response:
        who = signed_in(request)
        if who is None:
            return to_login(request)
        session, person = who
        focus = request.match_info.get("linkedid", "")
        return _html(board_page(person.name, person.extensions, session.csrf, focus))

    async def events(request: web.Request) -> web.StreamResponse:
        who = signed_in(request)
        if who is None:
            return web.Response(status=401, text="sign in first\n", headers=_HEADERS)
        session = who[0]
        resp = web.StreamResponse(
            headers={**_HEADERS, "Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        await resp.prepare(request)
        queue = service.board.listen()
        try:
            await _send(resp, service.board.snapshot())
            while True:
                try:
                    async with asyncio.timeout(_KEEPALIVE):
                        message = await queue.get()
                except TimeoutError:
                    if service.sessions.get(session.id) is None:
                        await _send(resp, {"type": "signed-out"})
                        break
                    await resp.write(b": keepalive\n\n")
                    continue
                if message is None:
                    break
                await _send(resp, message)
        except ConnectionResetError:  # the browser went away; a cancellation (shutdown) propagates
            pass
        finally:
            service.board.unlisten(queue)
        return resp

    async def dial_form(request: web.Request) -> web.Response:
        who = signed_in(request)
        if who is None:
            return to_login(request)
        session, person = who
        try:
            target = read_target(request.query.get("to", ""), service.dialer.plan)
            service.dialer.check(target)
        except DialRefused as exc:
            return _html(message_page("Cannot call", str(exc), error=True), exc.status)
        party = service.board.name_of(target.e164)
        return _html(dial_page(target, person.extensions, session.csrf, party))

    async def dial(request: web.Request) -> web.Response:
        who = signed_in(request)
        form = await request.post()
        if who is None:
            return _html(message_page("Sign in first", "Sign in to call from this page.", error=True), 401)
        session, person = who
        if await forged(request, session, str(form.get("csrf", ""))):
            return _html(
                message_page("Refused", "This request did not come from the calls page.", error=True), 403
            )
        extension = str(form.get("extension", ""))
        if extension not in person.extensions:
            log.warning("screen: %s asked to dial from extension %r, not theirs", person.name, extension)
            return _html(
                message_page("Refused", "You can call only from your own extension.", error=True), 403
            )
        try:
            target = read_target(str(form.get("to", "")), service.dialer.plan)
            await service.dialer.dial(session.username, extension, target)
        except DialRefused as exc:
            return _html(message_page("Cannot call", str(exc), error=True), exc.status)
        text = f"Your phone ({extension}) rings now; pick it up to call {target.readable}."
        return _html(message_page("Calling", text))

    return [
        web.get("/calls/app.css", app_css),
        web.get("/calls/app.js", app_js),
        web.get("/calls/login", login_form),
        web.post("/calls/login", login),
        web.post("/calls/logout", logout),
        web.get("/calls/events", events),
        web.get("/calls/dial", dial_form),
        web.post("/calls/dial", dial),
        web.get("/calls", board),
        web.get(r"/calls/{linkedid:[0-9]+\.[0-9]+}", board),
    ]


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def _compare(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


async def _send(resp: web.StreamResponse, message: object) -> None:
    await resp.write(f"data: {json.dumps(message, separators=(',', ':'))}\n\n".encode())
