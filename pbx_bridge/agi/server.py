"""The FastAGI server: one asyncio task per Asterisk connection, routes by ``agi_network_script``.

Written on a plain ``asyncio.Protocol`` instead of ``panoramisk.fast_agi`` because every defect listed in
docs/panoramisk.md (1-6) sits in its connection handler, which is most of that module. A Protocol
rather than asyncio streams because a cid call is seven round trips and little else: lines are split and
replies parsed in ``data_received`` and handed straight to the command waiting for them (no reader task,
queue, ``readline`` or ``drain`` per line; less than half the CPU per call, see docs/callerid.md "Speed").

1. early close before the environment (spins at 100% CPU): EOF ends the session here;
2. no timeouts: the environment read has ``env_timeout``, each command ``command_timeout``, a whole
   session ``session_timeout``;
3. unsolicited ``HANGUP`` paired with the next command: every line is read as it arrives; ``HANGUP``
   only sets a flag, replies go to the command waiting for them, so pairing never shifts;
4. sync routes: a route may be a plain function (its return value is awaited only if awaitable);
5. ``route?x=y``: the query is split off and parsed into ``AgiSession.query``;
6. no ``get_event_loop()``: the running loop is used.

A malformed line is logged and skipped; a failing route is logged and counted. Neither reaches Asterisk
beyond closing the socket, which lets the call continue (``AGISTATUS=SUCCESS``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import re
import resource
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

from pbx_bridge.agi.errors import (
    AgiCommandError,
    AgiConnectionClosed,
    AgiError,
    AgiHangup,
    AgiProtocolError,
    AgiTimeout,
    AgiUsageError,
)
from pbx_bridge.agi.protocol import (
    AgiReply,
    ReplyReader,
    format_command,
    parse_env_line,
    quote,
    sanitize_value,
    split_script,
    validate_variable_name,
)
from pbx_bridge.allow import networks, peer_allowed
from pbx_bridge.component import Health
from pbx_bridge.log_limits import Throttle, clip, summarise_accept_errors
from pbx_bridge.metrics import Metrics

__all__ = [
    "AgiConnectionClosed",
    "AgiHangup",
    "AgiReply",
    "AgiSession",
    "FastAgiServer",
    "Route",
]

log = logging.getLogger(__name__)

Route = Callable[["AgiSession"], Awaitable[None]]

_MAX_ENV_LINES = 256          # Asterisk sends ~25 lines plus agi_arg_N (at most 127 arguments)
_MAX_LINE_BYTES = 8192        # longer lines are malformed; skipped, not buffered
_MAX_PENDING = 64             # replies nobody asked for (yet), kept in order for the next commands
_MAX_MALFORMED = 10           # malformed lines one connection may send before it is closed (Asterisk: none)
# asyncio accepts up to ``backlog`` connections per wake-up before any of them is read: that batch, not
# the kernel queue, decides how many newcomers can push a real request out of the cap before its
# environment is read, so it stays small; the kernel's listen queue is made long separately.
_ACCEPT_BATCH = 128
_LISTEN_QUEUE = 4096          # a burst of calls must not be refused (or SYN-retried 1 s later) by the kernel
_FD_RESERVE = 128             # descriptors left for the state database, HTTP, ITFlow and AMI
DEFAULT_ALLOW = ("127.0.0.0/8", "::1/128")
_EOF = object()
# A plain environment line, a strict subset of what parse_env_line accepts (same key and value for it).
_ENV_LINE_RE = re.compile(r"^(\w*[A-Za-z0-9]\w*): ?(.*)$", re.M | re.ASCII)


class _Connection(asyncio.Protocol):
    """The bytes side of one FastAGI connection: splits lines, parses the environment and the replies.

    Environment lines fill ``env`` until the blank line resolves ``env_ready``. After it each reply is
    parsed at once and handed to the command waiting for it (``waiter``), or kept in order for the next
    one; ``HANGUP`` only sets ``hangup``. EOF resolves whatever waits with ``_EOF``. Writes never wait for
    ``drain``: AGI is strictly one command then its reply, so at most one command line is ever buffered.
    """

    def __init__(self, server: FastAgiServer) -> None:
        self._server = server
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
        self._buf = b""
        self._discarding = False          # inside a line over _MAX_LINE_BYTES: drop up to its newline
        self._parser = ReplyReader()

    # ---- asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # No isinstance check: other loops' transports (uvloop) are not asyncio.Transport subclasses.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        self._server._on_connection(self)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return            # closed by us (evicted, refused, too much junk): the rest is not read
        if self._discarding:
            nl = data.find(b"\n")
            if nl < 0:
                return
            self._discarding = False
            self._malformed("<line too long>")
            data = data[nl + 1:]
        buf = self._buf + data if self._buf else data
        start = 0
        if not self.env_ready.done():
            start = self._env_lines_in(buf)
        while not self.closed:   # bounded by the data received
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
        while not self.closed:   # bounded by len(buf)
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
                    AgiProtocolError(f"AGI environment longer than {_MAX_ENV_LINES} lines"))
                return len(buf)
            item = parse_env_line(line)
            if item is None:
                self._malformed(line)
                continue
            env[item[0]] = item[1]
        return len(buf)

    def _env_complete(self) -> None:
        self.env_ready.set_result(self.env)
        self._server._env_complete(self)

    def eof_received(self) -> bool:
        return False          # Asterisk is done with this connection: close it (connection_lost follows)

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
        self._server._count_malformed(self, line)

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

    def __init__(self, conn: _Connection, env: dict[str, str], *, route: str = "",
                 query: Mapping[str, str] | None = None, command_timeout: float = 10.0) -> None:
        self.env = env
        self.route = route
        self.query: dict[str, str] = dict(query or {})
        self.args: list[str] = _args_from_env(env)
        self.command_timeout = command_timeout
        self._conn = conn
        self._lock = asyncio.Lock()
        self._broken = ""        # set after a timeout: a late reply would pair with the wrong command
        self.commands_sent = 0
        # Command timeouts: one watchdog timer per session, re-armed lazily, instead of a timer per command.
        self._waiting: tuple[asyncio.Future[object], float] | None = None   # (reply future, deadline)
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
            return                      # idle now: the next command arms the watchdog again
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
            event = conn.pending.popleft()      # a reply that came early pairs with this command, in order
            if event is not _EOF:
                self._write(data)
        else:
            loop = asyncio.get_running_loop()
            fut: asyncio.Future[object] = loop.create_future()
            conn.waiter = fut
            self._write(data)
            deadline = loop.time() + self.command_timeout
            self._waiting = (fut, deadline)
            if self._watchdog is None:
                self._watchdog = loop.call_at(deadline, self._check_timeout)
            try:
                event = await fut
            except TimeoutError:
                self._broken = "session abandoned after a command timed out"
                raise AgiTimeout(f"no reply within {self.command_timeout:g} s") from None
            finally:
                self._waiting = None
                if conn.waiter is fut:
                    conn.waiter = None
        if event is _EOF:
            conn.pending.appendleft(_EOF)     # later commands see it too
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

    async def stream_file(self, filename: str, escape_digits: str = "",
                          offset: int | None = None) -> AgiReply:
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

    async def get_data(self, filename: str, timeout_ms: int | None = None,
                       max_digits: int | None = None) -> str:
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


def connections_that_fit(nofile: int) -> int:
    """How many open connections an open-file limit leaves room for: besides the open ones, up to a batch
    accepted but not yet seen, a batch being pushed out (closed on the next loop turn), one more batch in
    flight, and the daemon's own files."""
    return max(16, nofile - 3 * _ACCEPT_BATCH - _FD_RESERVE)


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


class FastAgiServer:
    """A Component serving FastAGI routes; ``port=0`` picks a free port (see ``.port`` after start).

    Asterisk is the only legitimate peer, and it sends its whole environment the moment it connects.
    So: peers outside ``allow`` are dropped at once; at most ``max_connections`` are open, and a newcomer
    at the cap pushes out the oldest connection that has not sent a complete environment yet (a slow or
    idle one; on loopback a flood comes from the same address as Asterisk, so the address cannot decide);
    only when every open connection is a real session is the newcomer refused. Repeated log lines
    (refusals, evictions, junk, timeouts) are summarised once per ``log_interval``.
    """

    name = "fastagi"

    def __init__(self, host: str, port: int, routes: Mapping[str, Route | Callable[[AgiSession], Any]], *,
                 env_timeout: float = 2.0, command_timeout: float = 10.0, session_timeout: float = 900.0,
                 allow: Sequence[str] = DEFAULT_ALLOW, max_connections: int = 2048,
                 log_interval: float = 10.0, metrics: Metrics | None = None) -> None:
        self.host = host
        self.port = port
        self.routes = dict(routes)
        self.env_timeout = env_timeout
        self.command_timeout = command_timeout
        self.session_timeout = session_timeout
        self.allow = networks(allow)
        self.max_connections = max_connections
        self.metrics = metrics
        self._log = Throttle(log, interval=log_interval)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._open: set[_Connection] = set()
        # Connections still without a complete environment, oldest first (a dict keeps insertion order).
        self._unready: dict[_Connection, None] = {}
        self._stopping = False
        self.stats: dict[str, int] = {"sessions": 0, "malformed_lines": 0, "errors": 0, "no_route": 0,
                                      "early_close": 0, "timeouts": 0, "hangups": 0, "not_allowed": 0,
                                      "evicted": 0, "refused_full": 0, "junk_closed": 0}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.max_connections = self._fit_fd_limit(self.max_connections)
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self.port,
                                                backlog=_ACCEPT_BATCH)
        for sock in self._server.sockets:
            # asyncio's accept batch stays _ACCEPT_BATCH; listen() again (on a duplicate of the same
            # socket: asyncio hides the object) lengthens only the kernel's queue.
            with socket.socket(fileno=os.dup(sock.fileno())) as raw:
                raw.listen(_LISTEN_QUEUE)
        summarise_accept_errors(loop, self._log)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("FastAGI listening on %s:%d (at most %d connections), routes: %s", self.host, self.port,
                 self.max_connections, ", ".join(sorted(self.routes)))

    @staticmethod
    def _fit_fd_limit(wanted: int) -> int:
        """The cap, lowered to what the open-file limit allows: past it every accept fails (EMFILE) and
        asyncio stops accepting for a second each time, which is what makes real calls wait."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return wanted
        room = connections_that_fit(soft)
        if wanted > room:
            log.warning("FastAGI: fastagi.max_connections %d does not fit the open-file limit %d; using %d "
                        "(raise LimitNOFILE= in the systemd unit)", wanted, soft, room)
            return room
        return wanted

    async def stop(self, deadline: float) -> None:
        """Refuse new connections, let running sessions finish until ``deadline``, then cancel them."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        loop = asyncio.get_running_loop()
        pending = set(self._tasks)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=max(0.0, deadline - loop.time()))
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)
        self._server = None
        self._log.close()

    async def wait_idle(self, limit: float) -> bool:
        """Wait until no session is running (True) or ``limit`` seconds passed (False)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + limit
        for _ in range(1000):   # sessions may start while we wait; bounded anyway
            if not self._tasks:
                return True
            remaining = end - loop.time()
            if remaining <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return not self._tasks

    def health(self) -> Health:
        serving = self._server is not None and self._server.is_serving()
        return Health(ok=serving, detail=f"{self.host}:{self.port}" if serving else "not listening",
                      data={"active_sessions": len(self._tasks), "open_connections": len(self._open),
                            **self.stats})

    # ---- per connection
    def _on_connection(self, conn: _Connection) -> None:
        if not peer_allowed(conn.peer, self.allow):
            self._dropped("not_allowed")
            self._log.log("not_allowed", logging.WARNING,
                          "FastAGI: refused a connection from %s (not in fastagi.allow)", clip(conn.peer, 60))
            conn.abort()
            return
        if len(self._open) >= self.max_connections and not self._make_room():
            self._dropped("refused_full")
            self._log.log("refused_full", logging.WARNING,
                          "FastAGI: %d sessions running, the most fastagi.max_connections allows; refused a "
                          "connection from %s", len(self._open), clip(conn.peer, 60))
            conn.abort()
            return
        self._open.add(conn)
        self._unready[conn] = None
        # Own the task (a reference kept, exceptions retrieved) instead of letting asyncio run a coroutine.
        task = asyncio.get_running_loop().create_task(self._serve(conn), name="fastagi-session")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _make_room(self) -> bool:
        """Close the oldest connection without a complete environment; False if every one is a session."""
        victim = next(iter(self._unready), None)
        if victim is None:
            return False
        self._forget(victim)
        victim.abort()
        self._dropped("evicted")
        self._log.log("evicted", logging.WARNING,
                      "FastAGI: at the connection cap (%d): closed the oldest connection that had sent no "
                      "complete AGI environment (from %s)", self.max_connections, clip(victim.peer, 60))
        return True

    def _dropped(self, reason: str) -> None:
        self.stats[reason] += 1
        if self.metrics is not None:
            self.metrics.child(self.metrics.agi_dropped, reason).inc()

    def _env_complete(self, conn: _Connection) -> None:
        self._unready.pop(conn, None)

    def _forget(self, conn: _Connection) -> None:
        self._open.discard(conn)
        self._unready.pop(conn, None)

    async def _serve(self, conn: _Connection) -> None:
        self.stats["sessions"] += 1
        route_label = "unknown"
        result = "ok"
        session: AgiSession | None = None
        try:
            env = await self._read_env(conn)
            script = env.get("agi_network_script") or env.get("agi_request", "").rpartition("/")[2]
            name, query = split_script(script)
            handler = self.routes.get(name)
            if handler is None:
                result = "no_route"
                self.stats["no_route"] += 1
                # Otherwise a silent no-op: Asterisk reports AGISTATUS=SUCCESS either way.
                self._log.log("no_route", logging.WARNING,
                              "FastAGI: no route %r (known: %s); the call continues unchanged",
                              clip(name, 60), ", ".join(sorted(self.routes)))
                return
            route_label = conn.route = name
            session = AgiSession(conn, env, route=name, query=query, command_timeout=self.command_timeout)
            async with asyncio.timeout(self.session_timeout):
                outcome = handler(session)
                if inspect.isawaitable(outcome):
                    await outcome
        except AgiConnectionClosed:
            if session is None:
                result = "early_close"
                self.stats["early_close"] += 1
                log.debug("FastAGI: peer closed before sending the environment")
            else:
                result = "hangup"
                self.stats["hangups"] += 1
        except AgiHangup:
            result = "hangup"
            self.stats["hangups"] += 1
        except (AgiTimeout, TimeoutError) as exc:
            result = "timeout"
            self.stats["timeouts"] += 1
            self._log.log(f"timeout:{route_label}", logging.WARNING, "FastAGI %s: %s", route_label,
                          str(exc) or "session took too long")
        except AgiError as exc:
            result = "error"
            self.stats["errors"] += 1
            self._log.log(f"error:{route_label}", logging.WARNING, "FastAGI %s: %s", route_label, exc)
        except asyncio.CancelledError:
            result = "cancelled"
            raise
        except Exception:
            result = "error"
            self.stats["errors"] += 1
            log.exception("FastAGI route %s failed; the call continues", route_label)
        finally:
            self._forget(conn)
            if session is not None:
                await session.close()
            else:
                conn.close()
            if self.metrics is not None:
                self._count_session(route_label, result)

    def _count_session(self, route: str, result: str) -> None:
        assert self.metrics is not None
        self.metrics.child(self.metrics.agi_sessions, route, result).inc()

    def _count_malformed(self, conn: _Connection, line: str) -> None:
        self.stats["malformed_lines"] += 1
        where = conn.route if conn.env_ready.done() else "environment"
        self._log.log("malformed", logging.WARNING, "FastAGI %s: skipped a malformed line from %s: %r",
                      where or "-", clip(conn.peer, 60), clip(line, 80))
        if conn.malformed >= _MAX_MALFORMED and not conn.closed:
            # Asterisk sends none: a peer that keeps sending junk is not Asterisk.
            self._dropped("junk_closed")
            self._log.log("junk_closed", logging.WARNING,
                          "FastAGI: closed a connection from %s after %d malformed lines",
                          clip(conn.peer, 60), conn.malformed)
            self._forget(conn)
            conn.abort()

    async def _read_env(self, conn: _Connection) -> dict[str, str]:
        """The environment block (parsed by the connection as it arrives), within ``env_timeout``."""
        ready = conn.env_ready
        if ready.done():
            return ready.result()
        timer = asyncio.get_running_loop().call_later(self.env_timeout, conn.env_timed_out, self.env_timeout)
        try:
            return await ready
        finally:
            timer.cancel()
