"""HTTP caller-name lookup: ``GET /cid?number=N`` (plain text) for FreePBX, ``/cid.json``, ``/cid.agi``.

FreePBX's CallerID Lookup Sources (cidlookup, HTTP type) run ``Set(CALLERID(name)=${CURL(url)})``, so
**the whole body becomes the caller's name, whatever the HTTP status**: an error page becomes the name.
FreePBX 17 generates the URL as ``http://host:port//cid?number=...`` (a double slash: it strips the
path's leading slash, then uses the raw path), with ``+`` sent as ``%2B``; ``CURL()`` follows no
redirect. Hence:

* any run of slashes before ``cid`` (``/cid``, ``//cid``, ``///cid``) is the same route, answered directly;
* the plain answer is the name alone (no newline); on a miss, on any error (unknown path under the door,
  wrong method, refused client or password, internal error, a lookup slower than the guard) it is the
  *fallback*: the caller's number itself (what FreePBX would show anyway, made safe like a name), or an
  empty body with ``?miss=empty`` / ``callerid.http_miss: empty`` (Superfecta then asks its next source);
* ``?charset=ascii`` answers plain ASCII (accents folded, quotes as backticks) for Superfecta, whose own
  filter mangles every non-ASCII byte and deletes quotes;
* names pass the FreePBX-safe rule (``callerid.safe_names``, on by default), see docs/callerid.md, once,
  in ``door_lookup`` and *after* the ASCII fold (folding makes ``(`` of a fullwidth ``（``).

:func:`cid_guard` is the HTTP face's outermost middleware and enforces the fallback for every answer to a
caller-name request, including the 401/403 of the access middleware and aiohttp's own 404/405 texts; for
any other path it replaces aiohttp's stock error texts (``404: Not Found``...) by an empty body.

The JSON variant carries the ``ITFLOW_*`` contract values. ``/cid.agi`` carries the same values as
``KEY=value`` lines (values never contain a line break): what ``agi/itflow-cid`` asks, because parsing it
needs no ``json`` import, which would cost the per-call script ~8 ms of Python start-up.
"""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from pbx_bridge.agi.protocol import sanitize_value
from pbx_bridge.callerid.contract import contract_variables, live_flag
from pbx_bridge.callerid.route import CallerIdLookup, door_guard, door_lookup, door_text
from pbx_bridge.callerid.settings import CallerIdSettings
from pbx_bridge.directory.model import LookupResult

__all__ = ["cid_guard", "cid_routes", "fallback_name", "is_name_request"]

log = logging.getLogger(__name__)


_MAX_NUMBER_CHARS = 40  # a phone number with prefixes and punctuation; anything longer is not one
_NO_STORE = {"Cache-Control": "no-store"}
_DATA_DOORS = ("cid.json", "cid.agi")  # machine answers: their own error bodies stay
# Headers of an error answer that still mean something once its body is replaced.
_KEPT_HEADERS = ("WWW-Authenticate", "Allow")


def _number(request: web.Request) -> str:
    raw = request.query.get("number", "")
    if raw.startswith(" "):
        # A raw "+" is decoded as a space (form encoding): Superfecta puts "+1412..." into its URL as is.
        raw = "+" + raw.lstrip(" ")
    return sanitize_value(raw).strip()[:_MAX_NUMBER_CHARS]


def is_name_request(request: web.Request) -> bool:
    """True when the body of the answer may become a caller's name: the plain door under any run of
    slashes (and any path below it), or any request that carries ``number=`` outside the data doors."""
    tail = request.path.lstrip("/")
    if tail in _DATA_DOORS:
        return False
    return tail.startswith("cid") or "number" in request.query


def fallback_name(request: web.Request, settings: CallerIdSettings | None = None) -> str:
    """What a caller-name request answers when there is no name: the number, or "" (``miss=empty``)."""
    cfg = settings or CallerIdSettings()
    miss = request.query.get("miss", "").strip().lower()
    if (miss if miss in ("number", "empty") else cfg.http_miss) == "empty":
        return ""
    return door_text(_number(request), safe_names=cfg.safe_names, ascii=_wants_ascii(request))


def _wants_ascii(request: web.Request) -> bool:
    return request.query.get("charset", "").strip().lower() == "ascii"


def _text(body: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=body.encode("utf-8"),
        content_type="text/plain",
        charset="utf-8",
        headers={**_NO_STORE, **(headers or {})},
    )


def cid_routes(callerid: CallerIdLookup, settings: CallerIdSettings | None = None) -> list[web.RouteDef]:
    """Routes for the HTTP face (``settings``: the ``callerid`` section; None: its defaults)."""
    cfg = settings or CallerIdSettings()
    guard = door_guard(cfg)

    async def lookup(request: web.Request, number: str, *, ascii: bool = False) -> LookupResult:
        return await door_lookup(
            callerid,
            number,
            live=live_flag(request.query.get("live", "")),
            safe_names=cfg.safe_names,
            ascii=ascii,
            guard=guard,
        )

    async def plain(request: web.Request) -> web.Response:
        number = _number(request)
        if not number:
            # Nothing to look up: the fallback (an empty body), the status says why.
            return _text(fallback_name(request, cfg), status=400)
        result = await lookup(request, number, ascii=_wants_ascii(request))
        return _text((result.display if result.found else "") or fallback_name(request, cfg))

    async def as_json(request: web.Request) -> web.Response:
        number = _number(request)
        if not number:
            return web.json_response({"error": "give ?number=<caller number>"}, status=400, headers=_NO_STORE)
        result = await lookup(request, number)
        body = {
            "number": number,
            "canonical": result.number,
            "match": result.match.value,
            "name": result.display if result.found else "",
            "client_id": result.client_id or None,
            "client_name": result.client_name,
            "contact_id": result.contact_id or None,
            "source": result.source,
            "variables": contract_variables(result),
        }
        return web.json_response(body, headers=_NO_STORE, dumps=_dumps)

    async def as_lines(request: web.Request) -> web.Response:
        number = _number(request)
        if not number:
            return web.Response(status=400, body=b"", content_type="text/plain", headers=_NO_STORE)
        result = await lookup(request, number)
        lines = [f"{k}={sanitize_value(v)}" for k, v in contract_variables(result).items()]
        return _text("\n".join(lines))

    # "/{lead:/*}cid" matches /cid, //cid, ///cid ...: FreePBX 17 asks for //cid, and no redirect is
    # possible (Asterisk's CURL() does not follow one).
    return [
        web.get("/{lead:/*}cid", plain),
        web.get("/{lead:/*}cid.json", as_json),
        web.get("/{lead:/*}cid.agi", as_lines),
    ]


def cid_guard(settings: CallerIdSettings | None = None) -> Middleware:
    """The HTTP face's outermost middleware: no error text ever becomes a caller's name (module doc)."""
    cfg = settings or CallerIdSettings()

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        name_request = is_name_request(request)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            status, headers = exc.status, exc.headers
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("http: %s %s failed", request.method, request.path)
            status, headers = 500, None
        else:
            if not name_request or response.status < 400:
                return response
            status, headers = response.status, response.headers
        kept = {k: headers[k] for k in _KEPT_HEADERS if headers is not None and k in headers}
        return _text(fallback_name(request, cfg) if name_request else "", status=status, headers=kept)

    return guard


def _dumps(obj: object) -> str:
    # Non-ASCII as UTF-8, not \u escapes: smaller, and readable with curl.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
