"""AGI for pbx-bridge: the line protocol, a hardened FastAGI server, and the ``cid`` route.

Modules: ``protocol`` (environment, replies, quoting that survives res_agi's parser), ``errors`` (the
error tree), ``server`` (``FastAgiServer`` Component, ``AgiSession``), ``cid`` (caller-name route and the
``ITFLOW_*`` variable contract). The classic AGI script is ``agi/itflow-cid`` at the repository root.
"""

from __future__ import annotations

from pbx_bridge.agi.cid import CONTRACT_VARIABLES, cid_route, contract_variables
from pbx_bridge.agi.errors import (
    AgiCommandError,
    AgiConnectionClosed,
    AgiError,
    AgiHangup,
    AgiProtocolError,
    AgiTimeout,
    AgiUsageError,
)
from pbx_bridge.agi.protocol import AgiReply, quote, sanitize_value
from pbx_bridge.agi.server import AgiSession, FastAgiServer, Route

__all__ = [
    "CONTRACT_VARIABLES",
    "AgiCommandError",
    "AgiConnectionClosed",
    "AgiError",
    "AgiHangup",
    "AgiProtocolError",
    "AgiReply",
    "AgiSession",
    "AgiTimeout",
    "AgiUsageError",
    "FastAgiServer",
    "Route",
    "cid_route",
    "contract_variables",
    "quote",
    "sanitize_value",
]
