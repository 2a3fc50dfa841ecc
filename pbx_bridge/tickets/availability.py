"""Can this ITFlow take tickets? Three answers, because "could not tell yet" is not "no".

* ``yes``: the v1 ``tickets/create`` is there and the key works;
* ``no``: ITFlow positively answered as an install without it (api.php accepted the key and the v1 file
  is absent, or a working v1 key on a v1 older than tickets/create, or ``itflow.api: legacy``);
* ``unknown``: anything else (a 503, the web server's 404 page everywhere, an HTML 200 page, broken
  JSON, a rejected key): calls are queued in the outbox and detection runs again with backoff.
"""

from __future__ import annotations

from typing import Literal

from pbx_bridge.itflow.capabilities import Capabilities
from pbx_bridge.itflow.diagnosis import explain

__all__ = ["Availability", "ticket_availability"]

Availability = tuple[Literal["yes", "no", "unknown"], str]

NO_TICKET_API = "this ITFlow has no ticket API"


def ticket_availability(caps: Capabilities | None) -> Availability:
    if caps is None:
        return "unknown", "ITFlow not detected yet"
    if caps.tickets == "v1":
        return "yes", ""
    if caps.forced == "legacy":
        return "no", f"{NO_TICKET_API} in use (itflow.api: legacy)"
    file_absent = caps.complete and caps.endpoints.get("tickets/create") is False
    if file_absent and caps.legacy_key_ok and not caps.v1_key_ok:
        return "no", f"{NO_TICKET_API} (legacy api.php only)"
    if file_absent and caps.v1_key_ok:
        return "no", f"{NO_TICKET_API} (v1 without tickets/create, before 2023-09)"
    return "unknown", explain(caps)
