"""Caller ID: who is calling, from the directory (or ITFlow live), through every door the PBX asks.

Modules: ``settings`` (the ``callerid`` section), ``service`` (``CallerId``: index, live ITFlow, cache),
``contract`` (the ``ITFLOW_*`` channel variables and the ``live=`` flag), ``route`` (the FastAGI ``cid``
route, and the guarded answer every door gives), ``http`` (the HTTP door ``/cid``,
``/cid.json``, ``/cid.agi`` and its guard). Caller ID's classic door is the AGI script ``agi/itflow-cid``
at the repository root, which asks ``/cid.agi``.
"""

from __future__ import annotations

from pbx_bridge.callerid.contract import CONTRACT_VARIABLES, contract_variables, live_flag
from pbx_bridge.callerid.http import cid_guard, cid_routes
from pbx_bridge.callerid.route import CallerIdLookup, cid_route, door_guard, door_lookup, door_text
from pbx_bridge.callerid.service import CallerId
from pbx_bridge.callerid.settings import CallerIdSettings

__all__ = [
    "CONTRACT_VARIABLES",
    "CallerId",
    "CallerIdLookup",
    "CallerIdSettings",
    "cid_guard",
    "cid_route",
    "cid_routes",
    "contract_variables",
    "door_guard",
    "door_lookup",
    "door_text",
    "live_flag",
]
