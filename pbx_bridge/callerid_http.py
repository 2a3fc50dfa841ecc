"""HTTP caller-name lookup: ``GET /cid?number=N`` (plain text) for FreePBX, ``/cid.json``, ``/cid.agi``.

FreePBX's CallerID Lookup Sources (cidlookup, HTTP type) run ``Set(CALLERID(name)=${CURL(url)})`` with
``[NUMBER]`` substituted in the URL, so **the whole body becomes the caller's name**: an empty body
blanks it, a trailing newline becomes part of it, an error page becomes the name. Hence the plain-text
answer is the name alone, no newline, and on no match (or any failure) the number itself, which is
what FreePBX would show anyway. With the source's "Cache results" on, FreePBX keeps every answer in
AstDB for ever: document "cache off" (docs/callerid.md).

The JSON variant carries the ``ITFLOW_*`` contract values. ``/cid.agi`` carries the same values as
``KEY=value`` lines (values never contain a line break): what ``agi/itflow-cid`` asks, because parsing it
needs no ``json`` import, which would cost the per-call script ~8 ms of Python start-up.
Both are mounted on the daemon's HTTP face (loopback by default, allow-list and optional basic auth
from its middleware).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from pbx_bridge.agi.cid import CallerIdLookup, contract_variables, live_flag
from pbx_bridge.agi.protocol import sanitize_value
from pbx_bridge.directory.model import LookupResult, MatchKind

__all__ = ["cid_routes"]

log = logging.getLogger(__name__)

_MAX_NUMBER_CHARS = 40    # a phone number with prefixes and punctuation; anything longer is not one
_NO_STORE = {"Cache-Control": "no-store"}


def _number(request: web.Request) -> str:
    return sanitize_value(request.query.get("number", "")).strip()[:_MAX_NUMBER_CHARS]


def cid_routes(callerid: CallerIdLookup, settings: Any = None) -> list[web.RouteDef]:
    """Routes for the HTTP face. ``settings`` is accepted for symmetry with other providers (unused)."""

    async def lookup(request: web.Request, number: str) -> LookupResult | None:
        if not number:
            return None
        try:
            return await callerid.lookup(number, live=live_flag(request.query.get("live", "")))
        except Exception:
            log.exception("caller-ID lookup failed; answering the number itself")
            return LookupResult(match=MatchKind.NONE, number="", source="none")

    async def plain(request: web.Request) -> web.Response:
        number = _number(request)
        result = await lookup(request, number)
        if result is None:
            # An empty body would blank the caller's name in FreePBX: still empty, but say why (status).
            return web.Response(status=400, body=b"", content_type="text/plain", charset="utf-8",
                                headers=_NO_STORE)
        name = result.display if result.found and result.display else number
        return web.Response(body=name.encode("utf-8"), content_type="text/plain", charset="utf-8",
                            headers=_NO_STORE)

    async def as_json(request: web.Request) -> web.Response:
        number = _number(request)
        result = await lookup(request, number)
        if result is None:
            return web.json_response({"error": "give ?number=<caller number>"}, status=400, headers=_NO_STORE)
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
        result = await lookup(request, _number(request))
        if result is None:
            return web.Response(status=400, body=b"", content_type="text/plain", headers=_NO_STORE)
        lines = [f"{k}={sanitize_value(v)}" for k, v in contract_variables(result).items()]
        return web.Response(body="\n".join(lines).encode("utf-8"), content_type="text/plain",
                            charset="utf-8", headers=_NO_STORE)

    return [web.get("/cid", plain), web.get("/cid.json", as_json), web.get("/cid.agi", as_lines)]


def _dumps(obj: object) -> str:
    # Non-ASCII as UTF-8, not \u escapes: smaller, and readable with curl.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
