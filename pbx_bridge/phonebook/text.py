"""Text hygiene shared by every phonebook format: control characters out, lengths cut at grapheme edges.

XML 1.0 forbids most C0 controls even as character references, and one of them makes a strict handset
parser drop the whole book; names also lose CR/LF/TAB (a display line has no room for them).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["clean", "truncate", "truncate_bytes"]

# C0 controls, DEL, C1 controls, lone surrogates and the two non-characters XML rejects.
_BAD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_SPACES = re.compile(r"\s+")

_ZWJ = "\u200d"


def clean(value: str | None) -> str:
    """``value`` with control characters removed (line breaks and tabs become one space), trimmed."""
    if not value:
        return ""
    if value.isprintable() and not value[0].isspace() and not value[-1].isspace() and "  " not in value:
        return value  # the common case: nothing to strip (isprintable is False for every control char)
    text = value.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    text = _BAD.sub("", text)
    if "  " in text or text[:1].isspace() or text[-1:].isspace():
        text = _SPACES.sub(" ", text).strip()
    return text


def _joins_previous(ch: str) -> bool:
    """True when ``ch`` belongs to the grapheme before it (combining mark, ZWJ, selector, skin tone)."""
    cp = ord(ch)
    return (
        unicodedata.combining(ch) != 0
        or ch == _ZWJ
        or 0xFE00 <= cp <= 0xFE0F
        or 0x1F3FB <= cp <= 0x1F3FF
        or 0xE0020 <= cp <= 0xE007F
        or unicodedata.category(ch) in ("Mn", "Me", "Mc")
    )


def _safe_cut(text: str, cut: int) -> int:
    """Move ``cut`` left until it does not split a grapheme cluster (approximation without ICU)."""
    while 0 < cut < len(text) and (_joins_previous(text[cut]) or text[cut - 1] == _ZWJ):
        cut -= 1
    return cut


def truncate(text: str, limit: int | None) -> str:
    """``text`` cut to at most ``limit`` characters, never inside a grapheme cluster."""
    if limit is None or len(text) <= limit:
        return text
    return text[: _safe_cut(text, limit)].rstrip()


def truncate_bytes(text: str, limit: int | None, encoding: str = "utf-8") -> str:
    """``text`` cut so that its encoding takes at most ``limit`` bytes (Polycom counts bytes)."""
    if limit is None or len(text.encode(encoding)) <= limit:
        return text
    cut = len(text)
    while cut > 0 and len(text[:cut].encode(encoding)) > limit:
        cut -= 1
    return text[: _safe_cut(text, cut)].rstrip()
