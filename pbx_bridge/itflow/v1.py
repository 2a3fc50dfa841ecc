"""ITFlow API v1 client (``/api/v1/{module}/{function}.php``), async over one pooled httpx client.

What real servers do, and how this client reads it (docs/itflow-api.md §2, §3 and §6):

* The key travels in the JSON body, also on GET (ITFlow parses a GET's body too), so it never appears
  in a URL, a web-server log or one of our messages. Read filters go in the query string.
* ``success`` is the string ``"True"``/``"False"``. A read's ``"False"`` + ``"No resource..."`` is an
  empty result; ``"True"`` without ``data`` (v26.3 unscoped endpoints, docs/itflow-api.md §6.1) is no
  rows too.
* Row values are strings or null; null is given as ``""`` (ITFlow itself mixes the two,
  docs/itflow-api.md §6.5).
  The numeric duplicate keys of rows before v26.02 are dropped. ``count`` is a string on creates.
* 401 with an empty body = no key seen; 401 JSON = key rejected; 403 RBAC texts are told apart; 405;
  500 with an empty body; an empty 200 body = a value ITFlow could not encode (invalid UTF-8); the web
  server's 404 page = the endpoint does not exist in this ITFlow version.
* Reads retry transport failures with bounded backoff; writes are never repeated blindly.

Every endpoint has a typed method named ``{module}_{function}`` (in :mod:`.endpoints`); ``call`` reaches
any endpoint, including site-specific ones.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Mapping

import httpx

from pbx_bridge.itflow.endpoints import EndpointMethods, method_for
from pbx_bridge.itflow.errors import (
    AuthError,
    MalformedResponse,
    MethodNotAllowed,
    NotAvailable,
    PermissionDenied,
    RequestRejected,
    ServerError,
    WriteFailed,
    redact,
)
from pbx_bridge.itflow.response import Json, Param, V1Response
from pbx_bridge.itflow.transport import ApiClient, send_with_retries

__all__ = ["Param", "V1Client", "V1Response"]

log = logging.getLogger("pbx_bridge.itflow.v1")

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Parameters that are secrets: they go only in the JSON body and are never logged.
_SECRET_PARAMS = frozenset({"api_key", "api_key_decrypt_password"})
_NO_RESOURCE = "No resource"
_MAX_PAGES = 100_000  # a hard bound for iter_rows (5 million rows at the default page size)

_RBAC_REASONS = (
    (
        "not tied to a user",
        PermissionDenied.REASON_NO_USER,
        "the key predates v26.08 (the upgrade deleted all keys): create a new key tied to an agent user",
    ),
    (
        "inactive, archived, or invalid",
        PermissionDenied.REASON_INACTIVE_USER,
        "the key's user is disabled, archived or not an agent: reactivate it, or tie a new key to an "
        "active agent",
    ),
    (
        "not mapped to a permission module",
        PermissionDenied.REASON_UNMAPPED,
        "ITFlow maps no permission module for this resource (custom endpoints are always denied)",
    ),
    (
        "access to the target client",
        PermissionDenied.REASON_CLIENT_ACCESS,
        "the key's user may not write for this client_id (restricted users cannot write client 0 records): "
        "allow the client for the user or use an unrestricted user",
    ),
    (
        "does not have permission for this action",
        PermissionDenied.REASON_NO_PERMISSION,
        "the key's user role lacks the level this needs (pbx-bridge: client read, sales read, support "
        "write): give the user the Technician role, or an admin role",
    ),
)


def _clean_row(row: Mapping[str, Json]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in row.items():
        if key.isdigit():  # pre-v26.02 numeric duplicate ("0":"12","contact_id":"12",...)
            continue
        out[key] = (
            ""
            if value is None
            else value
            if isinstance(value, str)
            else json.dumps(value)
            if isinstance(value, (dict, list))
            else str(value)
        )
    return out


def _undecodable(exc: MalformedResponse) -> bool:
    return exc.status == 200 and exc.message.startswith("empty answer")


def _int(value: Json) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _decode_json(body: bytes) -> Json:
    text = body.decode("utf-8")
    try:
        data: Json = json.loads(text)
        return data
    except json.JSONDecodeError:
        # display_errors=On prints PHP warnings before the JSON: read from the envelope's start.
        start = text.find('{"success"')
        if start > 0:
            envelope: Json = json.loads(text[start:])
            return envelope
        raise


class V1Client(ApiClient, EndpointMethods):
    """Client for one ITFlow's v1 API. Use as ``async with V1Client(url, key) as api: ...``."""

    # ------------------------------------------------------------------ requests

    async def call(
        self, module: str, function: str, *, method: str | None = None, **params: Param
    ) -> V1Response:
        """Call ``{module}/{function}.php``. ``method`` defaults to what the endpoint wants (GET for
        ``read`` and ``technicians/time``, POST otherwise). None-valued params are not sent."""
        return await self.request(module, function, params, method=method)

    async def request(
        self, module: str, function: str, params: Mapping[str, Param], *, method: str | None = None
    ) -> V1Response:
        """:meth:`call` with the parameters as one mapping (a parameter may then be named ``method``)."""
        if not (_NAME.match(module) and _NAME.match(function)):
            raise ValueError(f"not an ITFlow module/function name: {module!r}/{function!r}")
        method = (method or method_for(module, function)).upper()
        endpoint = f"{module}/{function}"
        sent = {k: v for k, v in params.items() if v is not None}
        body: dict[str, Param] = {"api_key": self._key}
        query: dict[str, str] = {}
        for k, v in sent.items():
            value = int(v) if isinstance(v, bool) else v
            if method == "GET" and k not in _SECRET_PARAMS:
                query[k] = str(value)
            else:
                body[k] = value
        content = json.dumps(body).encode()
        url = f"/api/v1/{module}/{function}.php"
        started = time.monotonic()

        def send() -> Awaitable[httpx.Response]:
            return self._http.request(
                method, url, params=query, content=content, headers={"Content-Type": "application/json"}
            )

        response = await send_with_retries(
            send,
            endpoint=endpoint,
            idempotent=method == "GET",
            policy=self._retry,
            secret=self._key,
            timeout_s=self._timeout,
        )
        result = self._interpret(response, endpoint, method)
        log.debug(
            "%s %s [%s] -> HTTP %d, %d row(s), %.3f s",
            method,
            endpoint,
            ",".join(sorted(k for k in sent if k not in _SECRET_PARAMS)),
            response.status_code,
            len(result.rows),
            time.monotonic() - started,
        )
        return result

    def _interpret(self, response: httpx.Response, endpoint: str, method: str) -> V1Response:
        status, body = response.status_code, response.content
        key = self._key

        def server_text() -> str:
            try:
                data = _decode_json(body)
                return redact(str(data.get("message", "")), key) if isinstance(data, dict) else ""
            except (ValueError, UnicodeDecodeError):
                return ""

        if status == 401:
            if not body.strip():
                raise AuthError(
                    "ITFlow saw no API key (401 with an empty body). pbx-bridge sends it in the JSON body; "
                    "a proxy that drops the body of GET requests would cause this.",
                    endpoint=endpoint,
                    status=401,
                )
            raise AuthError(
                "the API key was rejected (invalid or expired). Create a key in ITFlow (Admin > API Keys; "
                "since v26.08 a key is tied to an agent user and the upgrade deleted older keys) and set "
                "itflow.api_key.",
                endpoint=endpoint,
                status=401,
                server_message=server_text(),
            )
        if status == 403:
            text = server_text()
            for needle, reason, advice in _RBAC_REASONS:
                if needle in text:
                    raise PermissionDenied(
                        f"denied: {advice}.",
                        reason=reason,
                        endpoint=endpoint,
                        status=403,
                        server_message=text,
                    )
            raise PermissionDenied(
                f"denied (HTTP 403: {text or 'no message'}).",
                endpoint=endpoint,
                status=403,
                server_message=text,
            )
        if status == 404:
            raise NotAvailable(
                "this ITFlow version has no such endpoint (the web server answered 404). Check the ITFlow "
                "version, or that itflow.url is the ITFlow base URL.",
                endpoint=endpoint,
                status=404,
            )
        if status == 405:
            text = server_text() or redact(body[:80].decode("utf-8", "replace").strip(), key)
            raise MethodNotAllowed(
                f"{method} is not accepted here ({text}).", endpoint=endpoint, status=405, server_message=text
            )
        if status == 400:
            text = server_text()
            raise RequestRejected(
                f"ITFlow refused the parameters: {text or 'HTTP 400'}",
                endpoint=endpoint,
                status=400,
                server_message=text,
            )
        if status >= 500:
            raise ServerError(
                f"ITFlow failed with HTTP {status} (a PHP or SQL error; its PHP error log has the cause). "
                "Known triggers: a negative limit/offset, an overlong value, clients/update without "
                "client_is_lead, software/read by software_name.",
                endpoint=endpoint,
                status=status,
            )
        if status != 200:
            where = response.headers.get("location", "")
            hint = f" to {redact(where, key)}" if where else ""
            raise MalformedResponse(
                f"unexpected HTTP {status}{hint}; is itflow.url the ITFlow base URL?",
                endpoint=endpoint,
                status=status,
            )
        if not body.strip():
            raise MalformedResponse(
                "empty answer: ITFlow could not encode a value of the result as JSON (text that is not "
                "valid UTF-8 in the database). Fix that record in ITFlow.",
                endpoint=endpoint,
                status=200,
            )
        try:
            data = _decode_json(body)
        except (ValueError, UnicodeDecodeError):
            raise MalformedResponse(
                "the answer is not JSON; is itflow.url the ITFlow base URL?", endpoint=endpoint, status=200
            ) from None
        if not isinstance(data, dict) or "success" not in data:
            raise MalformedResponse(
                "the answer is JSON but not an ITFlow envelope.", endpoint=endpoint, status=200
            )
        ok = str(data["success"]).lower() == "true"
        message = redact(str(data.get("message") or ""), key)
        if not ok:
            if message.startswith(_NO_RESOURCE):
                return V1Response(rows=[], count=0, raw=data, success=False, message=message)
            if method == "GET":
                raise RequestRejected(
                    f"ITFlow refused the request: {message}",
                    endpoint=endpoint,
                    status=200,
                    server_message=message,
                )
            raise WriteFailed(
                f"nothing was written: {message or 'no message'}",
                endpoint=endpoint,
                status=200,
                server_message=message,
            )
        raw_rows = data.get("data")
        if raw_rows is None:
            if method == "GET":
                # v26.3 unscoped reads: "True" + a stale count but no data (docs/itflow-api.md §6.1): no rows.
                return V1Response(rows=[], count=0, raw=data, success=True, message=message)
            # update/archive/resolve/delete: {"success":"True","count":<affected rows>}
            return V1Response(
                rows=[], count=_int(data.get("count")) or 0, raw=data, success=True, message=message
            )
        objects = [r for r in raw_rows if isinstance(r, dict)] if isinstance(raw_rows, list) else []
        if not isinstance(raw_rows, list) or len(objects) != len(raw_rows):
            raise MalformedResponse("'data' is not a list of rows.", endpoint=endpoint, status=200)
        rows = [_clean_row(r) for r in objects]
        count = _int(data.get("count"))
        return V1Response(
            rows=rows, count=len(rows) if count is None else count, raw=data, success=True, message=message
        )

    async def iter_rows(
        self,
        module: str,
        function: str = "read",
        *,
        page_size: int = 200,
        skip_undecodable: bool = True,
        **params: Param,
    ) -> AsyncIterator[dict[str, str]]:
        """Every row of a listing, page by page through ``limit``/``offset``.

        With ``skip_undecodable`` a page ITFlow cannot encode (an empty 200 body: one row holds invalid
        UTF-8) is re-read row by row and only the broken row is skipped, with a warning.
        """
        async for page in self._pages(module, function, page_size, skip_undecodable, params):
            for row in page:
                yield row

    async def iter_pages(
        self,
        module: str,
        function: str = "read",
        *,
        page_size: int = 200,
        skip_undecodable: bool = True,
        **params: Param,
    ) -> AsyncIterator[list[dict[str, str]]]:
        """The rows of a listing one page (a list) at a time, as :meth:`iter_rows` reads them: a caller
        can turn each page into its own objects and drop the rows before the next page arrives."""
        async for page in self._pages(module, function, page_size, skip_undecodable, params):
            yield page

    async def _pages(
        self, module: str, function: str, page_size: int, skip_undecodable: bool, params: dict[str, Param]
    ) -> AsyncIterator[list[dict[str, str]]]:
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        offset = int(params.pop("offset", 0) or 0)
        params.pop("limit", None)
        previous_first: dict[str, str] | None = None
        for _ in range(_MAX_PAGES):
            try:
                page = (
                    await self.request(module, function, {"limit": page_size, "offset": offset, **params})
                ).rows
                seen = len(page)
            except MalformedResponse as exc:
                if not (skip_undecodable and _undecodable(exc)):
                    raise
                page, seen = await self._rows_one_by_one(module, function, offset, page_size, params)
            if page and previous_first is not None and page[0] == previous_first:
                raise MalformedResponse(
                    "the server returned the same page twice (offset ignored?).",
                    endpoint=f"{module}/{function}",
                )
            if page:
                yield page
            if seen < page_size:
                return
            previous_first = page[0] if page else None
            offset += page_size
        raise MalformedResponse(f"more than {_MAX_PAGES} pages; stopped.", endpoint=f"{module}/{function}")

    async def _rows_one_by_one(
        self, module: str, function: str, offset: int, page_size: int, params: dict[str, Param]
    ) -> tuple[list[dict[str, str]], int]:
        """Re-read a page that could not be encoded one row at a time: (good rows, rows tried)."""
        rows: list[dict[str, str]] = []
        tried = 0
        for i in range(page_size):
            try:
                one = {"limit": 1, "offset": offset + i, **params}
                got = (await self.request(module, function, one)).rows
            except MalformedResponse as exc:
                if not _undecodable(exc):
                    raise
                log.warning(
                    "ITFlow %s/%s: skipped the row at offset %d: it holds text that is not "
                    "valid UTF-8 (fix that record in ITFlow)",
                    module,
                    function,
                    offset + i,
                )
                tried += 1
                continue
            if not got:
                break
            rows.extend(got)
            tried += 1
        return rows, tried

    async def read_all(
        self, module: str, function: str = "read", *, page_size: int = 200, **params: Param
    ) -> list[dict[str, str]]:
        """All rows of a listing as a list (see :meth:`iter_rows`)."""
        return [row async for page in self._pages(module, function, page_size, True, params) for row in page]
