"""A scripted Asterisk for FastAGI tests: it connects to the real FastAgiServer over loopback TCP, sends an
AGI environment, and answers commands as res_agi does (facts from tests/fixtures/ami-traces/EVENTS.md and the
tests/fixtures/ami-traces/agi/*balance* traces):

* ``STREAM FILE`` of an existing file: ``200 result=0 endpos=5120``; of a missing one on a live channel:
  ``200 result=-1 endpos=0``; a DTMF key pressed during it (escape digits given): ``200 result=<ascii>``;
* ``SAY NUMBER``: ``200 result=0``; ``CHANNEL STATUS``: ``200 result=6`` while up;
* ``WAIT FOR DIGIT``: ``200 result=<ascii>``, ``200 result=0`` on timeout;
* after the caller hangs up: the interrupted command gets ``200 result=-1``, then an unsolicited
  ``HANGUP`` line, then ``511 Command Not Permitted on a dead channel or intercept routine`` for the rest.

The lab tests run the same code against the real Asterisk; this peer makes the edge cases repeatable.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from tests.agi.peer import parse_args

DEAD = "511 Command Not Permitted on a dead channel or intercept routine"


def agi_env(
    callerid: str,
    *,
    script: str = "balance",
    language: str = "en",
    uniqueid: str = "1795850061.10",
    args: Iterable[str] = (),
    channel: str = "PJSIP/from-sipp-0000000a",
) -> dict[str, str]:
    env = {
        "agi_network": "yes",
        "agi_network_script": script,
        "agi_request": f"agi://127.0.0.1:4573/{script}",
        "agi_channel": channel,
        "agi_language": language,
        "agi_type": "PJSIP",
        "agi_uniqueid": uniqueid,
        "agi_version": "22.10.1",
        "agi_callerid": callerid,
        "agi_calleridname": "Test Caller",
        "agi_callingpres": "0",
        "agi_dnid": "300",
        "agi_context": "ivr-main",
        "agi_extension": "3",
        "agi_priority": "2",
        "agi_accountcode": "",
    }
    for n, a in enumerate(args, start=1):
        env[f"agi_arg_{n}"] = a
    return env


def env_bytes(env: dict[str, str]) -> bytes:
    """The AGI environment block as Asterisk sends it: ``key: value`` lines, then an empty line."""
    return "".join(f"{k}: {v}\n" for k, v in env.items()).encode() + b"\n"


@dataclass
class ScriptedAsterisk:
    existing: set[str] = field(default_factory=set)  # sound files that exist (STREAM FILE succeeds)
    dtmf: list[str] = field(default_factory=list)  # keys the caller presses, in order
    press_during_prompt: bool = False  # first key interrupts the prompt being played
    hangup_at: int | None = None  # the caller hangs up during command N (1-based)
    variables: dict[str, str] = field(default_factory=dict)  # channel variables GET VARIABLE sees
    # Files FILE() reads, for GET FULL VARIABLE ${SHA1(${FILE(path)}nonce)} (func_env + func_sha1, as the
    # lab shows them answering); any other GET FULL VARIABLE is an empty value.
    files: dict[str, bytes] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    hung_up: bool = False

    def answer(self, cmd: str) -> list[str]:
        n = len(self.commands)
        if self.hung_up:
            return [DEAD]
        if self.hangup_at is not None and n >= self.hangup_at:
            self.hung_up = True
            return ["200 result=-1", "HANGUP"]
        words = parse_args(cmd)  # split as res_agi does
        if cmd.startswith("STREAM FILE "):
            name = words[2]
            if name not in self.existing:
                return ["200 result=-1 endpos=0"]
            escape = words[3] if len(words) > 3 else ""
            if escape and self.press_during_prompt and self.dtmf:
                return [f"200 result={ord(self.dtmf.pop(0))} endpos=1600"]
            return ["200 result=0 endpos=5120"]
        if cmd.startswith("SAY NUMBER "):
            return ["200 result=0"]
        if cmd.startswith("CHANNEL STATUS"):
            return ["200 result=6"]
        if cmd.startswith("WAIT FOR DIGIT"):
            return [f"200 result={ord(self.dtmf.pop(0))}" if self.dtmf else "200 result=0"]
        if cmd.startswith("GET FULL VARIABLE "):
            m = re.fullmatch(r"GET FULL VARIABLE \$\{SHA1\(\$\{FILE\(([^)]*)\)\}(\w*)\)\}", cmd)
            if m and m[1] in self.files:
                return [f"200 result=1 ({hashlib.sha1(self.files[m[1]] + m[2].encode()).hexdigest()})"]
            return ["200 result=1 ()"]
        if cmd.startswith("GET VARIABLE "):
            value = self.variables.get(words[2])
            return ["200 result=0" if value is None else f"200 result=1 ({value})"]
        if cmd.startswith(("SET VARIABLE", "VERBOSE")):
            return ["200 result=1"]
        return ["510 Invalid or unknown command"]

    async def call(self, port: int, env: dict[str, str], *, limit: int = 200) -> list[str]:
        """Run one AGI session to its end (the server closes the socket); returns the commands received."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(env_bytes(env))
            await writer.drain()
            for _ in range(limit):
                line = await asyncio.wait_for(reader.readline(), timeout=30)
                if not line:
                    break
                cmd = line.decode().rstrip("\n")
                self.commands.append(cmd)
                for answer in self.answer(cmd):
                    writer.write(answer.encode() + b"\n")
                await writer.drain()
        finally:
            writer.close()
        return self.commands

    async def run_classic(
        self, argv: list[str], env: dict[str, str], *, proc_env: dict[str, str], limit: int = 200
    ) -> tuple[list[str], int]:
        """Run a classic AGI script as Asterisk would (env on stdin, commands on stdout, replies on stdin)."""
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=proc_env
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(env_bytes(env))
            await proc.stdin.drain()
            for _ in range(limit):
                line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
                if not line:
                    break
                cmd = line.decode().rstrip("\n")
                self.commands.append(cmd)
                for answer in self.answer(cmd):
                    proc.stdin.write(answer.encode() + b"\n")
                try:
                    await proc.stdin.drain()
                except (BrokenPipeError, ConnectionResetError):
                    break
            code = await asyncio.wait_for(proc.wait(), timeout=30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return self.commands, code
