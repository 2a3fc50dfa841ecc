"""FastAGI route ``cid``: name the caller from the directory and publish the ``ITFLOW_*`` variables.

The number looked up is always ``agi_callerid``, the number Asterisk has for the channel; AGI arguments
and ``cid?x=y`` may only carry options (``live=yes|no``), so a caller can never ask about someone else.
``CALLERID(name)`` is set only on a match; on no match, a failure or a lookup slower than the door's guard
the caller's name is left exactly as it was (fail open). The variables are the contract of
:mod:`pbx_bridge.callerid.contract`.

:func:`door_lookup` (with its guard, :func:`door_guard`) is the one place every caller-name door gets its
answer from: this route, the HTTP ``/cid`` family (:mod:`pbx_bridge.callerid.http`) and, through
``/cid.agi``, the classic ``agi/itflow-cid``. Names pass the FreePBX-safe rule
(``pbx_bridge.directory.safe_name``) there, once, unless ``callerid.safe_names`` is off.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from pbx_bridge.agi.errors import AgiHangup
from pbx_bridge.agi.server import Route
from pbx_bridge.agi.session import AgiSession
from pbx_bridge.callerid.contract import CONTRACT_VARIABLES, contract_variables, live_flag
from pbx_bridge.callerid.settings import CallerIdSettings
from pbx_bridge.directory.ascii_name import ascii_name
from pbx_bridge.directory.model import LookupResult, MatchKind
from pbx_bridge.directory.safe_name import freepbx_safe
from pbx_bridge.log_limits import clip

__all__ = ["CallerIdLookup", "cid_options", "cid_route", "door_guard", "door_lookup", "door_text"]

log = logging.getLogger("pbx_bridge.callerid")

# On top of callerid.live_budget (which the lookup itself keeps): time for the index, the event loop and
# the answer, before a door gives up waiting and answers "none".
_GUARD_SLACK = 0.2


class CallerIdLookup(Protocol):
    """What a door needs from :class:`pbx_bridge.callerid.service.CallerId`."""

    async def lookup(self, raw_number: str, *, live: bool | None = None) -> LookupResult: ...


def door_guard(settings: CallerIdSettings | None = None) -> float:
    """Seconds a door waits for a lookup at most: ``callerid.live_budget`` plus a little slack."""
    cfg = settings or CallerIdSettings()
    return float(cfg.live_budget) + _GUARD_SLACK


def door_text(text: str, *, safe_names: bool = True, ascii: bool = False) -> str:
    """``text`` as a caller-name door shows it: folded to ASCII when asked (Superfecta), then the
    FreePBX-safe rule. The rule comes last because folding turns look-alikes into ASCII punctuation
    (fullwidth ``（`` ``：`` ``，`` become ``(`` ``:`` ``,``). Folding can also lengthen (``Ⅷ`` -> ``VIII``):
    the folded name is cut back to the bytes the name had, so the 40-byte cut made before still holds."""
    if ascii:
        text = ascii_name(text)[: len(text.encode("utf-8"))].rstrip()
    return freepbx_safe(text) if safe_names else text


async def door_lookup(
    callerid: CallerIdLookup,
    number: str,
    *,
    live: bool | None = None,
    safe_names: bool = True,
    ascii: bool = False,
    guard: float | None = None,
) -> LookupResult:
    """The answer a caller-name door gives: never raises, never waits longer than ``guard`` seconds
    (a "none" answer instead); its names have passed :func:`door_text`, once, here."""
    try:
        async with asyncio.timeout(door_guard() if guard is None else guard):
            result = await callerid.lookup(number, live=live)
    except TimeoutError:
        log.warning("caller-ID lookup of %s took longer than the door's guard; answering none", clip(number))
        result = LookupResult(match=MatchKind.NONE, number="", source="none")
    except Exception:
        log.exception("caller-ID lookup failed; answering none")
        result = LookupResult(match=MatchKind.NONE, number="", source="none")
    if not result.found or not (safe_names or ascii):
        return result
    display = door_text(result.display, safe_names=safe_names, ascii=ascii)
    client_name = door_text(result.client_name, safe_names=safe_names, ascii=ascii)
    if display == result.display and client_name == result.client_name:
        return result  # the usual case (names are made safe when the directory is built): no copy
    return dataclasses.replace(result, display=display, client_name=client_name)


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
    ``guard``: the door's guard, :func:`door_guard`)."""

    async def cid(session: AgiSession) -> None:
        opts = cid_options(session.args, session.query)
        # Fail open: on any failure the call goes on with its own name, the dialplan sees "none".
        result = await door_lookup(
            callerid, session.callerid, live=opts["live"], safe_names=safe_names, guard=guard
        )
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
