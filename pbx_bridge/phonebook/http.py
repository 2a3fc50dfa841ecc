"""The phonebook's HTTP routes, mounted on the daemon's HTTP face (which applies the IP allow-list and
basic auth middleware).

* ``GET|POST /phonebook/<format>[?page=N]``: the published book (Snom remote directories POST). GET and
  HEAD answer ``If-None-Match`` / ``If-Modified-Since`` with 304; every answer carries ``ETag`` and
  ``Last-Modified``. POST always gets the body (conditional POSTs are not a cache revalidation).
* ``GET|POST /phonebook/<format>/<file>``: the same book under the file name the phone appends
  (Grandstream ``phonebook.xml``, Polycom ``<MAC>-directory.xml``; see :mod:`.fetch`).
* Paged formats carry ``Link`` headers (``rel="next"``, ``"prev"``, ``"first"``, ``"last"``) on every page.
* A Cisco phone whose ``Accept-Charset`` refuses UTF-8 gets ISO-8859-1 (:mod:`.charset`).
* ``GET /phonebook/yealink?search=<typed>`` (or ``term=``): a Yealink ``#SEARCH`` search (:mod:`.search`).
* ``GET /phonebook/gigaset?command=get_list&...``: a Gigaset online-directory search
  (:mod:`.formats.gigaset_online`), with ``phonebook.gigaset_online_directory`` on.
* ``GET /phonebook``: one line per published format: id, URL, media type.
* ``POST /phonebook/sync[?force=1]``: a manual pull + publish (202; the work runs in the background).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime

from aiohttp import web

from pbx_bridge.phonebook.charset import LATIN1, to_latin1, wanted_charset
from pbx_bridge.phonebook.fetch import page_of_file
from pbx_bridge.phonebook.formats import FORMATS, gigaset_online
from pbx_bridge.phonebook.formats.base import XML_MEDIA, RenderContext
from pbx_bridge.phonebook.publisher import Output, etag_of
from pbx_bridge.phonebook.search import YEALINK_KEYS, yealink_search
from pbx_bridge.phonebook.service import PhonebookService, public_url_of

__all__ = ["phonebook_routes", "phonebook_sync_routes"]

log = logging.getLogger("pbx_bridge.phonebook")

_MAX_AGENTS = 256
_RETRY = {"Retry-After": "60"}


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    bare = etag.strip('"')
    for tag in header.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag.strip('"') == bare:
            return True
    return False


def _not_modified_since(header: str, last_modified: datetime) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since is None or since.tzinfo is None:
        return False
    return last_modified <= since


def _yealink_typed(request: web.Request) -> str:
    """What a Yealink user typed (``?search=`` or ``?term=`` where the URL held ``#SEARCH``); "" when
    nothing was typed or the firmware sent the placeholder itself: then the whole book is the answer."""
    for key in YEALINK_KEYS:
        typed = request.query.get(key, "").strip()
        if typed and typed != "#SEARCH":
            return typed
    return ""


def _same(etag: str) -> str:
    return etag


def _latin1_tag(etag: str) -> str:
    return etag[:-1] + '-latin1"'


def phonebook_sync_routes(service: PhonebookService) -> list[web.RouteDef]:
    """``POST /phonebook/sync``: an operator's action, kept out of the phones' route group."""

    async def sync(request: web.Request) -> web.Response:
        force = request.query.get("force", "") in ("1", "true", "yes")
        service.trigger(force=force)
        return web.json_response({"status": "accepted", "force": force}, status=202)

    return [web.post("/phonebook/sync", sync)]


def phonebook_routes(service: PhonebookService, *, with_sync: bool = True) -> list[web.RouteDef]:
    """Route definitions for :class:`~pbx_bridge.http.HttpFace`: the books (and, unless ``with_sync``
    is False, :func:`phonebook_sync_routes`)."""
    publisher = service.publisher
    seen_agents: set[str] = set()

    def note_agent(request: web.Request, format_id: str) -> None:
        # Phones rarely document their caching; log each model's request headers once (docs/phonebook.md).
        agent = request.headers.get("User-Agent", "-")
        if agent in seen_agents or len(seen_agents) >= _MAX_AGENTS:
            return
        seen_agents.add(agent)
        log.info(
            "phonebook: first %s %s from %r (If-None-Match: %s, If-Modified-Since: %s, Accept-Encoding: %s)",
            request.method,
            format_id,
            agent,
            request.headers.get("If-None-Match", "-"),
            request.headers.get("If-Modified-Since", "-"),
            request.headers.get("Accept-Encoding", "-"),
        )

    async def index(request: web.Request) -> web.Response:
        base = public_url_of(service.http)
        lines = [f"{f}\t{base}/phonebook/{f}\t{FORMATS[f].media_type}" for f in service.cfg.formats]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    async def serve(request: web.Request) -> web.StreamResponse:
        format_id = request.match_info["format"]
        if format_id not in FORMATS:
            return web.Response(
                status=404, text=f"unknown phonebook format {format_id!r}; known: {', '.join(FORMATS)}\n"
            )
        if format_id not in service.cfg.formats:
            return web.Response(
                status=404, text=f"format {format_id!r} is not published (see phonebook.formats)\n"
            )
        if format_id == "gigaset" and request.query.get("command") == "get_list":
            return await online_search(request)
        out = publisher.output(format_id)
        if out is None or publisher.published_at is None:
            return web.Response(status=503, text="no phonebook published yet\n", headers=_RETRY)
        typed = _yealink_typed(request) if format_id == "yealink" else ""
        if typed:
            return await yealink_search_answer(request, out, typed)
        tail = request.match_info.get("file")
        default_page = 1 if tail is None else page_of_file(out.spec, tail, out.page_count)
        if default_page is None:
            return web.Response(
                status=404, text=f"{format_id} has no file {tail!r}; it is {out.spec.file_name}\n"
            )
        try:
            page = int(request.query.get("page", str(default_page)))
        except ValueError:
            return web.Response(status=400, text="page must be a number\n")
        if not 1 <= page <= out.page_count:
            return web.Response(status=404, text=f"no page {page} (1..{out.page_count})\n")
        note_agent(request, format_id)
        file_backed = out.pages is None
        # big files are read and hashed off the event loop (a 100k book is tens of MB)
        etag = await asyncio.to_thread(out.etag, page) if file_backed else out.etag(page)
        charset = (
            wanted_charset(request.headers.get("Accept-Charset")) if out.spec.charset_negotiable else "utf-8"
        )
        tagged = _latin1_tag if charset == LATIN1 else _same  # another encoding: another entity tag
        etag = tagged(etag)
        headers = {
            "ETag": etag,
            "Last-Modified": format_datetime(publisher.published_at, usegmt=True),
            "Cache-Control": "no-cache",
        }
        if out.spec.charset_negotiable:
            headers["Vary"] = "Accept-Charset"
        if out.page_count > 1:
            headers["Link"] = page_links(format_id, page, out.page_count)
        if request.method in ("GET", "HEAD"):
            inm = request.headers.get("If-None-Match")
            ims = request.headers.get("If-Modified-Since")
            if (inm is not None and _etag_matches(inm, etag)) or (
                inm is None and ims is not None and _not_modified_since(ims, publisher.published_at)
            ):
                return web.Response(status=304, headers=headers)
        try:
            body = await asyncio.to_thread(out.page, page) if file_backed else out.page(page)
        except OSError as exc:
            log.warning("phonebook: cannot read the published %s file: %s", format_id, exc)
            return web.Response(status=503, text="phonebook file unavailable\n", headers=_RETRY)
        if file_backed:
            headers["ETag"] = tagged(etag_of(body))  # the bytes actually sent, even mid-publish
        headers["Content-Type"] = out.spec.media_type
        if charset == LATIN1:
            body = to_latin1(body)
            headers["Content-Type"] = "text/xml; charset=iso-8859-1"
        if not out.spec.xml:
            headers["Content-Disposition"] = f'inline; filename="{out.spec.file_name}"'
        return web.Response(body=body, headers=headers)

    async def online_search(request: web.Request) -> web.Response:
        if not service.cfg.gigaset_online_directory:
            return web.Response(
                status=404, text="the Gigaset online directory is off (phonebook.gigaset_online_directory)\n"
            )
        book = publisher.book
        if book is None:
            return web.Response(status=503, text="no phonebook published yet\n", headers=_RETRY)
        note_agent(request, "gigaset online directory")
        ctx = RenderContext(service.cfg, public_url=public_url_of(service.http))
        body = await asyncio.to_thread(gigaset_online.answer, book, ctx, request.query)
        return web.Response(body=body, headers={"Content-Type": XML_MEDIA, "Cache-Control": "no-store"})

    async def yealink_search_answer(request: web.Request, out: Output, typed: str) -> web.Response:
        note_agent(request, "yealink search")
        try:
            book = await asyncio.to_thread(out.page, 1) if out.pages is None else out.page(1)
        except OSError as exc:
            log.warning("phonebook: cannot read the published yealink file: %s", exc)
            return web.Response(status=503, text="phonebook file unavailable\n", headers=_RETRY)
        body = await asyncio.to_thread(yealink_search, book, typed)
        return web.Response(body=body, headers={"Content-Type": XML_MEDIA, "Cache-Control": "no-store"})

    def page_links(format_id: str, page: int, count: int) -> str:
        ctx = RenderContext(service.cfg, public_url=public_url_of(service.http))
        rels = [("first", 1), ("last", count)]
        if page > 1:
            rels.append(("prev", page - 1))
        if page < count:
            rels.append(("next", page + 1))
        return ", ".join(f'<{ctx.page_url(format_id, n)}>; rel="{rel}"' for rel, n in rels)

    return [
        web.get("/phonebook", index),
        *(phonebook_sync_routes(service) if with_sync else ()),
        web.get("/phonebook/{format}", serve),
        web.post("/phonebook/{format}", serve),
        web.get("/phonebook/{format}/{file:.+}", serve),
        web.post("/phonebook/{format}/{file:.+}", serve),
    ]
