"""AMI byte framing and message parsing, owned by us (panoramisk notes 8 and 12).

panoramisk 1.4 decodes every TCP chunk on its own with ``errors='ignore'``, so a character split across
two chunks vanishes. We keep bytes until a whole message (``CRLF CRLF``) has arrived and only then decode it.

Decoding a whole message with ``errors='replace'`` is the same as decoding each field on its own: field
boundaries are ASCII (``": "`` and ``CRLF``) and Python's UTF-8 decoder never folds an ASCII byte into an
invalid sequence (it replaces the maximal invalid subpart only). So a Cdr ``CallerID`` cut mid-character
becomes ``...\\ufffd`` and the next field is intact. One decode per message keeps the hot path fast.
"""

from __future__ import annotations

from collections.abc import Iterator

from pbx_bridge.errors import PbxBridgeError

__all__ = ["FrameBuffer", "Malformed", "parse_message", "parse_stream"]

_SEP = b"\r\n\r\n"
# A message bigger than this is not AMI: drop it instead of growing the buffer for ever.
MAX_MESSAGE = 1 << 20


class Malformed(PbxBridgeError, ValueError):
    """A message that is not ``Key: Value`` lines; the stream goes on."""


def parse_message(raw: bytes) -> dict[str, str]:
    """One AMI message (without the blank line) -> ``{key: value}``; keys keep Asterisk's case.

    Lines without ``": "`` are tolerated when the message also has proper lines (``Response: Follows``
    bodies); a message with no ``Key: Value`` line at all is :class:`Malformed`. A repeated key keeps
    its first value except for ``ChanVariable`` style keys, which we do not need.
    """
    text = raw.decode("utf-8", "replace")
    out: dict[str, str] = {}
    for line in text.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            if line.endswith(":") and line[:-1] and " " not in line:  # "AccountCode:" with no space
                key, value = line[:-1], ""
            else:
                continue
        if key not in out:
            out[key] = value
    if not out:
        raise Malformed(f"no 'Key: Value' line in {text[:80]!r}")
    return out


class FrameBuffer:
    """Accumulates bytes and yields whole raw messages; a banner line is yielded once as ``banner``."""

    __slots__ = ("_buf", "banner", "dropped")

    def __init__(self) -> None:
        self._buf = b""
        self.banner: str | None = None
        self.dropped = 0

    def feed(self, data: bytes) -> Iterator[bytes]:
        buf = self._buf + data if self._buf else data
        if self.banner is None:
            nl = buf.find(b"\r\n")
            if nl < 0:
                self._buf = buf[-MAX_MESSAGE:]
                return
            first = buf[:nl]
            if first.startswith(b"Asterisk Call Manager/"):
                self.banner = first.decode("utf-8", "replace")
                buf = buf[nl + 2 :]
            else:
                self.banner = ""
        start = 0
        find = buf.find
        while True:
            end = find(_SEP, start)
            if end < 0:
                break
            if end > start:
                yield buf[start:end]
            start = end + 4
        rest = buf[start:]
        if len(rest) > MAX_MESSAGE:
            self.dropped += 1
            rest = b""
        self._buf = rest


def parse_stream(data: bytes) -> Iterator[dict[str, str]]:
    """All parseable messages of a captured stream (a trace file); malformed ones are skipped."""
    fb = FrameBuffer()
    for raw in fb.feed(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")):
        try:
            yield parse_message(raw)
        except Malformed:
            continue
