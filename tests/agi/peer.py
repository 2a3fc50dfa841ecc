"""A raw-socket stand-in for Asterisk's side of FastAGI: sends an environment, reads commands, replies.

Only bytes on a real loopback socket: the server under test cannot tell it from Asterisk.
"""

from __future__ import annotations

import asyncio

HANG_GUARD = 10.0  # generous upper bound so a broken server fails the test instead of hanging it


def env_block(
    script: str = "cid",
    *,
    callerid: str = "15551230001",
    args: tuple[str, ...] = (),
    extra: dict[str, str] | None = None,
) -> bytes:
    env = {
        "agi_network": "yes",
        "agi_network_script": script,
        "agi_request": f"agi://127.0.0.1:4573/{script}",
        "agi_channel": "PJSIP/from-sipp-00000000",
        "agi_language": "en",
        "agi_type": "PJSIP",
        "agi_uniqueid": "1795850006.0",
        "agi_version": "22.10.1",
        "agi_callerid": callerid,
        "agi_calleridname": "Alice Example",
        "agi_callingpres": "0",
        "agi_dnid": "201",
        "agi_context": "from-sipp",
        "agi_extension": "201",
        "agi_priority": "2",
        "agi_accountcode": "",
        **(extra or {}),
    }
    for i, arg in enumerate(args, 1):
        env[f"agi_arg_{i}"] = arg
    return "".join(f"{k}: {v}\n" for k, v in env.items()).encode() + b"\n"


class Peer:
    """One connection to the server, playing Asterisk."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.commands: list[str] = []

    @classmethod
    async def connect(cls, port: int) -> Peer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes | str) -> None:
        self.writer.write(data.encode() if isinstance(data, str) else data)
        await self.writer.drain()

    async def read_command(self) -> str | None:
        """The next command line, or None at EOF (the server closed the session)."""
        async with asyncio.timeout(HANG_GUARD):
            raw = await self.reader.readline()
        if not raw:
            return None
        cmd = raw.decode().rstrip("\n")
        self.commands.append(cmd)
        return cmd

    async def answer_all(self, reply: str = "200 result=1") -> list[str]:
        """Answer every command with ``reply`` until the server closes; returns the commands."""
        for _ in range(100):
            cmd = await self.read_command()
            if cmd is None:
                break
            await self.send(reply + "\n")
        return self.commands

    async def wait_closed_by_server(self) -> bool:
        async with asyncio.timeout(HANG_GUARD):
            rest = await self.reader.read()
        return rest == b""

    def close(self) -> None:
        self.writer.close()


def parse_args(line: str) -> list[str]:
    """res_agi.c ``parse_args`` (Asterisk 22) transcribed: how Asterisk splits a command into words."""
    argv: list[str] = []
    cur: list[str] | None = None
    quoted = escaped = False
    whitespace = True
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                cur = []
                argv.append("")
                whitespace = False
            escaped = False
            continue
        if ch in " \t" and not quoted and not escaped:
            if cur is not None:
                argv[-1] = "".join(cur)
            cur = None
            whitespace = True
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            cur = []
            argv.append("")
            whitespace = False
        assert cur is not None
        cur.append(ch)
        escaped = False
    if cur is not None:
        argv[-1] = "".join(cur)
    return argv
