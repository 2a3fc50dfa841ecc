"""The ``/api/v1/{module}/{function}.php`` request pipeline, in ITFlow's order (docs/itflow-api.md §2.2):

1. ``Content-Type: application/json`` on every answer (even the 401/405 without JSON);
2. the body is parsed as JSON and *replaces* POST (any method; form bodies give no POST data);
3. a method other than GET/POST: 405 with PHP's ``var_dump`` of the method;
4. key from the body (wins) or the query; neither: 401 with an empty body;
5. key lookup (tags stripped, trimmed, case-insensitive, unexpired): else 401 JSON + a ``logs`` row;
6. ``limit``/``offset`` (query first, then body; intval; default 50/0);
7. RBAC (HEAD only): 403 texts;
8. the endpoint's method check: 405 JSON;
9. the endpoint; an SQL error is HTTP 500 with an empty body (PHP >= 8.1 mysqli exceptions).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from itflow_sim.auth import MODULE_OF, KeyContext, find_key, required_level
from itflow_sim.call import Call, PhpFatal
from itflow_sim.data import Database
from itflow_sim.envelope import (
    CREATE_FAILED,
    DELETE_FAILED,
    GET_ONLY,
    NO_RESOURCE,
    POST_ONLY,
    RBAC_INACTIVE,
    RBAC_LEVEL,
    RBAC_TARGET,
    RBAC_UNBOUND,
    RBAC_UNMAPPED,
    UPDATE_FAILED,
    Reply,
    SqlError,
    message,
)
from itflow_sim.php import intval
from itflow_sim.profiles import Profile, Quirks
from itflow_sim.reads import run_read
from itflow_sim.writes import WRITES

__all__ = ["V1Api", "parse_body"]

_GET_FUNCTIONS = ("read", "time")


def _reject_constant(name: str) -> object:
    raise ValueError(name)  # PHP's json_decode has no NaN/Infinity


def parse_body(body: bytes) -> dict[str, object]:
    """``json_decode(file_get_contents('php://input'), true)`` as the new ``$_POST``."""
    if not body:
        return {}
    try:
        decoded = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        return {}
    if isinstance(decoded, dict):
        return decoded
    if isinstance(decoded, list):
        return {str(i): v for i, v in enumerate(decoded)}
    return {}


def _paging(query: Mapping[str, str], post: Mapping[str, object], name: str, default: int) -> int:
    """``isset($_GET[x])`` first, then ``isset($_POST[x])`` (a JSON null is not set), through intval."""
    if name in query:
        return intval(query[name])
    value = post.get(name)
    return default if value is None else intval(value)


class V1Api:
    def __init__(self, db: Database, profile: Profile, quirks: Quirks) -> None:
        self.db, self.profile, self.quirks = db, profile, quirks

    def handle(
        self,
        method: str,
        module: str,
        function: str,
        query: Mapping[str, str],
        body: bytes,
        *,
        path: str,
        ip: str = "127.0.0.1",
        user_agent: str = "",
    ) -> Reply:
        post = parse_body(body)
        if method not in ("GET", "POST"):
            dump = f'string({len(method.encode())}) "{method}"\n'.encode()
            return Reply(405, dump)
        raw_key = post.get("api_key")
        if raw_key is None:
            raw_key = query.get("api_key")
        if raw_key is None:
            return Reply(401, b"")
        key_row = find_key(self.db, raw_key if isinstance(raw_key, str) else json.dumps(raw_key))
        if key_row is None:
            self.db.log(
                "API",
                "Failed",
                f"Incorrect or expired key (endpoint: {path})",
                log_ip=ip,
                log_user_agent=user_agent,
            )
            return message(self.profile.wrong_key_message, 401)
        ctx = KeyContext.load(self.db, key_row)
        limit = _paging(query, post, "limit", 50)
        offset = _paging(query, post, "offset", 0)
        call = Call(
            self.db,
            self.profile,
            self.quirks,
            ctx,
            module,
            function,
            dict(query),
            post,
            limit,
            offset,
            path=path,
            ip=ip,
            user_agent=user_agent,
        )
        if self.profile.rbac:
            denied = self._rbac(call)
            if denied is not None:
                return denied
        wants = "GET" if function in _GET_FUNCTIONS else "POST"
        if method != wants:
            return message(GET_ONLY if wants == "GET" else POST_ONLY, 405)
        try:
            if wants == "GET":
                return run_read(call)
            handler = WRITES.get(f"{module}/{function}")
            if handler is None:  # a file with no behaviour here (custom/readme.php): prints nothing
                return Reply(200, b"")
            return handler(call)
        except PhpFatal:
            return Reply(500, b"")
        except SqlError:
            if self.quirks.mysqli_exceptions:
                return Reply(500, b"")
            # PHP 7: the failed statement is silent and the endpoint reports "nothing found/done".
            fallback = {
                "read": NO_RESOURCE,
                "time": NO_RESOURCE,
                "delete": DELETE_FAILED,
                "create": CREATE_FAILED,
            }.get(function, UPDATE_FAILED)
            return message(fallback)

    def _rbac(self, call: Call) -> Reply | None:
        ctx = call.key
        if (ctx.key["api_key_user_id"] or "0") == "0":
            return message(RBAC_UNBOUND, 403)
        if not ctx.user_valid:
            return message(RBAC_INACTIVE, 403)
        module = MODULE_OF.get(call.module)
        if module is None:
            return message(RBAC_UNMAPPED, 403)
        if ctx.level(module) < required_level(call.function):
            return message(RBAC_LEVEL, 403)
        if call.function in ("create", "update", "delete"):
            raw = call.post.get("client_id")
            target = intval(raw) if raw is not None else intval(call.get.get("client_id", 0))
            if not ctx.may_write_client(target):
                return message(RBAC_TARGET, 403)
        return None
