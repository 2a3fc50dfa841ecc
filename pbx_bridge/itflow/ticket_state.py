"""Whether a ``tickets/read`` row is an open ticket: one answer for the worker, the journal and the page.

Statuses 4 (Resolved) and 5 (Closed), or a status by that name, or a resolved, closed or archived date
mean not open (docs/itflow-api.md §4.3; reads return archived rows, Q12).
"""

from __future__ import annotations

__all__ = ["is_open"]

_CLOSED_STATUS = frozenset({"4", "5"})
_CLOSED_NAMES = frozenset({"resolved", "closed"})


def is_open(row: dict[str, str]) -> bool:
    if row.get("ticket_status", "") in _CLOSED_STATUS:
        return False
    if row.get("ticket_status_name", "").strip().lower() in _CLOSED_NAMES:
        return False
    return not (row.get("ticket_resolved_at") or row.get("ticket_closed_at") or row.get("ticket_archived_at"))
