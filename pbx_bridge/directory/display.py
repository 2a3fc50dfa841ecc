"""The displayed name, for caller ID and for every phonebook format: a template, control characters
removed, cut to a length without breaking a character or leaving a dangling bracket.

Faithful first: control characters go (line breaks, tabs and the Unicode line/paragraph separators
become one space, so ``Tab\\tCR`` reads ``Tab CR``, not ``TabCR``); everything else (quotes, backslash,
``$``, braces, non-ASCII letters, emoji) is kept. The cut counts code points (and, when asked, UTF-8
bytes), never leaves half of a user-perceived character behind (a base letter without its accent, an
emoji sequence without its joined part, modifier or tag characters, half a flag) and never ends on an
opening bracket or a separator (``Alice Anderson (`` becomes ``Alice Anderson``). Caller ID and the
phonebooks both call these two functions, so a name reads the same on the display and in the book.
"""

from __future__ import annotations

import re
import unicodedata

from pbx_bridge.directory.model import Party

__all__ = ["cut", "render_name", "sanitize"]

_ZWJ = "\u200d"
# Breaks and tabs separate words: one space. NEL, LS and PS are line breaks too.
_BREAKS = re.compile("[\t\n\v\f\r\x85\u2028\u2029]+")
# Other C0/C1 controls, DEL, lone surrogates and the two non-characters XML 1.0 rejects: removed.
_DROP = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_RUNS = re.compile(" {2,}")
# What a cut name must not end on: an opener (its closer was cut away) or a separator left hanging.
_DANGLING = frozenset("\"'&+,/:;|·\\")


def sanitize(text: str) -> str:
    """``text`` without control characters (breaks and tabs become one space), space runs collapsed,
    trimmed. Format characters such as the emoji joiner are kept."""
    if text.isprintable() and "  " not in text and not text[:1].isspace() and not text[-1:].isspace():
        return text  # the common case (isprintable is False for every Cc, Cs, Zl and Zp character)
    text = _DROP.sub("", _BREAKS.sub(" ", text))
    return _RUNS.sub(" ", text).strip()


def _extends(ch: str) -> bool:
    """True when ``ch`` belongs to the character before it (accent, joiner, variation selector, skin
    tone, emoji tag character)."""
    if (
        ch == _ZWJ
        or "\ufe00" <= ch <= "\ufe0f"
        or "\U0001f3fb" <= ch <= "\U0001f3ff"
        or "\U000e0020" <= ch <= "\U000e007f"
    ):
        return True
    return unicodedata.category(ch) in ("Mn", "Mc", "Me")


def _regional(ch: str) -> bool:
    return "\U0001f1e6" <= ch <= "\U0001f1ff"


def _splits_flag(text: str, end: int) -> bool:
    """True when ``end`` falls between the two regional indicators of one flag."""
    if not (_regional(text[end]) and _regional(text[end - 1])):
        return False
    run = 0
    while end - run - 1 >= 0 and _regional(text[end - run - 1]):
        run += 1
    return run % 2 == 1


def _dangles(ch: str) -> bool:
    return ch.isspace() or ch in _DANGLING or unicodedata.category(ch) in ("Ps", "Pi", "Pd")


def cut(text: str, limit: int, max_bytes: int = 0) -> str:
    """``text`` cut to at most ``limit`` code points (and ``max_bytes`` UTF-8 bytes when > 0), on a
    character (grapheme-like) boundary, without a dangling opener or separator at the end. The byte
    budget exists because FreePBX's macro-user-callerid cuts CALLERID(name) to 40 *bytes* and Polycom
    counts bytes: cut first ourselves, and no handset shows half a character."""
    end = min(len(text), limit)
    if max_bytes > 0 and (end > max_bytes or not text[:end].isascii()):
        while end > 0 and len(text[:end].encode("utf-8", "surrogatepass")) > max_bytes:
            end -= 1
    if end >= len(text):
        return text
    # Step back while the first dropped code point extends the kept one, the kept one is a joiner,
    # or the cut would split a flag.
    while end > 0 and (_extends(text[end]) or text[end - 1] == _ZWJ or _splits_flag(text, end)):
        end -= 1
    kept = end
    while end > 0 and _dangles(text[end - 1]):
        end -= 1
    if end == 0:  # nothing but openers and separators ("---- Reception" cut to 4): keep them, not ""
        return text[:kept].rstrip()
    return text[:end]


def render_name(
    party: Party, template: str, template_no_client: str, limit: int, number: str = "", max_bytes: int = 0
) -> str:
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
