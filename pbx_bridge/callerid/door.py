"""The answer every caller-name door gives: the FastAGI ``cid`` route, the HTTP ``/cid`` family and,
through ``/cid.agi``, the classic ``agi/itflow-cid``.

:func:`door_lookup` never raises and never waits longer than the door's guard (``callerid.live_budget``
plus a little slack): on a failure or a slow lookup the answer is "none" and the caller's name stays as
it was (fail open). Names pass the FreePBX-safe rule (``pbx_bridge.directory.safe_name``) unless
``callerid.safe_names`` is off, here and nowhere else.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Protocol

from pbx_bridge.callerid.settings import CallerIdSettings
from pbx_bridge.directory.ascii_name import ascii_name
from pbx_bridge.directory.model import LookupResult, MatchKind
from pbx_bridge.directory.safe_name import freepbx_safe
from pbx_bridge.log_limits import clip

__all__ = ["CallerIdLookup", "door_guard", "door_lookup", "door_text"]

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
        text = ascii_name(text)[:len(text.encode("utf-8"))].rstrip()
    return freepbx_safe(text) if safe_names else text


async def door_lookup(callerid: CallerIdLookup, number: str, *, live: bool | None = None,
                      safe_names: bool = True, ascii: bool = False,
                      guard: float | None = None) -> LookupResult:
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
    return dataclasses.replace(result, display=door_text(result.display, safe_names=safe_names, ascii=ascii),
                               client_name=door_text(result.client_name, safe_names=safe_names, ascii=ascii))
