"""The FastAGI server: one asyncio task per Asterisk connection, routes by ``agi_network_script``.

Written on plain asyncio streams instead of ``panoramisk.fast_agi`` because every defect listed in
shared/panoramisk-notes.md (1-6) sits in its connection handler, which is most of that module:

1. early close before the environment (spins at 100% CPU): EOF ends the session here;
2. no timeouts: the environment read has ``env_timeout``, each command ``command_timeout``, a whole
   session ``session_timeout``;
3. unsolicited ``HANGUP`` paired with the next command: a reader task consumes every line; ``HANGUP``
   only sets a flag, replies go to the command waiting for them, so pairing never shifts;
4. sync routes: a route may be a plain function (its return value is awaited only if awaitable);
5. ``route?x=y``: the query is split off and parsed into ``AgiSession.query``;
6. no ``get_event_loop()``: the running loop is used.

A malformed line is logged and skipped; a failing route is logged and counted. Neither reaches Asterisk
beyond closing the socket, which lets the call continue (``AGISTATUS=SUCCESS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

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
from pbx_bridge.component import Health
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
_EOF = object()


class AgiSession:
    """One FastAGI connection, as a route sees it.

    ``env`` is the environment (``agi_*`` keys), ``args`` the AGI arguments in order, ``query`` the
    parameters of ``route?x=y``. Commands run one at a time; once the channel is known to be gone every
    command raises :class:`AgiHangup`.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, env: dict[str, str],
                 *, route: str = "", query: Mapping[str, str] | None = None,
                 command_timeout: float = 10.0, on_malformed: Callable[[str], None] | None = None) -> None:
        self.env = env
        self.route = route
        self.query: dict[str, str] = dict(query or {})
        self.args: list[str] = _args_from_env(env)
        self.command_timeout = command_timeout
        self._reader = reader
        self._writer = writer
        self._replies: asyncio.Queue[object] = asyncio.Queue()
        self._lock = asyncio.Lock()
        self._hangup = False
        self._closed = False
        self._on_malformed = on_malformed
        self._pump_task: asyncio.Task[None] | None = None
        self._broken = ""        # set after a timeout: a late reply would pair with the wrong command
        self.commands_sent = 0

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
        return self._hangup

    # ---- lifecycle (driven by the server)
    def start(self) -> None:
        self._pump_task = asyncio.get_running_loop().create_task(self._pump(), name="agi-reader")

    async def close(self) -> None:
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump_task
        self._closed = True
        with contextlib.suppress(Exception):
            self._writer.close()

    async def _pump(self) -> None:
        """Read every line Asterisk sends; route replies to the waiting command, HANGUP to a flag."""
        parser = ReplyReader()
        try:
            while True:   # ends at EOF, on cancellation, or when the session closes
                try:
                    raw = await self._reader.readline()
                except ValueError:    # line over the stream limit: the reader dropped it
                    self._malformed("<line too long>")
                    continue
                except (ConnectionError, OSError):
                    break
                if not raw:
                    break
                if not raw.endswith(b"\n"):
                    break           # EOF in the middle of a line
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                try:
                    event = parser.feed(line)
                except AgiProtocolError:
                    self._malformed(line)
                    continue
                if event == "hangup":
                    self._hangup = True
                elif event is not None:
                    self._replies.put_nowait(event)
        finally:
            self._closed = True
            self._replies.put_nowait(_EOF)

    def _malformed(self, line: str) -> None:
        log.warning("FastAGI %s: skipped a malformed line: %r", self.route, line[:120])
        if self._on_malformed is not None:
            self._on_malformed(line)

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
        if self._hangup:
            raise AgiHangup("the caller hung up")
        if self._closed:
            raise AgiConnectionClosed("Asterisk closed the connection")
        if self._broken:
            raise AgiTimeout(self._broken)
        try:
            async with asyncio.timeout(self.command_timeout):
                self._writer.write(data)
                await self._writer.drain()
                self.commands_sent += 1
                event = await self._replies.get()
        except TimeoutError:
            self._broken = "session abandoned after a command timed out"
            raise AgiTimeout(f"no reply within {self.command_timeout:g} s") from None
        except (ConnectionError, OSError) as exc:
            raise AgiConnectionClosed(f"connection lost: {exc}") from None
        if event is _EOF:
            self._replies.put_nowait(_EOF)     # later commands see it too
            raise AgiConnectionClosed("Asterisk closed the connection")
        assert isinstance(event, AgiReply)
        if event.code == 511:
            self._hangup = True
            raise AgiHangup("command refused on a dead channel (511)")
        if event.code == 520:
            raise AgiUsageError(text, event)
        if not event.ok:
            raise AgiCommandError(text, event)
        return event

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
    """A Component serving FastAGI routes; ``port=0`` picks a free port (see ``.port`` after start)."""

    name = "fastagi"

    def __init__(self, host: str, port: int, routes: Mapping[str, Route | Callable[[AgiSession], Any]], *,
                 env_timeout: float = 5.0, command_timeout: float = 10.0, session_timeout: float = 900.0,
                 metrics: Metrics | None = None) -> None:
        self.host = host
        self.port = port
        self.routes = dict(routes)
        self.env_timeout = env_timeout
        self.command_timeout = command_timeout
        self.session_timeout = session_timeout
        self.metrics = metrics
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.stats: dict[str, int] = {"sessions": 0, "malformed_lines": 0, "errors": 0, "no_route": 0,
                                      "early_close": 0, "timeouts": 0, "hangups": 0}

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_connection, self.host, self.port,
                                                  limit=_MAX_LINE_BYTES)
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        log.info("FastAGI listening on %s:%d, routes: %s", self.host, self.port,
                 ", ".join(sorted(self.routes)))

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
                      data={"active_sessions": len(self._tasks), **self.stats})

    # ---- per connection
    def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Own the task (a reference kept, exceptions retrieved) instead of letting asyncio run a coroutine.
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer), name="fastagi-session")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats["sessions"] += 1
        route_label = "unknown"
        result = "ok"
        session: AgiSession | None = None
        try:
            env = await self._read_env(reader)
            script = env.get("agi_network_script") or env.get("agi_request", "").rpartition("/")[2]
            name, query = split_script(script)
            handler = self.routes.get(name)
            if handler is None:
                result = "no_route"
                self.stats["no_route"] += 1
                # Otherwise a silent no-op: Asterisk reports AGISTATUS=SUCCESS either way.
                log.warning("FastAGI: no route %r (known: %s); the call continues unchanged",
                            name[:60], ", ".join(sorted(self.routes)))
                return
            route_label = name
            session = AgiSession(reader, writer, env, route=name, query=query,
                                 command_timeout=self.command_timeout, on_malformed=self._count_malformed)
            session.start()
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
            log.warning("FastAGI %s: %s", route_label, exc or "session took too long")
        except AgiError as exc:
            result = "error"
            self.stats["errors"] += 1
            log.warning("FastAGI %s: %s", route_label, exc)
        except asyncio.CancelledError:
            result = "cancelled"
            raise
        except Exception:
            result = "error"
            self.stats["errors"] += 1
            log.exception("FastAGI route %s failed; the call continues", route_label)
        finally:
            if session is not None:
                await session.close()
            else:
                with contextlib.suppress(Exception):
                    writer.close()
            if self.metrics is not None:
                self.metrics.agi_sessions.labels(route=route_label, result=result).inc()

    def _count_malformed(self, _line: str) -> None:
        self.stats["malformed_lines"] += 1

    async def _read_env(self, reader: asyncio.StreamReader) -> dict[str, str]:
        env: dict[str, str] = {}
        try:
            async with asyncio.timeout(self.env_timeout):
                for _ in range(_MAX_ENV_LINES):
                    try:
                        raw = await reader.readline()
                    except ValueError:
                        self._count_malformed("")
                        log.warning("FastAGI: skipped an over-long environment line")
                        continue
                    if not raw or not raw.endswith(b"\n"):
                        raise AgiConnectionClosed("closed before the end of the AGI environment")
                    line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                    if line == "":
                        return env
                    item = parse_env_line(line)
                    if item is None:
                        self._count_malformed(line)
                        log.warning("FastAGI: skipped a malformed environment line: %r", line[:120])
                        continue
                    env[item[0]] = item[1]
        except TimeoutError:
            raise AgiTimeout(f"no complete AGI environment within {self.env_timeout:g} s") from None
        raise AgiProtocolError(f"AGI environment longer than {_MAX_ENV_LINES} lines")
