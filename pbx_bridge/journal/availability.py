"""Can this ITFlow take a call journal? It needs v1 ``ticket_replies/create`` (v26.08+, docs/itflow-api.md
§3.2): legacy ``api.php`` and v1 before 26.08 cannot, and ``check`` and ``/readyz`` say so."""

from __future__ import annotations

from typing import Literal

from pbx_bridge.itflow.capabilities import Capabilities

__all__ = ["journal_availability"]


def journal_availability(caps: Capabilities | None) -> tuple[Literal["yes", "no", "unknown"], str]:
    if caps is None:
        return "unknown", "ITFlow not detected yet"
    if caps.forced == "legacy":
        return "no", "journal unavailable: itflow.api is legacy (api.php has no tickets)"
    if caps.tickets != "v1":
        if caps.complete and (caps.v1_key_ok or caps.legacy_key_ok):
            return "no", "journal unavailable: this ITFlow has no v1 ticket API (legacy api.php only)"
        return "unknown", "ITFlow's ticket API not identified yet"
    if not caps.ticket_replies:
        if caps.complete:
            return "no", "journal unavailable: ITFlow before v26.08 has no ticket_replies/create"
        return "unknown", "ITFlow's ticket_replies not identified yet"
    return "yes", "v26.09+ (open tickets by client_id)" if caps.v1e else "v26.08 (open-ticket index)"
