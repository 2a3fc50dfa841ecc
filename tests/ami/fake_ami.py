"""A raw TCP AMI peer for connection tests: scripted login, Ping, CoreShowChannels, raw pushes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


def msg(**fields: str) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode() + b"\r\n"


@dataclass
class FakeAmi:
    secret: str = "s3cret"
    refuse_logins: int = 0  # refuse this many logins first
    answer_pings: bool = True
    channels: list[dict[str, str]] = field(default_factory=list)
    logins: int = 0
    pings: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    port: int = 0
    _server: asyncio.AbstractServer | None = None
    logged_in: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for w in self.writers:
            w.close()
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    async def wait_logins(self, n: int, limit: float = 20.0) -> None:
        async with asyncio.timeout(limit):
            for _ in range(int(limit * 100)):
                if self.logins >= n:
                    return
                await asyncio.sleep(0.01)

    async def push(self, data: bytes) -> None:
        for w in list(self.writers):
            if not w.is_closing():
                w.write(data)
                await w.drain()

    def drop_all(self) -> None:
        for w in self.writers:
            w.transport.abort()
        self.writers.clear()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                fields = {}
                for line in raw.decode().split("\r\n"):
                    k, _, v = line.partition(": ")
                    if k:
                        fields[k] = v
                action = fields.get("Action", "").lower()
                aid = fields.get("ActionID", "")
                if action == "login":
                    self.logins += 1
                    if self.logins <= self.refuse_logins or fields.get("Secret") != self.secret:
                        writer.write(msg(Response="Error", ActionID=aid, Message="Authentication failed"))
                    else:
                        writer.write(msg(Response="Success", ActionID=aid, Message="Authentication accepted"))
                        writer.write(msg(Event="FullyBooted", Privilege="system,all", Status="Fully Booted"))
                        self.writers.append(writer)
                        self.logged_in.set()
                elif action == "ping":
                    self.pings += 1
                    if self.answer_pings:
                        writer.write(msg(Response="Success", ActionID=aid, Ping="Pong"))
                elif action == "coreshowchannels":
                    writer.write(
                        msg(
                            Response="Success",
                            ActionID=aid,
                            EventList="start",
                            Message="Channels will follow",
                        )
                    )
                    for ch in self.channels:
                        writer.write(msg(Event="CoreShowChannel", ActionID=aid, **ch))
                    writer.write(
                        msg(
                            Event="CoreShowChannelsComplete",
                            ActionID=aid,
                            EventList="Complete",
                            ListItems=str(len(self.channels)),
                        )
                    )
                elif action == "logoff":
                    writer.write(msg(Response="Goodbye", ActionID=aid))
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
