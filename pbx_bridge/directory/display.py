"""The displayed caller name: a template, control characters removed, cut to a length without breaking a
character.

Faithful first: only control characters (C0/C1, line and paragraph separators) are removed; quotes,
backslash, ``$``, braces, non-ASCII letters and emoji are kept as they are. The cut counts code points and
never leaves half of a user-perceived character behind (a base letter without its combining accent, an
emoji sequence without its joined part).
"""

from __future__ import annotations

import unicodedata

from pbx_bridge.directory.model import Party

__all__ = ["cut", "render_name", "sanitize"]

_ZWJ = "\u200d"


def sanitize(text: str) -> str:
    """Remove control characters (keeps format characters such as the emoji joiner), trim the ends."""
    if text.isprintable():
        return text.strip()  # the common case: isprintable is False for every Cc, Zl and Zp character
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Zl", "Zp")).strip()


def _extends(ch: str) -> bool:
    """True when ``ch`` belongs to the character before it (accent, joiner, variation or skin tone)."""
    if ch == _ZWJ or "\ufe00" <= ch <= "\ufe0f" or "\U0001f3fb" <= ch <= "\U0001f3ff":
        return True
    return unicodedata.category(ch) in ("Mn", "Mc", "Me")


def cut(text: str, limit: int, max_bytes: int = 0) -> str:
    """``text`` cut to at most ``limit`` code points (and ``max_bytes`` UTF-8 bytes when > 0), on a
    character (grapheme-like) boundary. The byte budget exists because FreePBX's macro-user-callerid
    cuts CALLERID(name) to 40 *bytes*: cut first ourselves, and no handset shows half a character."""
    end = min(len(text), limit)
    if max_bytes > 0:
        while end > 0 and len(text[:end].encode("utf-8")) > max_bytes:
            end -= 1
    if end >= len(text):
        return text
    # Step back while the first dropped code point extends the kept one, or the kept one is a joiner.
    while end > 0 and (_extends(text[end]) or text[end - 1] == _ZWJ):
        end -= 1
    return text[:end].rstrip()


def render_name(party: Party, template: str, template_no_client: str, limit: int, number: str = "",
                max_bytes: int = 0) -> str:
    """The display name of ``party`` by the configured templates (values sanitized before and after)."""
    fields = {
        "client": sanitize(party.client_name),
        "name": sanitize(party.name),
        "kind": party.kind.value,
        "title": sanitize(party.title),
        "number": number,
    }
    if not fields["client"] or fields["client"] == fields["name"]:
        text = template_no_client.format(**fields)
    elif not fields["name"]:
        text = fields["client"]
    else:
        text = template.format(**fields)
    return cut(sanitize(text), limit, max_bytes)
