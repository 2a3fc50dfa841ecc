"""Serve a captured AMI trace to an AMI consumer over a real TCP socket on 127.0.0.1.

For fast tests and benchmarks of AMI consumers without Asterisk. The traces in tests/fixtures/ami-traces/
are raw AMI streams (CRLF kept): the banner line, the capture's login response, then one event per
CRLF-CRLF-terminated block.

    trace = AmiTrace.load(TRACES / "answered.txt")
    async with AmiReplayServer([trace], speed=0, copies=50, username="u", secret="s") as server:
        ...connect your consumer to server.host:server.port, log in, read events...
        await server.streamed.wait()      # every connection got the whole stream

Behaviour, like Asterisk: banner ``Asterisk Call Manager/<v>``; ``Action: Login`` (checked when
``username`` is given; a wrong secret gets ``Response: Error`` and the socket closes) answered with the
caller's ActionID, then the events; ``Ping`` -> Pong; ``Logoff`` -> Goodbye and close; other actions ->
``Response: Error``. ``speed``: 1.0 = the trace's own pace (from the ``Timestamp`` headers), 10 = ten
times faster, 0 = as fast as the socket takes it. ``copies`` = N: the trace is multiplied into N concurrent
calls, each with rewritten Uniqueids/Linkedids and channel names (``stagger`` seconds apart).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

TRACES = Path(__file__).resolve().parents[1] / "fixtures" / "ami-traces"

_ID_KEY = re.compile(r"(Uniqueid|UniqueID|Linkedid)$")
_CHANNEL_VALUE = re.compile(r"^(?P<base>\S+-)(?P<seq>[0-9a-f]{8})(?P<half>;[12])?$")


@dataclasses.dataclass(frozen=True)
class AmiTrace:
    """One capture: its banner, and its event blocks (bytes, without the CRLF-CRLF terminator)."""

    name: str
    banner: bytes
    events: tuple[bytes, ...]

    @classmethod
    def load(cls, path: Path | str) -> AmiTrace:
        path = Path(path)
        data = path.read_bytes()
        banner, _, rest = data.partition(b"\r\n")
        if not banner.startswith(b"Asterisk Call Manager/"):
            raise ValueError(f"{path}: not an AMI capture (first line {banner[:60]!r})")
        blocks = [b for b in rest.split(b"\r\n\r\n") if b.strip()]
        events = tuple(b for b in blocks if b.startswith(b"Event: "))
        return cls(path.name, banner, events)

    def event_names(self) -> list[str]:
        return [b.split(b"\r\n", 1)[0][len(b"Event: ") :].decode() for b in self.events]


def _headers(block: bytes) -> list[tuple[str, str]]:
    out = []
    for line in block.decode("utf-8", errors="surrogateescape").split("\r\n"):
        key, _, value = line.partition(": ")
        out.append((key, value))
    return out


def _timestamp(block: bytes) -> float | None:
    m = re.search(rb"\r\nTimestamp: (\d+(?:\.\d+)?)", block)
    return float(m.group(1)) if m else None


def multiply(trace: AmiTrace, copies: int, stagger: float = 0.0) -> list[tuple[float | None, bytes]]:
    """The events of ``copies`` concurrent copies of ``trace`` as (time, block), merged in time order.

    Copy k keeps every value of copy 0 except: each Uniqueid/Linkedid ``E.S`` becomes ``E.(S + k*M)``
    (M = the trace's largest sequence + 1), each channel ``...-0000000a`` gets its hex sequence shifted
    the same way (so names stay unique per Asterisk), and Timestamps move by ``k * stagger``.
    """
    ids: set[str] = set()
    chans: set[str] = set()
    for block in trace.events:
        for key, value in _headers(block):
            if _ID_KEY.search(key) and re.fullmatch(r"\d+\.\d+", value):
                ids.add(value)
            elif key.endswith("Channel") and (m := _CHANNEL_VALUE.match(value)):
                chans.add(m.group("base") + m.group("seq"))
    id_span = max((int(i.split(".")[1]) for i in ids), default=0) + 1
    chan_span = max((int(c[-8:], 16) for c in chans), default=0) + 1
    out: list[tuple[float | None, bytes]] = []
    for k in range(copies):
        id_map = {i: f"{i.split('.')[0]}.{int(i.split('.')[1]) + k * id_span}" for i in ids}
        chan_map = {c: f"{c[:-8]}{int(c[-8:], 16) + k * chan_span:08x}" for c in chans}
        tokens = sorted([*id_map, *chan_map], key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(t) for t in tokens)) if tokens and k else None
        mapping = id_map | chan_map
        for block in trace.events:
            ts = _timestamp(block)
            if k and (pattern is not None or stagger):
                lines = []
                for line in block.decode("utf-8", errors="surrogateescape").split("\r\n"):
                    key, sep, value = line.partition(": ")
                    if not sep:
                        lines.append(line)
                        continue
                    if key == "Timestamp" and ts is not None:
                        value = f"{ts + k * stagger:.6f}"
                    elif pattern is not None and key not in ("Event", "Privilege"):
                        value = pattern.sub(lambda m, table=mapping: table[m.group(0)], value)
                    lines.append(f"{key}: {value}")
                block = "\r\n".join(lines).encode("utf-8", errors="surrogateescape")
            out.append((None if ts is None else ts + k * stagger, block))
    # stable merge by time; untimed events (FullyBooted) keep their place before the first timed one
    first = min((t for t, _ in out if t is not None), default=0.0)
    return sorted(out, key=lambda tb: first if tb[0] is None else tb[0])


def _reply(response: str, action_id_line: str, body: str) -> bytes:
    return f"Response: {response}\r\n{action_id_line}{body}\r\n\r\n".encode()


class AmiReplayServer:
    """An AMI server on 127.0.0.1 that plays traces to every client that logs in."""

    def __init__(
        self,
        traces: Sequence[AmiTrace],
        *,
        speed: float = 0.0,
        copies: int = 1,
        stagger: float = 0.0,
        username: str | None = None,
        secret: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        close_after: bool = False,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if not traces:
            raise ValueError("at least one trace")
        if speed < 0 or copies < 1:
            raise ValueError("speed >= 0 and copies >= 1")
        self.banner = traces[0].banner
        stream: list[tuple[float | None, bytes]] = []
        for trace in traces:
            stream += multiply(trace, copies, stagger)
        first = min((t for t, _ in stream if t is not None), default=0.0)
        self.stream = sorted(stream, key=lambda tb: first if tb[0] is None else tb[0])
        self.speed, self.username, self.secret = speed, username, secret
        self.host, self.port, self.close_after = host, port, close_after
        self._sleep = sleep
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.logins = 0
        self.streamed = asyncio.Event()  # set each time a client has received the whole stream

    async def __aenter__(self) -> AmiReplayServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        player: asyncio.Task[None] | None = None
        try:
            writer.write(self.banner + b"\r\n")
            await writer.drain()
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                action = dict(_headers(raw.rstrip(b"\r\n")))
                name = action.get("Action", "").lower()
                aid = f"ActionID: {action['ActionID']}\r\n" if "ActionID" in action else ""
                if name == "login":
                    ok = self.username is None or (
                        action.get("Username") == self.username and action.get("Secret") == self.secret
                    )
                    if not ok:
                        writer.write(_reply("Error", aid, "Message: Authentication failed"))
                        await writer.drain()
                        return
                    self.logins += 1
                    writer.write(_reply("Success", aid, "Message: Authentication accepted"))
                    await writer.drain()
                    if player is None:
                        player = asyncio.create_task(self._play(writer))
                elif name == "ping":
                    writer.write(_reply("Success", aid, "Ping: Pong\r\nTimestamp: 0.000000"))
                elif name == "logoff":
                    writer.write(_reply("Goodbye", aid, "Message: Thanks for all the fish."))
                    await writer.drain()
                    return
                else:
                    writer.write(_reply("Error", aid, "Message: Invalid/unknown command"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            if player is not None and not player.done():
                player.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await player
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._tasks.discard(task)

    async def _play(self, writer: asyncio.StreamWriter) -> None:
        prev: float | None = None
        for ts, block in self.stream:
            if self.speed and ts is not None:
                if prev is not None and ts > prev:
                    await self._sleep((ts - prev) / self.speed)
                prev = ts
            writer.write(block + b"\r\n\r\n")
            await writer.drain()
        self.streamed.set()
        if self.close_after:
            writer.close()
