"""AMI byte framing and message parsing, owned by us (panoramisk notes 8 and 12).

panoramisk 1.4 decodes every TCP chunk on its own with ``errors='ignore'``, so a character split across
two chunks vanishes. We keep bytes until a whole message (``CRLF CRLF``) has arrived and only then decode it.

Decoding a whole message with ``errors='replace'`` is the same as decoding each field on its own: field
boundaries are ASCII (``": "`` and ``CRLF``) and Python's UTF-8 decoder never folds an ASCII byte into an
invalid sequence (it replaces the maximal invalid subpart only). So a Cdr ``CallerID`` cut mid-character
becomes ``...\\ufffd`` and the next field is intact. One decode per message keeps the hot path fast.

An :class:`EventFilter` drops the events nobody uses before they are decoded: on a FreePBX host VarSet and
Newexten are 76-93 % of the stream and the tracker needs a few of them (docs/tickets.md, "The AMI
user"). It looks at bytes only and drops a message only when it is sure: an ``Event:`` first line with a
name it does not want, and no ``ActionID`` line (that belongs to an action's answer; the tracker never
sees a message with an ActionID or Response either).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from pbx_bridge.errors import PbxBridgeError

__all__ = ["EventFilter", "FrameBuffer", "Malformed", "parse_message", "parse_stream"]

_SEP = b"\r\n\r\n"
_EVENT = b"Event: "
_ACTION_ID = b"\r\nActionID:"
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


class EventFilter:
    """Which events are worth decoding: the names in ``keep``, and of the names in ``when`` only those
    whose header (its first occurrence, as :func:`parse_message` keeps it) has one of the given values.
    Every other event is dropped unparsed; a message that is not plainly an event is always kept."""

    __slots__ = ("keep", "when")

    def __init__(self, keep: Iterable[str], when: Mapping[str, tuple[str, Iterable[str]]]) -> None:
        # Whole first lines, so one slice and one set lookup decide most messages; a wanted value is
        # matched where it stands (``startswith`` with its line end, ``endswith`` on the last line) so
        # that the common case, an unwanted VarSet, costs no more slicing.
        self.keep = frozenset(_EVENT + n.encode() for n in keep)
        self.when: dict[bytes, tuple[bytes, int, tuple[bytes, ...], tuple[bytes, ...]]] = {}
        for name, (h, values) in when.items():
            header = b"\r\n" + h.encode() + b": "
            wanted = tuple(sorted(v.encode() for v in values))
            self.when[_EVENT + name.encode()] = (
                header,
                len(header),
                tuple(v + b"\r\n" for v in wanted),
                # on the last line: ending with a wanted value (a superset of "is it": kept, not lost)
                wanted,
            )

    def select(self, frames: list[bytes], buf: bytes) -> list[bytes]:
        """The messages of ``frames`` (all cut from ``buf``) that are not unwanted events."""
        keep, when = self.keep, self.when
        out: list[bytes] = []
        add = out.append
        # Events answering an action (CoreShowChannel, OriginateResponse) go to panoramisk, which
        # matches them by ActionID alone: a read with an ActionID line anywhere (one scan; a Ping's
        # answer every ping_interval) checks every message it would drop.
        answers: bool | None = None
        for f in frames:
            nl = f.find(b"\r\n")
            head = f if nl < 0 else f[:nl]
            if head in keep:
                add(f)
                continue
            cond = when.get(head)
            if cond is not None:
                header, skip, wanted, wanted_last = cond
                at = f.find(header, nl) if nl >= 0 else -1
                # absent or written unusually (the parser and the tracker decide), or wanted
                if at < 0 or f.startswith(wanted, at + skip) or f.endswith(wanted_last):
                    add(f)
                    continue
            elif not head.startswith(_EVENT):
                if f:
                    add(f)
                continue
            if answers is None:
                answers = _ACTION_ID in buf
            if answers and _ACTION_ID in f:
                add(f)
        return out


class FrameBuffer:
    """Accumulates bytes and returns whole raw messages; a banner line is kept once as ``banner``.

    With an ``event_filter``, unwanted events are counted in ``skipped`` instead of being returned."""

    __slots__ = ("_buf", "banner", "dropped", "event_filter", "skipped")

    def __init__(self, event_filter: EventFilter | None = None) -> None:
        self._buf = b""
        self.banner: str | None = None
        self.dropped = 0
        self.skipped = 0
        self.event_filter = event_filter

    def feed(self, data: bytes) -> list[bytes]:
        """The messages completed by ``data``, in order (a whole read split at once: C speed)."""
        buf = self._buf + data if self._buf else data
        if self.banner is None:
            nl = buf.find(b"\r\n")
            if nl < 0:
                self._buf = buf[-MAX_MESSAGE:]
                return []
            first = buf[:nl]
            if first.startswith(b"Asterisk Call Manager/"):
                self.banner = first.decode("utf-8", "replace")
                buf = buf[nl + 2 :]
            else:
                self.banner = ""
        frames = buf.split(_SEP)
        rest = frames.pop()
        if len(rest) > MAX_MESSAGE:
            self.dropped += 1
            rest = b""
        self._buf = rest
        if self.event_filter is not None:
            n = len(frames) - frames.count(b"")
            frames = self.event_filter.select(frames, buf)
            self.skipped += n - len(frames)
        elif b"" in frames:
            frames = [f for f in frames if f]
        return frames


def parse_stream(data: bytes) -> Iterator[dict[str, str]]:
    """All parseable messages of a captured stream (a trace file); malformed ones are skipped."""
    fb = FrameBuffer()
    for raw in fb.feed(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")):
        try:
            yield parse_message(raw)
        except Malformed:
            continue
