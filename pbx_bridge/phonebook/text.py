"""Text hygiene for the phonebook formats: the caller-ID display rule (one rule for the display and the
book, :mod:`pbx_bridge.directory.display`), with the optional limits the formats have.

XML 1.0 forbids most C0 controls even as character references, and one of them makes a strict handset
parser drop the whole book, so :func:`clean` runs on every name before it reaches a writer.
"""

from __future__ import annotations

from pbx_bridge.directory.display import cut, sanitize

__all__ = ["clean", "truncate", "truncate_bytes"]


def clean(value: str | None) -> str:
    """``value`` without control characters (breaks and tabs become one space), trimmed."""
    return sanitize(value) if value else ""


def truncate(text: str, limit: int | None) -> str:
    """``text`` cut to at most ``limit`` characters by the display rule (``None``: no limit)."""
    if limit is None or len(text) <= limit:
        return text
    return cut(text, limit)


def truncate_bytes(text: str, limit: int | None) -> str:
    """``text`` cut so that its UTF-8 form takes at most ``limit`` bytes (Polycom counts bytes)."""
    if limit is None or (len(text) <= limit and text.isascii()):
        return text
    return cut(text, len(text), limit)
