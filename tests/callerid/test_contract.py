"""The ``ITFLOW_*`` values of each kind of answer."""

from __future__ import annotations

from pbx_bridge.callerid.contract import contract_variables
from pbx_bridge.directory.model import LookupResult, MatchKind


def test_contract_values() -> None:
    amb = LookupResult(match=MatchKind.AMBIGUOUS, number="+14125550101", display="+14125550101")
    assert contract_variables(amb) == {
        "ITFLOW_MATCH": "ambiguous",
        "ITFLOW_NAME": "+14125550101",
        "ITFLOW_CLIENT_ID": "",
        "ITFLOW_CLIENT_NAME": "",
        "ITFLOW_CONTACT_ID": "",
    }
    legacy = LookupResult(match=MatchKind.LEGACY, number="+14125550101", display="Bob", source="live")
    assert contract_variables(legacy)["ITFLOW_MATCH"] == "legacy"
