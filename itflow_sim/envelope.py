"""v1 response envelopes and fixed message texts, exactly as ITFlow's ``*_output.php`` prints them
(docs/itflow-api.md §2.2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from itflow_sim.data import Row
from itflow_sim.php import PhpEncodeError, json_encode

__all__ = [
    "APACHE_404",
    "CREATE_FAILED",
    "DELETE_FAILED",
    "GET_ONLY",
    "NO_RESOURCE",
    "POST_ONLY",
    "RBAC_INACTIVE",
    "RBAC_LEVEL",
    "RBAC_TARGET",
    "RBAC_UNBOUND",
    "RBAC_UNMAPPED",
    "UPDATE_FAILED",
    "Reply",
    "SqlError",
    "created",
    "json_reply",
    "message",
    "rows_reply",
]

NO_RESOURCE = "No resource (for this client and company) with the specified parameter(s)."
CREATE_FAILED = (
    "Auth success but insert query failed, ensure ALL required variables are provided (and aren't "
    "duplicates where applicable) and database schema is up-to-date. Turn on error logging and look for "
    "'undefined index'."
)
UPDATE_FAILED = (
    "Auth success but update query failed/returned no results. Ensure ALL required variables are provided "
    "and database schema is up-to-date. Most likely cause: non-existent module ID (i.e. bad contact "
    "ID/ticket ID/etc) or no rows changed."
)
DELETE_FAILED = (
    "Auth success but delete query failed. Ensure ALL required variables are provided and database schema is "
    "up-to-date. Most likely cause: asset/client/company ID mismatch."
)
GET_ONLY = "Can only send GET requests to this endpoint."
POST_ONLY = "Can only send POST requests to this endpoint."
RBAC_UNBOUND = "This API key is not tied to a user and is no longer valid. Please recreate it."
RBAC_INACTIVE = "The user linked to this API key is inactive, archived, or invalid."
RBAC_UNMAPPED = "This API resource is not mapped to a permission module."
RBAC_LEVEL = "The user linked to this API key does not have permission for this action."
RBAC_TARGET = "The user linked to this API key does not have access to the target client for this write."

# Apache 2.4's stock 404 page, as the web server answers for a PHP file that does not exist
# (docs/itflow-api.md §6.6).
APACHE_404 = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>404 Not Found</title>\n'
    "</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n<hr>\n"
    "<address>Apache/2.4.62 (Debian) Server at {host} Port {port}</address>\n</body></html>\n"
)

JSON = "application/json"


class SqlError(Exception):
    """The statement would fail in MariaDB (strict mode): HTTP 500 on PHP >= 8.1."""


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str | None = JSON
    headers: dict[str, str] = field(default_factory=dict)
    committed: bool = False  # state changed (drop_answer_after_commit cuts these)


def json_reply(obj: object, status: int = 200) -> Reply:
    try:
        return Reply(status, json_encode(obj))
    except PhpEncodeError:
        # json_encode returned false and PHP echoed nothing, still with HTTP 200.
        return Reply(status, b"")


def message(text: str, status: int = 200) -> Reply:
    return json_reply({"success": "False", "message": text}, status)


def _with_numeric_keys(row: Row) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for i, (k, v) in enumerate(row.items()):
        out[str(i)] = v
        out[k] = v
    return out


def rows_reply(rows: Sequence[Row], *, numeric_keys: bool) -> Reply:
    if not rows:
        return message(NO_RESOURCE)
    data = [_with_numeric_keys(r) if numeric_keys else dict(r) for r in rows]
    return json_reply({"success": "True", "count": len(data), "data": data})


def created(insert_id: int) -> Reply:
    reply = json_reply({"success": "True", "count": "1", "data": [{"insert_id": insert_id}]})
    reply.committed = True
    return reply


def changed(count: int, failure: str = UPDATE_FAILED) -> Reply:
    if count <= 0:
        return message(failure)
    reply = json_reply({"success": "True", "count": count})
    reply.committed = True
    return reply
