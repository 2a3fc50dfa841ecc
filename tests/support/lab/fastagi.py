"""A tiny FastAGI server for the lab's own tests (smoke test, call flows).

Deliberately independent of pbx_bridge.agi (the code under test elsewhere) and of panoramisk: it reads
the AGI environment with a deadline, hands each request to ``handler(env, send)`` and closes. ``send``
writes one command and returns Asterisk's reply line; ``"HANGUP"`` lines are skipped as the
unsolicited notification they are.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

Send = Callable[[str], Awaitable[str]]
Handler = Callable[[dict[str, str], Send], Awaitable[None]]


class TinyFastAgi:
    def __init__(self, handler: Handler, port: int, host: str = "127.0.0.1") -> None:
        self.handler, self.host, self.port = handler, host, port
        self.requests: list[dict[str, str]] = []
        self.errors: list[BaseException] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> TinyFastAgi:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            env: dict[str, str] = {}
            while True:
                line = await asyncio.wait_for(reader.readline(), 5)
                if not line or line in (b"\n", b"\r\n"):
                    break
                key, _, value = line.decode(errors="replace").rstrip("\r\n").partition(": ")
                env[key] = value
            if not env:
                return
            self.requests.append(env)

            async def send(command: str) -> str:
                writer.write(command.encode() + b"\n")
                await writer.drain()
                while True:
                    reply = (await asyncio.wait_for(reader.readline(), 10)).decode(errors="replace").strip()
                    if reply != "HANGUP":
                        return reply

            await self.handler(env, send)
        except (TimeoutError, ConnectionError) as exc:
            self.errors.append(exc)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
