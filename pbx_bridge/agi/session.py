"""One FastAGI connection: its bytes (``Connection``, an ``asyncio.Protocol``) and, as a route sees it,
its environment and commands (``AgiSession``).

A cid call is seven round trips and little else, so lines are split and replies parsed in
``data_received`` and handed straight to the command waiting for them (no reader task, queue,
``readline`` or ``drain`` per line; less than half the CPU per call, see docs/callerid.md "Speed").
An unsolicited ``HANGUP`` only sets a flag, so replies never pair with the wrong command; EOF ends
whatever waits. The parsing and formatting themselves are :mod:`pbx_bridge.agi.protocol`'s; accepting
connections, the limits and the routes are :mod:`pbx_bridge.agi.server`'s, which owns every connection
through :class:`ConnectionOwner`.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Mapping
from typing import Protocol, cast

from pbx_bridge.agi.errors import (
    AgiCommandError,
    AgiConnectionClosed,
    AgiHangup,
    AgiProtocolError,
    AgiTimeout,
    AgiUsageError,
)
from pbx_bridge.agi.protocol import (
    ReplyReader,
    format_command,
    parse_env_line,
    quote,
    sanitize_value,
    validate_variable_name,
)
from pbx_bridge.agi.reply import AgiReply

__all__ = ["AgiSession", "Connection", "ConnectionOwner"]

_MAX_ENV_LINES = 256  # Asterisk sends ~25 lines plus agi_arg_N (at most 127 arguments)
_MAX_LINE_BYTES = 8192  # longer lines are malformed; skipped, not buffered
_MAX_PENDING = 64  # replies nobody asked for (yet), kept in order for the next commands
# Commands Asterisk answers at once (no audio, no dialplan application): a session waiting on one of them
# longer than ``stall_grace`` is a peer sitting on the question, and may be pushed out at the cap.
_QUICK_COMMANDS = (
    "SET VARIABLE",
    "GET VARIABLE",
    "GET FULL VARIABLE",
    "VERBOSE",
    "CHANNEL STATUS",
    "DATABASE ",
    "NOOP",
    "ANSWER",
    "SET CALLERID",
    "SET CONTEXT",
    "SET EXTENSION",
    "SET PRIORITY",
)
_EOF = object()
# A plain environment line, a strict subset of what parse_env_line accepts (same key and value for it).
_ENV_LINE_RE = re.compile(r"^(\w*[A-Za-z0-9]\w*): ?(.*)$", re.M | re.ASCII)


class ConnectionOwner(Protocol):
    """What a connection reports to the server that accepted it (the server keeps the counts and limits)."""

    def connected(self, conn: Connection) -> None: ...

    def env_complete(self, conn: Connection) -> None: ...

    def count_malformed(self, conn: Connection, line: str) -> None: ...


class Connection(asyncio.Protocol):
    """The bytes side of one FastAGI connection: splits lines, parses the environment and the replies.

    Environment lines fill ``env`` until the blank line resolves ``env_ready``. After it each reply is
    parsed at once and handed to the command waiting for it (``waiter``), or kept in order for the next
    one; ``HANGUP`` only sets ``hangup``. EOF resolves whatever waits with ``_EOF``. Writes never wait for
    ``drain``: AGI is strictly one command then its reply, so at most one command line is ever buffered.
    """

    def __init__(self, owner: ConnectionOwner) -> None:
        self._owner = owner
        self.transport: asyncio.Transport | None = None
        self.env: dict[str, str] = {}
        self.env_ready: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self.waiter: asyncio.Future[object] | None = None
        self.pending: deque[object] = deque()
        self.hangup = False
        self.closed = False
        self.route = ""
        self._env_lines = 0
        self.malformed = 0
        self.peer = ""
        self.evicted = False
        # When the session sent a command Asterisk answers at once and is still waiting for its reply
        # (loop time), else None. Read by the server only at the connection cap, so the per-command
        # cost is one attribute store (no call, no shared dict).
        self.quick_since: float | None = None
        self._buf = b""
        self._discarding = False  # inside a line over _MAX_LINE_BYTES: drop up to its newline
        self._parser = ReplyReader()

    # ---- asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # No isinstance check: other loops' transports (uvloop) are not asyncio.Transport subclasses.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        self._owner.connected(self)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return  # closed by us (evicted, refused, too much junk): the rest is not read
        if self._discarding:
            nl = data.find(b"\n")
            if nl < 0:
                return
            self._discarding = False
            self._malformed("<line too long>")
            data = data[nl + 1 :]
        if not self._buf and self.env_ready.done():
            # The usual segment after the environment: one "200 result=1" line (no split, no decode).
            common = self._parser.common_segment(data)
            if common is not None:
                self._deliver(common)
                return
        buf = self._buf + data if self._buf else data
        start = 0
        if not self.env_ready.done():
            start = self._env_lines_in(buf)
        while not self.closed:  # bounded by the data received
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            if nl - start > _MAX_LINE_BYTES:
                self._malformed("<line too long>")
            else:
                self._line(buf[start:nl].decode("utf-8", errors="replace"))
            start = nl + 1
        rest = buf[start:]
        if len(rest) > _MAX_LINE_BYTES:
            self._discarding = True
            rest = b""
        self._buf = rest

    def _env_lines_in(self, buf: bytes) -> int:
        """Parse environment lines from ``buf`` until the blank line; returns where parsing stopped.

        Asterisk sends the whole block (~25 lines) in one segment: when all of it is there and every line is
        plain ``key: value`` (ASCII key, no CR), one regex pass parses it; otherwise line by line.
        """
        env = self.env
        if self._env_lines == 0:
            end = buf.find(b"\n\n")
            if 0 < end <= _MAX_LINE_BYTES and b"\r" not in buf[:end]:
                text = buf[:end].decode("utf-8", errors="replace")
                pairs = _ENV_LINE_RE.findall(text)
                if len(pairs) == text.count("\n") + 1 <= _MAX_ENV_LINES:
                    env.update(pairs)
                    self._env_lines = len(pairs)
                    self._env_complete()
                    return end + 2
        start = 0
        while not self.closed:  # bounded by len(buf)
            nl = buf.find(b"\n", start)
            if nl < 0:
                return start
            raw = buf[start:nl]
            start = nl + 1
            if len(raw) > _MAX_LINE_BYTES:
                self._malformed("<line too long>")
                continue
            line = raw.decode("utf-8", errors="replace")
            if line.endswith("\r"):
                line = line.rstrip("\r")
            if not line:
                self._env_complete()
                return start
            self._env_lines += 1
            if self._env_lines > _MAX_ENV_LINES:
                self.env_ready.set_exception(
                    AgiProtocolError(f"AGI environment longer than {_MAX_ENV_LINES} lines")
                )
                return len(buf)
            item = parse_env_line(line)
            if item is None:
                self._malformed(line)
                continue
            env[item[0]] = item[1]
        return len(buf)

    def _env_complete(self) -> None:
        self.env_ready.set_result(self.env)
        self._owner.env_complete(self)

    def eof_received(self) -> bool:
        return False  # Asterisk is done with this connection: close it (connection_lost follows)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.env_ready.done():
            # EOF in the middle of the environment (or before it): a health check, a scanner, a restart.
            self.env_ready.set_exception(AgiConnectionClosed("closed before the end of the AGI environment"))
        self._deliver(_EOF)

    # ---- lines
    def _line(self, line: str) -> None:
        if line.endswith("\r"):
            line = line.rstrip("\r")
        try:
            event = self._parser.feed(line)
        except AgiProtocolError:
            self._malformed(line)
            return
        if event == "hangup":
            self.hangup = True
        elif event is not None:
            self._deliver(event)

    def _deliver(self, event: object) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            self.waiter = None
            waiter.set_result(event)
        elif event is _EOF or len(self.pending) < _MAX_PENDING:
            self.pending.append(event)
        else:
            self._malformed("<reply nobody asked for>")

    def _malformed(self, line: str) -> None:
        self.malformed += 1
        self._owner.count_malformed(self, line)

    # ---- driven by the session task
    def env_timed_out(self, limit: float) -> None:
        if not self.env_ready.done():
            self.env_ready.set_exception(AgiTimeout(f"no complete AGI environment within {limit:g} s"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection now, unread data and all (eviction, refusal, junk)."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


def _expire(fut: asyncio.Future[object]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


class AgiSession:
    """One FastAGI connection, as a route sees it.

    ``env`` is the environment (``agi_*`` keys), ``args`` the AGI arguments in order, ``query`` the
    parameters of ``route?x=y``. Commands run one at a time; once the channel is known to be gone every
    command raises :class:`AgiHangup`.
    """

    def __init__(
        self,
        conn: Connection,
        env: dict[str, str],
        *,
        route: str = "",
        query: Mapping[str, str] | None = None,
        command_timeout: float = 10.0,
    ) -> None:
        self.env = env
        self.route = route
        self.query: dict[str, str] = dict(query or {})
        self.args: list[str] = _args_from_env(env)
        self.command_timeout = command_timeout
        self._conn = conn
        self._lock = asyncio.Lock()
        self._broken = ""  # set after a timeout: a late reply would pair with the wrong command
        self.commands_sent = 0
        # Command timeouts: one watchdog timer per session, re-armed lazily, instead of a timer per command.
        self._waiting: tuple[asyncio.Future[object], float] | None = None  # (reply future, deadline)
        self._watchdog: asyncio.TimerHandle | None = None

    # ---- environment shortcuts
    @property
    def callerid(self) -> str:
        """The caller's number as Asterisk has it (``agi_callerid``): never an argument the caller chose."""
        return self.env.get("agi_callerid", "")

    @property
    def calleridname(self) -> str:
        return self.env.get("agi_calleridname", "")

    @property
    def channel(self) -> str:
        return self.env.get("agi_channel", "")

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def hung_up(self) -> bool:
        return self._conn.hangup

    @property
    def peer(self) -> str:
        """The address the connection came from (a route may have its own allow-list)."""
        return self._conn.peer

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._conn.close()

    def _check_timeout(self) -> None:
        self._watchdog = None
        waiting = self._waiting
        if waiting is None:
            return  # idle now: the next command arms the watchdog again
        fut, deadline = waiting
        loop = asyncio.get_running_loop()
        if loop.time() + 0.001 >= deadline:
            _expire(fut)
        else:
            self._watchdog = loop.call_at(deadline, self._check_timeout)

    # ---- commands
    async def command(self, text: str, *, probe_on_failure: bool = True) -> AgiReply:
        """Send one command and return its reply.

        Raises :class:`AgiHangup` when the channel is gone (HANGUP seen, 511, or ``result=-1`` and
        ``CHANNEL STATUS`` confirms a dead channel), :class:`AgiConnectionClosed` on EOF,
        :class:`AgiTimeout` after ``command_timeout``, :class:`AgiCommandError` for other 5xx replies.
        A ``result=-1`` on a live channel (e.g. a missing sound file) is returned, ``reply.failed`` True.
        """
        data = format_command(text)
        async with self._lock:
            reply = await self._exchange(text, data)
            if reply.failed and probe_on_failure:
                status = await self._exchange("CHANNEL STATUS", format_command("CHANNEL STATUS"))
                if not status.ok:
                    raise AgiHangup("channel gone (result=-1, then no channel status)")
            return reply

    async def _exchange(self, text: str, data: bytes) -> AgiReply:
        conn = self._conn
        if conn.hangup:
            raise AgiHangup("the caller hung up")
        if conn.closed:
            raise AgiConnectionClosed("Asterisk closed the connection")
        if self._broken:
            raise AgiTimeout(self._broken)
        if conn.pending:
            event = conn.pending.popleft()  # a reply that came early pairs with this command, in order
            if event is not _EOF:
                self._write(data)
        else:
            loop = asyncio.get_running_loop()
            fut: asyncio.Future[object] = loop.create_future()
            conn.waiter = fut
            self._write(data)
            now = loop.time()
            deadline = now + self.command_timeout
            self._waiting = (fut, deadline)
            if self._watchdog is None:
                self._watchdog = loop.call_at(deadline, self._check_timeout)
            quick = text.upper().startswith(_QUICK_COMMANDS)
            if quick:
                conn.quick_since = now
            try:
                event = await fut
            except TimeoutError:
                self._broken = "session abandoned after a command timed out"
                raise AgiTimeout(f"no reply within {self.command_timeout:g} s") from None
            finally:
                conn.quick_since = None
                self._waiting = None
                if conn.waiter is fut:
                    conn.waiter = None
        if event is _EOF:
            conn.pending.appendleft(_EOF)  # later commands see it too
            raise AgiConnectionClosed("Asterisk closed the connection")
        assert isinstance(event, AgiReply)
        if event.code == 511:
            conn.hangup = True
            raise AgiHangup("command refused on a dead channel (511)")
        if event.code == 520:
            raise AgiUsageError(text, event)
        if not event.ok:
            raise AgiCommandError(text, event)
        return event

    def _write(self, data: bytes) -> None:
        transport = self._conn.transport
        if transport is None or transport.is_closing():
            raise AgiConnectionClosed("connection lost")
        transport.write(data)
        self.commands_sent += 1

    # ---- helpers (values are sanitized and quoted; names validated)
    async def set_variable(self, name: str, value: object) -> AgiReply:
        return await self.command(f"SET VARIABLE {validate_variable_name(name)} {quote(value)}")

    async def get_variable(self, name: str) -> str | None:
        """The variable's value, or None when it is not set (``result=0``)."""
        reply = await self.command(f"GET VARIABLE {validate_variable_name(name)}", probe_on_failure=False)
        return reply.data if reply.result == "1" else None

    async def verbose(self, message: str, level: int = 1) -> AgiReply:
        return await self.command(f"VERBOSE {quote(message)} {int(level)}")

    async def answer(self) -> AgiReply:
        return await self.command("ANSWER")

    async def stream_file(
        self, filename: str, escape_digits: str = "", offset: int | None = None
    ) -> AgiReply:
        """Play a sound file. ``reply.failed`` on a live channel means the file is missing; ``reply.result``
        is the ASCII code of an escape digit pressed, or "0"."""
        cmd = f"STREAM FILE {_word(filename)} {quote(escape_digits)}"
        if offset is not None:
            cmd += f" {int(offset)}"
        return await self.command(cmd)

    async def say_number(self, number: int, escape_digits: str = "", gender: str = "") -> AgiReply:
        cmd = f"SAY NUMBER {int(number)} {quote(escape_digits)}"
        if gender:
            cmd += f" {_word(gender)}"
        return await self.command(cmd)

    async def say_digits(self, digits: str, escape_digits: str = "") -> AgiReply:
        if not digits.isdigit():
            raise ValueError("say_digits takes digits only")
        return await self.command(f"SAY DIGITS {digits} {quote(escape_digits)}")

    async def get_data(
        self, filename: str, timeout_ms: int | None = None, max_digits: int | None = None
    ) -> str:
        """Play ``filename`` and collect DTMF; returns the digits ("" on timeout with nothing pressed)."""
        cmd = f"GET DATA {_word(filename)}"
        if timeout_ms is not None:
            cmd += f" {int(timeout_ms)}"
            if max_digits is not None:
                cmd += f" {int(max_digits)}"
        reply = await self.command(cmd)
        if reply.failed:
            return ""
        return reply.result

    async def channel_status(self) -> int:
        """0-7 as res_agi defines them (6 = Up); raises AgiHangup on a dead channel."""
        reply = await self.command("CHANNEL STATUS", probe_on_failure=False)
        value = reply.result_int
        if value is None or value < 0:
            raise AgiHangup("no channel")
        return value

    async def hangup(self) -> AgiReply:
        return await self.command("HANGUP", probe_on_failure=False)


def _word(text: str) -> str:
    """A bare word argument (file names, genders): no blanks or quotes, which parse_args would split."""
    clean = sanitize_value(text)
    if not clean or any(c in clean for c in ' \t"\\'):
        raise ValueError(f"not a single AGI word: {text!r}")
    return clean


def _args_from_env(env: Mapping[str, str]) -> list[str]:
    numbered: list[tuple[int, str]] = []
    for key, value in env.items():
        if key.startswith("agi_arg_") and key[8:].isdigit():
            numbered.append((int(key[8:]), value))
    return [v for _, v in sorted(numbered)]
