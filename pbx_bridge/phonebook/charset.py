"""Answering a phone's ``Accept-Charset``: a UTF-8 XML page re-encoded as ISO-8859-1 when the phone
refuses UTF-8 (older Cisco enterprise firmware assumes ISO-8859-1). Characters outside Latin-1 become
numeric character references, so the page stays well-formed and loses nothing."""

from __future__ import annotations

__all__ = ["LATIN1", "to_latin1", "wanted_charset"]

LATIN1 = "iso-8859-1"


def _accepted(header: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            key, _, value = p.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name.strip():
            out[name.strip().lower()] = q
    return out


def wanted_charset(header: str | None) -> str:
    """``utf-8`` unless the header accepts ISO-8859-1 and not UTF-8 (nor ``*``)."""
    if not header:
        return "utf-8"
    acc = _accepted(header)
    if acc.get("utf-8", acc.get("*", 0.0)) > 0:
        return "utf-8"
    latin = max(acc.get(LATIN1, 0.0), acc.get("iso8859-1", 0.0), acc.get("latin1", 0.0))
    return LATIN1 if latin > 0 else "utf-8"


def to_latin1(xml: bytes) -> bytes:
    """A UTF-8 XML document (declaration ``encoding="UTF-8"``) as ISO-8859-1 with character references."""
    text = xml.decode("utf-8").replace('encoding="UTF-8"', 'encoding="ISO-8859-1"', 1)
    return text.encode("latin-1", "xmlcharrefreplace")
