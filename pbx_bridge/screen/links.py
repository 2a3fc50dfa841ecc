"""Links into ITFlow's agent UI, one shape per family of releases (docs/screen.md, "Links").

Releases with the ``agent/`` folder serve ``agent/client_overview.php?client_id=N``,
``agent/contact_details.php?client_id=N&contact_id=M`` and ``agent/ticket.php?client_id=N&ticket_id=T``;
older ones served ``client_overview.php``, ``client_contact_details.php`` and ``ticket.php`` from the
web root. Only integers go into a link: nothing ITFlow says becomes part of a URL.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlencode

__all__ = ["ItflowLinks"]


class ItflowLinks:
    def __init__(self, base_url: str, ui: Literal["agent", "root"] = "agent") -> None:
        self.base = base_url.rstrip("/")
        self.ui = ui

    def _url(self, agent_page: str, root_page: str, **query: int) -> str:
        page = f"agent/{agent_page}" if self.ui == "agent" else root_page
        return f"{self.base}/{page}?{urlencode({k: int(v) for k, v in query.items()})}"

    def client(self, client_id: int) -> str:
        return self._url("client_overview.php", "client_overview.php", client_id=client_id)

    def contact(self, client_id: int, contact_id: int) -> str:
        return self._url(
            "contact_details.php", "client_contact_details.php", client_id=client_id, contact_id=contact_id
        )

    def ticket(self, client_id: int, ticket_id: int) -> str:
        if self.ui == "root":
            return self._url("ticket.php", "ticket.php", ticket_id=ticket_id)
        if client_id:
            return self._url("ticket.php", "ticket.php", client_id=client_id, ticket_id=ticket_id)
        return self._url("ticket.php", "ticket.php", ticket_id=ticket_id)
