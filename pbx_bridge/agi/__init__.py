"""AGI for pbx-bridge: the line protocol, one connection's session, and a hardened FastAGI server.

Modules: ``reply`` (one parsed reply), ``errors`` (the error tree), ``protocol`` (environment and reply
lines, quoting that survives res_agi's parser), ``session`` (one connection: its bytes, environment and
commands, ``AgiSession``), ``server`` (``FastAgiServer`` Component: accepting connections, limits,
routes). No domain knowledge lives here: the routes (``cid``, ``balance``) belong to their features.
"""

from __future__ import annotations

from pbx_bridge.agi.errors import (
    AgiCommandError,
    AgiConnectionClosed,
    AgiError,
    AgiHangup,
    AgiProtocolError,
    AgiTimeout,
    AgiUsageError,
)
from pbx_bridge.agi.protocol import quote, sanitize_value
from pbx_bridge.agi.reply import AgiReply
from pbx_bridge.agi.server import FastAgiServer, Route
from pbx_bridge.agi.session import AgiSession

__all__ = [
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
    "quote",
    "sanitize_value",
]
