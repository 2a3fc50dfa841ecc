"""The daemon's HTTP face with the caller-name door on loopback, and a raw HTTP client that sends exactly
the request target it is given (as libcurl does)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from pbx_bridge.callerid.settings import CallerIdSettings
from tests.agi.peer import HANG_GUARD

__all__ = ["callerid", "raw_get"]


def callerid(**values: Any) -> SimpleNamespace:
    """The part of the daemon's settings the door reads: its ``callerid`` section."""
    return SimpleNamespace(callerid=CallerIdSettings(**values))


async def raw_get(
    port: int, target: str | bytes, *, method: str = "GET", headers: str = ""
) -> tuple[int, bytes]:
    """One request with exactly this request target (as libcurl sends it: bytes unencoded), HTTP/1.1,
    connection closed."""
    raw = target if isinstance(target, bytes) else target.encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"{method} ".encode()
            + raw
            + f" HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n{headers}Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        async with asyncio.timeout(HANG_GUARD):
            data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body
