"""The channel variables caller ID publishes, and the ``live=`` flag every door accepts.

Channel variables (a contract; the names never change):

=====================  ====================================================================
``ITFLOW_MATCH``       contact | location | vendor | ambiguous | legacy | none
``ITFLOW_NAME``        the name shown (what CALLERID(name) was set to); empty on none
``ITFLOW_CLIENT_ID``   the ITFlow client id, empty when unknown (ambiguous, legacy, none)
``ITFLOW_CLIENT_NAME`` the client's name, empty when unknown
``ITFLOW_CONTACT_ID``  the contact id when the match is a contact, else empty
=====================  ====================================================================

The FastAGI ``cid`` route sets them, ``/cid.json`` carries them, ``/cid.agi`` serves them as lines.
"""

from __future__ import annotations

from pbx_bridge.directory.model import LookupResult, MatchKind

__all__ = ["CONTRACT_VARIABLES", "contract_variables", "live_flag"]

CONTRACT_VARIABLES = (
    "ITFLOW_MATCH",
    "ITFLOW_NAME",
    "ITFLOW_CLIENT_ID",
    "ITFLOW_CLIENT_NAME",
    "ITFLOW_CONTACT_ID",
)

_TRUE = {"1", "yes", "true", "on"}
_FALSE = {"0", "no", "false", "off"}


def contract_variables(result: LookupResult) -> dict[str, str]:
    """The ``ITFLOW_*`` values for a lookup result (also served as JSON over HTTP)."""
    if not result.found:
        return {
            "ITFLOW_MATCH": MatchKind.NONE.value,
            "ITFLOW_NAME": "",
            "ITFLOW_CLIENT_ID": "",
            "ITFLOW_CLIENT_NAME": "",
            "ITFLOW_CONTACT_ID": "",
        }
    contact_id = result.contact_id if result.match is MatchKind.CONTACT else 0
    return {
        "ITFLOW_MATCH": result.match.value,
        "ITFLOW_NAME": result.display,
        "ITFLOW_CLIENT_ID": str(result.client_id) if result.client_id else "",
        "ITFLOW_CLIENT_NAME": result.client_name,
        "ITFLOW_CONTACT_ID": str(contact_id) if contact_id else "",
    }


def live_flag(value: str) -> bool | None:
    """``live=yes|no`` (also 1/0, true/false, on/off) -> True/False; anything else -> None (configuration)."""
    value = value.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None
