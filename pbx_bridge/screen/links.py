"""Links into ITFlow's agent UI, one layout per range of releases (docs/screen.md, "Links").

Read from ITFlow's source (itflow-org/itflow, the release tags): the pages sat at the web root until
v25.06 (``client_contact_details.php`` before v25.02, ``contact_details.php`` from it), in ``user/`` in
v25.09, in ``agent/`` from v25.10, where v26.08 renamed ``contact_details.php`` to ``contact.php``.
Every release reads ``client_id``, ``contact_id`` and ``ticket_id`` from the query. Only integers go
into a link: nothing ITFlow says becomes part of a URL.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlencode

__all__ = ["LAYOUTS", "ItflowLinks", "Layout"]

Layout = Literal["agent", "agent-2025", "user", "root", "legacy"]
# layout -> (folder, contact page)
LAYOUTS: dict[str, tuple[str, str]] = {
    "agent": ("agent/", "contact.php"),  # v26.08 and later
    "agent-2025": ("agent/", "contact_details.php"),  # v25.10 ... v26.07
    "user": ("user/", "contact_details.php"),  # v25.09
    "root": ("", "contact_details.php"),  # v25.02 ... v25.06
    "legacy": ("", "client_contact_details.php"),  # before v25.02
}


class ItflowLinks:
    def __init__(self, base_url: str, layout: Layout = "agent") -> None:
        self.base = base_url.rstrip("/")
        self.layout = layout
        self.folder, self.contact_page = LAYOUTS[layout]

    def _url(self, page: str, **query: int) -> str:
        return f"{self.base}/{self.folder}{page}?{urlencode({k: int(v) for k, v in query.items()})}"

    def client(self, client_id: int) -> str:
        return self._url("client_overview.php", client_id=client_id)

    def contact(self, client_id: int, contact_id: int) -> str:
        return self._url(self.contact_page, client_id=client_id, contact_id=contact_id)

    def ticket(self, client_id: int, ticket_id: int) -> str:
        # with client_id the ticket opens inside the client's navigation; without (client 0) on its own
        if client_id and self.layout != "legacy":
            return self._url("ticket.php", client_id=client_id, ticket_id=ticket_id)
        return self._url("ticket.php", ticket_id=ticket_id)
