"""The FreePBX-safe name rule: a caller name that FreePBX's generated dialplan cannot split into dialplan.

FreePBX substitutes ``${CALLERID(name)}`` (and its copies ``SAVEDCIDNAME``, ``CIDNAME``, ``USEROUTCID``)
into the arguments of ``ExecIf``, ``Set``, ``Gosub`` and into ``$[...]`` expressions, and Asterisk splits
those arguments *after* the substitution. A name is therefore made harmless before it leaves the daemon
through a caller-name door. Which characters, and why each replacement, is explained in docs/callerid.md.

The rule is ASCII-only (Asterisk splits on bytes below 0x80; letters in any script and emoji are kept),
replaces one character by at most one character (spaces are then merged), so it never makes a name
longer: the code-point and 40-byte cuts made before it stay valid.
"""

from __future__ import annotations

import re

__all__ = ["UNSAFE_CHARACTERS", "freepbx_safe"]

# character -> its stand-in. Brackets become a space (their content stays readable), braces go; separators
# become a dash or a space; double quote and backslash become their harmless look-alikes. ("<" and ">"
# stay: CALLERID(all) takes the number from the last "<...>", so a name cannot move it.)
_REPLACEMENTS = {
    "(": " ",
    ")": " ",  # app(...) nesting: ")" ends ExecIf's Set( early
    "[": " ",
    "]": " ",  # counted like parentheses by the argument splitter; "$[" opens an expression
    "{": "",
    "}": "",  # "${" opens a substitution (EVAL, AGI scripts): "${EXTEN}" -> "$EXTEN"
    ",": " ",  # the argument separator of every application and function
    ":": "-",  # ExecIf(cond?then:else) and IF(): ":" starts the else-branch
    ";": "-",  # a comment in voicemail's msgNNNN.txt (callerid=...), an ini file
    "|": "/",  # the old argument separator; "or" in $[...]
    '"': "'",  # ends "${SAVEDCIDNAME}" inside $[...]; toggles quoting when splitting
    "\\": "/",  # escapes the next character when splitting
}
UNSAFE_CHARACTERS = frozenset(_REPLACEMENTS)
_TABLE = str.maketrans(_REPLACEMENTS)
_SPACES = re.compile(r" {2,}")


def freepbx_safe(name: str) -> str:
    """``name`` with every character of :data:`UNSAFE_CHARACTERS` replaced, runs of spaces merged and the
    ends trimmed. ``ACME (Europe), Ltd`` -> ``ACME Europe Ltd``; ``O'Brien "Bob"`` -> ``O'Brien 'Bob'``."""
    if UNSAFE_CHARACTERS.isdisjoint(name):
        return name  # the common case: nothing to do, not even the space merge
    return _SPACES.sub(" ", name.translate(_TABLE)).strip()
