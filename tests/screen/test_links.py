"""ITFlow agent UI links, per family of releases (docs/screen.md, "Links")."""

from __future__ import annotations

from pbx_bridge.screen.links import ItflowLinks


def test_agent_folder_releases() -> None:
    links = ItflowLinks("https://itflow.example/", "agent")
    assert links.client(1) == "https://itflow.example/agent/client_overview.php?client_id=1"
    assert links.contact(1, 5) == "https://itflow.example/agent/contact_details.php?client_id=1&contact_id=5"
    assert links.ticket(1, 9) == "https://itflow.example/agent/ticket.php?client_id=1&ticket_id=9"
    assert links.ticket(0, 9) == "https://itflow.example/agent/ticket.php?ticket_id=9"


def test_web_root_releases() -> None:
    links = ItflowLinks("https://itflow.example/itflow", "root")
    assert links.client(2) == "https://itflow.example/itflow/client_overview.php?client_id=2"
    assert (
        links.contact(2, 3)
        == "https://itflow.example/itflow/client_contact_details.php?client_id=2&contact_id=3"
    )
    assert links.ticket(2, 4) == "https://itflow.example/itflow/ticket.php?ticket_id=4"
