"""Every error the ITFlow clients raise, one class per thing a caller does differently.

The hierarchy::

    ItflowError                      any failure talking to ITFlow (v1 or legacy api.php)
     ├── AuthError                   401 (or a legacy auth text): the key is missing, wrong or expired
     ├── PermissionDenied            403 from v1 RBAC (v26.08+); ``.reason`` tells the texts apart
     ├── MethodNotAllowed            405: wrong HTTP method for the endpoint
     ├── NotAvailable                the endpoint does not exist in this ITFlow version (404 HTML page)
     ├── RequestRejected             ITFlow refused the parameters (400, or a read's "False" that is not
     │                               "No resource", e.g. technicians/time with a bad month)
     ├── WriteFailed                 200 ``"success":"False"`` on create/update/delete/archive/resolve
     ├── ServerError                 5xx (PHP fatal error / SQL error: empty body with display_errors=Off)
     ├── MalformedResponse           an answer we cannot read (empty 200 body, not JSON, wrong shape)
     └── TransportError              no usable HTTP exchange (refused, reset, TLS, DNS, cut mid-answer)
          └── ItflowTimeout          no answer within the timeout

Every message says what happened and what a person can do about it. No message ever contains the API
key: the v1 key travels in the JSON body, the legacy key is added to the URL below the point where
httpx logs or builds error texts, and every text built here passes through :func:`redact`.
"""

from __future__ import annotations

from pbx_bridge.errors import PbxBridgeError

__all__ = [
    "AuthError",
    "ItflowError",
    "ItflowTimeout",
    "MalformedResponse",
    "MethodNotAllowed",
    "NotAvailable",
    "PermissionDenied",
    "RequestRejected",
    "ServerError",
    "TransportError",
    "WriteFailed",
    "redact",
]


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` (case-insensitively, as ITFlow compares) masked."""
    if not secret or not text:
        return text
    lowered, needle = text.lower(), secret.lower()
    out, start = [], 0
    while (i := lowered.find(needle, start)) >= 0:
        out.append(text[start:i])
        out.append("***")
        start = i + len(secret)
    out.append(text[start:])
    return "".join(out)


class ItflowError(PbxBridgeError):
    """Base of all ITFlow client errors.

    ``endpoint`` names what was called (``contacts/read`` or ``api.php?cid``, never a URL with the key),
    ``status`` is the HTTP status when there was one, ``server_message`` ITFlow's own text if it sent one.
    """

    def __init__(
        self, message: str, *, endpoint: str = "", status: int | None = None, server_message: str = ""
    ) -> None:
        self.message = message
        self.endpoint = endpoint
        self.status = status
        self.server_message = server_message
        prefix = f"ITFlow {endpoint}: " if endpoint else "ITFlow: "
        super().__init__(prefix + message)


class AuthError(ItflowError):
    """The key was not accepted (missing, wrong, expired, or deleted by the v26.08 upgrade)."""


class PermissionDenied(ItflowError):
    """RBAC said no (v26.08+). ``reason`` is one of the ``REASON_*`` kinds below."""

    REASON_NO_USER = "key-not-tied-to-user"
    REASON_INACTIVE_USER = "user-inactive"
    REASON_UNMAPPED = "resource-not-mapped"
    REASON_NO_PERMISSION = "role-lacks-permission"
    REASON_CLIENT_ACCESS = "client-not-allowed"
    REASON_OTHER = "other"

    def __init__(self, message: str, *, reason: str = REASON_OTHER, **kw: object) -> None:
        self.reason = reason
        super().__init__(message, **kw)  # type: ignore[arg-type]


class MethodNotAllowed(ItflowError):
    """405: the endpoint wants the other method (reads and technicians/time: GET, the rest: POST)."""


class NotAvailable(ItflowError):
    """The endpoint is missing in this ITFlow version (the web server's 404 page, or no legacy answer)."""


class RequestRejected(ItflowError):
    """ITFlow refused the request's parameters; resending the same request gives the same answer."""


class WriteFailed(ItflowError):
    """A write answered ``"success":"False"``: nothing was written (missing field, duplicate, bad id...)."""


class ServerError(ItflowError):
    """ITFlow failed internally (HTTP 5xx, usually a PHP/SQL error with an empty body)."""


class MalformedResponse(ItflowError):
    """The answer could not be understood (empty 200 body, not JSON, unexpected shape)."""


class TransportError(ItflowError):
    """No usable HTTP exchange. ``request_sent`` is False when the request provably never left us
    (connection refused), so even a write may be repeated; True or None means it may have arrived."""

    def __init__(self, message: str, *, request_sent: bool | None = None, **kw: object) -> None:
        self.request_sent = request_sent
        super().__init__(message, **kw)  # type: ignore[arg-type]


class ItflowTimeout(TransportError):
    """ITFlow did not answer within the timeout."""
