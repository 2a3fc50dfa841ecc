"""Click-to-dial: a number from a ``tel:`` link -> digits -> AMI ``Originate`` (docs/screen.md).

The technician's own extension rings first (``Local/<ext>@<extension_context>``); when it answers, the
number is dialled in ``dial.context`` (FreePBX: from-internal, so its outbound routes apply). Only
``Exten``/``Context`` with digits go to Asterisk, never ``Application`` or ``Data``: nothing a browser
sends can choose what Asterisk runs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from pbx_bridge.errors import PbxBridgeError
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.screen.sessions import FailureLimit
from pbx_bridge.screen.settings import DialSettings

__all__ = ["DialRefused", "Dialer", "Target", "read_target"]

log = logging.getLogger("pbx_bridge.screen")

SendAction = Callable[[dict[str, str]], Awaitable[Any]]
_DIGITS = re.compile(r"^\d{1,20}$")
_SCHEMES = ("tel:", "callto:", "web+tel:")


class DialRefused(PbxBridgeError):
    """A click-to-dial request that is not carried out (the text says why, for the technician)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class Target:
    raw: str  # as the link gave it, URL escapes undone
    digits: str  # what Asterisk dials
    e164: str  # "" for an internal extension
    readable: str
    extension: str  # a ";ext=" / "x123" part of the link, not dialled (said on the confirm view)


def read_target(raw: str, plan: NumberPlan) -> Target:
    """Normalise what a ``tel:`` handler receives (``tel:(412)%20555-0101``, ``+1 412 555 0101``,
    ``tel:+14125550101;ext=12``) by the caller-ID number plan; DialRefused when it is no number."""
    text = unquote(raw).strip()
    for scheme in _SCHEMES:
        if text.lower().startswith(scheme):
            text = text[len(scheme) :].lstrip("/")
            break
    text, _, params = text.partition(";")
    extension = ""
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "ext" and value.strip().isdigit():
            extension = value.strip()
    m = re.search(r"\s*(?:x|ext\.?)\s*(\d+)$", text, re.IGNORECASE)
    if m:
        extension, text = extension or m.group(1), text[: m.start()]
    text = text.strip()
    if len(text) > 64 or not text:
        raise DialRefused("not a phone number")
    compact = re.sub(r"[\s().\-/]", "", text)
    if _DIGITS.match(compact) and plan.is_internal(compact):
        return Target(text, compact, "", compact, extension)
    e164 = plan.canonical(text)
    if e164 is None:
        raise DialRefused(f"not a possible phone number: {text}")
    digits = plan.format(e164, "national")
    if not _DIGITS.match(digits):
        raise DialRefused(f"cannot dial {text}")
    return Target(text, digits, e164, plan.format(e164, "international"), extension)


class Dialer:
    def __init__(
        self, settings: DialSettings, plan: NumberPlan, send: SendAction | None, clock: Callable[[], float]
    ) -> None:
        self.settings = settings
        self.plan = plan
        self.send = send
        self.limit = FailureLimit(settings.per_minute, 60.0, clock)
        self._allow = re.compile(settings.allow_pattern) if settings.allow_pattern else None
        self._deny = re.compile(settings.deny_pattern) if settings.deny_pattern else None

    def check(self, target: Target) -> None:
        """DialRefused when the destination patterns forbid ``target``."""
        if self._allow is not None and not self._allow.search(target.digits):
            raise DialRefused(f"{target.digits} is not a destination this page may dial", 403)
        if self._deny is not None and self._deny.search(target.digits):
            raise DialRefused(f"{target.digits} is a destination this page may not dial", 403)

    async def dial(self, username: str, extension: str, target: Target) -> None:
        """Originate; DialRefused (with an HTTP status) when not allowed or Asterisk refuses."""
        if not self.settings.enabled or self.send is None:
            raise DialRefused("click-to-dial is not available (no AMI connection configured)", 503)
        if not _DIGITS.match(extension):
            raise DialRefused("not an extension", 400)
        self.check(target)
        if not self.limit.take(username.lower()):
            raise DialRefused(f"at most {self.settings.per_minute} calls a minute: try again shortly", 429)
        s = self.settings
        action = {
            "Action": "Originate",
            "Channel": f"Local/{extension}@{s.extension_context}",
            "Context": s.context,
            "Exten": target.digits,
            "Priority": "1",
            "Timeout": str(int(s.ring_timeout * 1000)),
            # The technician's phone shows the number it is about to dial; the call goes out as the
            # extension (FreePBX picks the outbound caller ID of the extension from CALLERID(num)).
            "CallerID": f'"{target.digits}" <{extension}>',
            "Async": "true",
        }
        try:
            answer = await self.send(action)
        except (ConnectionError, TimeoutError, OSError) as exc:
            raise DialRefused(f"the PBX did not take the call: {exc or type(exc).__name__}", 503) from None
        response = str(answer.get("Response", "")) if hasattr(answer, "get") else ""
        if response.lower() != "success":
            message = str(answer.get("Message", "")) if hasattr(answer, "get") else ""
            raise DialRefused(f"the PBX refused the call: {message or response or 'no answer'}", 502)
        log.info("screen: %s dials %s from extension %s", username, target.digits, extension)
