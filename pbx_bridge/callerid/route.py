"""FastAGI route ``cid``: name the caller from the directory and publish the ``ITFLOW_*`` variables.

The number looked up is always ``agi_callerid``, the number Asterisk has for the channel; AGI arguments
and ``cid?x=y`` may only carry options (``live=yes|no``), so a caller can never ask about someone else.
``CALLERID(name)`` is set only on a match; on no match, a failure or a lookup slower than the door's guard
(:func:`pbx_bridge.callerid.door.door_lookup`) the caller's name is left exactly as it was (fail open).
The variables are the contract of :mod:`pbx_bridge.callerid.contract`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from pbx_bridge.agi.errors import AgiHangup
from pbx_bridge.agi.server import Route
from pbx_bridge.agi.session import AgiSession
from pbx_bridge.callerid.contract import CONTRACT_VARIABLES, contract_variables, live_flag
from pbx_bridge.callerid.door import CallerIdLookup, door_lookup

__all__ = ["cid_options", "cid_route"]

log = logging.getLogger("pbx_bridge.callerid")


def cid_options(args: Sequence[str], query: Mapping[str, str]) -> dict[str, bool | None]:
    """Options from ``key=value`` arguments and the ``?query``; anything else (e.g. ``${EXTEN}``) is ignored.

    ``live``: force (yes) or forbid (no) a live ITFlow lookup on an index miss; default: configuration.
    """
    raw: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep:
            raw[key.strip().lower()] = value.strip().lower()
    raw.update({k.lower(): v.lower() for k, v in query.items()})
    return {"live": live_flag(raw.get("live", ""))}


def cid_route(callerid: CallerIdLookup, *, safe_names: bool = True, guard: float | None = None) -> Route:
    """The ``cid`` route bound to a caller-ID service (``safe_names``: the FreePBX-safe rule, default on;
    ``guard``: the door's guard, :func:`pbx_bridge.callerid.door.door_guard`)."""

    async def cid(session: AgiSession) -> None:
        opts = cid_options(session.args, session.query)
        # Fail open: on any failure the call goes on with its own name, the dialplan sees "none".
        result = await door_lookup(callerid, session.callerid, live=opts["live"], safe_names=safe_names,
                                   guard=guard)
        values = contract_variables(result)
        try:
            if result.found and result.display:
                await session.set_variable("CALLERID(name)", result.display)
            for name in CONTRACT_VARIABLES:
                await session.set_variable(name, values[name])
        except AgiHangup:
            log.debug("caller hung up during the cid route")
            raise
        log.debug("cid %s -> %s (%s)", result.number or "-", result.match.value, result.source)

    return cid
