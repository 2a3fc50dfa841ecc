"""The calls page's HTML: every value interpolated here goes through ``html.escape`` (a name from ITFlow
or the config cannot become markup); the live part is drawn by the script (``assets.py``)."""

from __future__ import annotations

from html import escape

from pbx_bridge.screen.dial import Target

__all__ = ["board_page", "dial_page", "login_page", "message_page"]

_NOT_SECURE = (
    '<div id="insecure" class="notice error hidden">This page is not in a secure context (plain HTTP on '
    "the network): the browser gives it neither desktop notifications nor the tel: link handler. "
    "Open it over HTTPS (docs/screen.md).</div>"
)


def _shell(title: str, body: str, *, attrs: str = "", script: bool = False) -> str:
    js = '<script src="/calls/app.js" defer></script>' if script else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f'<link rel="stylesheet" href="/calls/app.css">{js}</head>'
        f"<body{attrs}>{body}</body></html>\n"
    )


def _header(name: str, extensions: tuple[str, ...], csrf: str) -> str:
    exts = ", ".join(extensions)
    return (
        "<header><h1>Calls</h1>"
        '<button type="button" id="allow-notifications">Allow notifications</button>'
        '<button type="button" id="register-tel">Dial tel: links from here</button>'
        f'<span class="who">{escape(name)} ({escape(exts)})</span>'
        '<form method="post" action="/calls/logout">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<button type="submit">Sign out</button></form></header>'
    )


def board_page(name: str, extensions: tuple[str, ...], csrf: str, focus: str = "") -> str:
    attrs = (
        f' data-extensions="{escape(",".join(extensions))}" data-focus="{escape(focus)}"'
        f' data-csrf="{escape(csrf)}"'
    )
    gone = (
        '<div id="gone" class="notice hidden">That call is no longer among the recent calls shown here.</div>'
        if focus
        else ""
    )
    body = f'{_header(name, extensions, csrf)}<main>{_NOT_SECURE}{gone}<section id="calls"></section></main>'
    return _shell("Calls", body, attrs=attrs, script=True)


def login_page(csrf: str, next_url: str, error: str = "") -> str:
    failed = f'<div class="notice error" id="login-error">{escape(error)}</div>' if error else ""
    body = (
        "<header><h1>Calls: sign in</h1></header><main>"
        f"{failed}"
        '<form class="login" method="post" action="/calls/login">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<input type="hidden" name="next" value="{escape(next_url)}">'
        '<label for="username">User name</label>'
        '<input id="username" name="username" autocomplete="username" required>'
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" autocomplete="current-password" required>'
        '<p><button class="primary" type="submit" id="sign-in">Sign in</button></p></form></main>'
    )
    return _shell("Sign in", body)


def dial_page(target: Target, extensions: tuple[str, ...], csrf: str, party: str = "") -> str:
    choices = "".join(
        f'<label><input type="radio" name="extension" value="{escape(e)}"{" checked" if i == 0 else ""}> '
        f"from my extension {escape(e)}</label>"
        for i, e in enumerate(extensions)
    )
    ext_note = (
        f"<p>The link names extension {escape(target.extension)}: ask for it when answered.</p>"
        if target.extension
        else ""
    )
    body = (
        "<header><h1>Call this number?</h1></header><main>"
        '<form class="dial" method="post" action="/calls/dial">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<input type="hidden" name="to" value="{escape(target.raw)}">'
        f'<p class="target"><strong id="dial-readable">{escape(target.readable)}</strong> '
        f'(dials <span id="dial-digits">{escape(target.digits)}</span>)</p>'
        f'<p id="dial-party">{escape(party) if party else "Not in ITFlow&#39;s directory"}</p>{ext_note}'
        f"{choices}"
        "<p>Your phone rings first; when you pick it up, the number is dialled.</p>"
        '<p><button class="primary" type="submit" id="dial-confirm">Call</button> '
        '<a class="button" href="/calls">Cancel</a></p></form></main>'
    )
    return _shell("Call?", body)


def message_page(title: str, text: str, *, error: bool = False) -> str:
    cls = "notice error" if error else "notice"
    body = (
        f"<header><h1>{escape(title)}</h1></header><main>"
        f'<div class="{cls}" id="message">{escape(text)}</div>'
        '<p><a class="button" href="/calls">Back to the calls</a></p></main>'
    )
    return _shell(title, body)
