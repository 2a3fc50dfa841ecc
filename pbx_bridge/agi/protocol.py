"""The AGI line protocol: the environment block, reply lines, and arguments that survive res_agi's parser.

Facts this module relies on (Asterisk 22 ``res/res_agi.c``, checked in the lab):

* The environment is ``key: value`` lines (``agi_accountcode: `` keeps its space), ended by a blank line.
  FastAGI adds ``agi_network`` and ``agi_network_script``; the script keeps any ``?query`` unchanged.
* Every command gets one reply line ``<code> result=<r> [(data)] [key=value ...]``; ``520-`` starts a
  multi-line usage text ended by ``520 End of proper usage.``; ``100`` is an interim "trying" line.
  When the caller hangs up, FastAGI also gets an unsolicited ``HANGUP`` line, paired with no command.
* ``parse_args`` splits a command on blanks; a ``"`` toggles quoting, and a backslash makes the next
  character literal (the backslash itself is dropped). So a value is sent as ``"..."`` with ``\\`` and
  ``"`` escaped by a backslash, and nothing else needs escaping: ``$``, ``{``, ``}`` are not evaluated by
  ``SET VARIABLE``. A newline would end the command, hence :func:`sanitize_value`.
* Commands are read into a buffer of ``AGI_BUF_LEN`` bytes: 8192 since Asterisk 22.6, 20.16 and 21.11,
  2048 before. Lines are refused here at the older, smaller size, so every release takes them.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from urllib.parse import parse_qsl

from pbx_bridge.agi.errors import AgiProtocolError
from pbx_bridge.agi.reply import AgiReply

__all__ = [
    "MAX_COMMAND_BYTES",
    "ReplyReader",
    "format_command",
    "parse_env_line",
    "parse_reply",
    "quote",
    "sanitize_value",
    "split_script",
    "validate_variable_name",
]

# The older AGI_BUF_LEN (2048, including the newline), with a margin: fits every Asterisk release.
MAX_COMMAND_BYTES = 2000
HANGUP_LINE = "HANGUP"

_REPLY_RE = re.compile(r"^(?P<code>\d{3})(?P<sep>[ -])?(?P<rest>.*)$")
_RESULT_RE = re.compile(r"^result=(?P<result>\S*)(?:\s+(?P<tail>.*))?$")
# Data in parentheses may itself contain parentheses: take the widest "( ... )" that is followed only
# by key=value pairs (e.g. "endpos=5120").
_DATA_RE = re.compile(r"^\((?P<data>.*)\)(?P<kv>(?:\s+\w+=\S*)*)\s*$")
_KV_RE = re.compile(r"(\w+)=(\S*)")
_VARNAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*(?:\([A-Za-z0-9_,.\-]*\))?$")


def parse_reply(line: str) -> AgiReply:
    """Parse one complete reply line (a finished 520 block is passed as its first line plus ``data``).

    Raises :class:`AgiProtocolError` for anything that is not ``<3 digits> ...``.
    """
    m = _REPLY_RE.match(line)
    if m is None:
        raise AgiProtocolError(f"not an AGI reply: {line[:80]!r}")
    code = int(m["code"])
    rest = m["rest"].strip()
    if code != 200:
        return AgiReply(code=code, data=rest, raw=line)
    rm = _RESULT_RE.match(rest)
    if rm is None:
        raise AgiProtocolError(f"200 reply without result=: {line[:80]!r}")
    tail = (rm["tail"] or "").strip()
    data = ""
    extras: dict[str, str] = {}
    if tail.startswith("("):
        dm = _DATA_RE.match(tail)
        if dm is None:
            raise AgiProtocolError(f"unbalanced data in reply: {line[:80]!r}")
        data = dm["data"]
        extras = dict(_KV_RE.findall(dm["kv"]))
    elif tail:
        extras = dict(_KV_RE.findall(tail))
    return AgiReply(code=200, result=rm["result"], data=data, extras=extras, raw=line)


# The replies most commands get (SET VARIABLE, ANSWER, VERBOSE ...), parsed once; AgiReply is immutable.
_COMMON_REPLIES = {line: parse_reply(line) for line in ("200 result=1", "200 result=0")}
# The same replies as whole segments: res_agi sends each reply line with one write, so on a quiet
# connection a segment is usually exactly one of these; anything else takes the line-by-line path.
_COMMON_SEGMENTS = {(line + "\n").encode(): reply for line, reply in _COMMON_REPLIES.items()}


class ReplyReader:
    """Turns the stream of lines after the environment into events, one line at a time.

    ``feed(line)`` returns ``"hangup"`` for the unsolicited HANGUP, an :class:`AgiReply` for a complete
    reply, ``None`` while a 520 usage block or an interim 100 line is in progress, and raises
    :class:`AgiProtocolError` for a malformed line (the caller logs and skips it).
    """

    # A usage text is a few lines; never buffer an unbounded amount.
    MAX_USAGE_LINES = 200

    def __init__(self) -> None:
        self._usage: list[str] | None = None

    def common_segment(self, data: bytes) -> AgiReply | None:
        """The reply when ``data`` is exactly one common reply line with its newline and no usage block
        is in progress (what ``feed`` would return for that line); else None, and nothing is consumed."""
        if self._usage is None:
            return _COMMON_SEGMENTS.get(data)
        return None

    def feed(self, line: str) -> AgiReply | str | None:
        if self._usage is None:
            common = _COMMON_REPLIES.get(line)
            if common is not None:  # "200 result=1" answers most commands: skip the regexes
                return common
        else:
            if line.startswith("520 "):
                text = "\n".join(self._usage)
                self._usage = None
                return AgiReply(code=520, data=text, raw=line)
            if len(self._usage) < self.MAX_USAGE_LINES:
                self._usage.append(line)
            return None
        if line == HANGUP_LINE:
            return "hangup"
        if line.startswith("520-"):
            self._usage = [line[4:]]
            return None
        reply = parse_reply(line)
        if reply.code == 100:  # "100 result=0 Trying..." precedes the real reply of RECORD FILE etc.
            return None
        return reply


def parse_env_line(line: str) -> tuple[str, str] | None:
    """``agi_callerid: 15551230001`` -> ("agi_callerid", "15551230001"); None if not ``key: value``."""
    key, sep, value = line.partition(":")
    key = key.strip()
    if not sep or not key or not key.replace("_", "").isalnum():
        return None
    return key, value[1:] if value.startswith(" ") else value


def split_script(script: str) -> tuple[str, dict[str, str]]:
    """``cid?x=1&y=2`` -> ("cid", {"x": "1", "y": "2"}); a leading slash is dropped.

    Asterisk passes the query unchanged in ``agi_network_script``; matching the whole string against route
    names would miss the route silently (panoramisk 1.4 does, and Asterisk still reports SUCCESS).
    """
    path, _, qs = script.partition("?")
    query = dict(parse_qsl(qs, keep_blank_values=True)) if qs else {}
    return path.strip("/"), query


def sanitize_value(value: object) -> str:
    """Remove CR, LF and every other control character (Unicode category Cc); keep everything else.

    Quotes, backslashes, ``$``, ``{``, ``}``, letters in any script and emoji (including zero-width
    joiners, which are format characters, not controls) stay as they are. Lone surrogates (bytes that
    were not UTF-8) cannot be sent and become U+FFFD.
    """
    text = value if type(value) is str else str(value)
    if text.isprintable():
        # Fast path: printable text has no Cc (controls) and no Cs (surrogates); nothing to remove.
        return text
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cc":
            continue
        out.append("\ufffd" if cat == "Cs" else ch)
    return "".join(out)


def quote(value: object) -> str:
    """One AGI argument that res_agi's ``parse_args`` turns back into exactly ``sanitize_value(value)``."""
    text = sanitize_value(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


@functools.lru_cache(maxsize=256)  # the same few names on every call; only valid names are cached
def validate_variable_name(name: str) -> str:
    """A variable or function name as the first word of SET/GET VARIABLE (``CALLERID(name)``, ``FOO``)."""
    if not _VARNAME_RE.match(name):
        raise ValueError(f"not a channel variable name: {name!r}")
    return name


def format_command(text: str) -> bytes:
    """Encode one command line; refuses line breaks and lines res_agi would cut."""
    if "\n" in text or "\r" in text:
        raise ValueError("an AGI command is one line; use quote() for values")
    data = text.encode("utf-8", errors="replace") + b"\n"
    if len(data) > MAX_COMMAND_BYTES:
        raise ValueError(f"AGI command of {len(data)} bytes exceeds {MAX_COMMAND_BYTES}")
    return data
