"""ITFlow agent UI links, per range of releases (docs/screen.md, "Links")."""

from __future__ import annotations

import pytest

from pbx_bridge.screen.links import ItflowLinks, Layout

BASE = "https://itflow.example"


@pytest.mark.parametrize(
    ("layout", "client", "contact", "ticket"),
    [
        (
            "agent",  # v26.08 on
            "agent/client_overview.php?client_id=1",
            "agent/contact.php?client_id=1&contact_id=5",
            "agent/ticket.php?client_id=1&ticket_id=9",
        ),
        (
            "agent-2025",  # v25.10 ... v26.07
            "agent/client_overview.php?client_id=1",
            "agent/contact_details.php?client_id=1&contact_id=5",
            "agent/ticket.php?client_id=1&ticket_id=9",
        ),
        (
            "user",  # v25.09
            "user/client_overview.php?client_id=1",
            "user/contact_details.php?client_id=1&contact_id=5",
            "user/ticket.php?client_id=1&ticket_id=9",
        ),
        (
            "root",  # v25.02 ... v25.06
            "client_overview.php?client_id=1",
            "contact_details.php?client_id=1&contact_id=5",
            "ticket.php?client_id=1&ticket_id=9",
        ),
        (
            "legacy",  # before v25.02
            "client_overview.php?client_id=1",
            "client_contact_details.php?client_id=1&contact_id=5",
            "ticket.php?ticket_id=9",
        ),
    ],
)
def test_each_layout(layout: Layout, client: str, contact: str, ticket: str) -> None:
    links = ItflowLinks(BASE + "/", layout)
    assert links.client(1) == f"{BASE}/{client}"
    assert links.contact(1, 5) == f"{BASE}/{contact}"
    assert links.ticket(1, 9) == f"{BASE}/{ticket}"


def test_a_ticket_without_a_client_and_a_subfolder_install() -> None:
    assert ItflowLinks(BASE).ticket(0, 9) == f"{BASE}/agent/ticket.php?ticket_id=9"
    assert ItflowLinks(BASE + "/itflow", "root").client(2) == f"{BASE}/itflow/client_overview.php?client_id=2"
