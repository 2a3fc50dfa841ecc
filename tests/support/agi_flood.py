"""A FastAGI flood from another process, and real caller-ID requests timed while it runs.

``python -m tests.support.agi_flood --port P --slow 1500 --junk-lines 100000 --seconds 8`` keeps ``--slow``
connections open that send half an environment line and then nothing (each one the server closes is
opened again), plus one connection that sends ``--junk-lines`` junk lines, plus ``--sitters`` connections
that send a whole environment and never answer the server's command, until ``--seconds`` pass; then it
prints one JSON line of counts. Its own process, so the flood does not slow down the peer that measures.

:func:`real_request` is one call as Asterisk places it (whole environment at once, every command answered);
used by the flood test and by ``bench/bench_fastagi_flood.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD = 10.0  # a broken server fails a request instead of hanging it (not a timed assertion)


@dataclass
class Answer:
    commands: list[str]
    seconds: float
    refused: bool  # closed, reset or never answered before the first command


def _env(port: int, number: str) -> bytes:
    return (
        f"agi_network: yes\nagi_network_script: cid\nagi_request: agi://127.0.0.1:{port}/cid\n"
        "agi_channel: PJSIP/trunk-00000001\nagi_language: en\nagi_type: PJSIP\n"
        "agi_uniqueid: 1795850006.1\nagi_version: 22.10.1\n"
        f"agi_callerid: {number}\nagi_calleridname: {number}\nagi_callingpres: 0\nagi_dnid: 201\n"
        "agi_context: from-pstn\nagi_extension: 201\nagi_priority: 1\nagi_accountcode: \n\n"
    ).encode()


async def real_request(port: int, number: str) -> Answer:
    env = _env(port, number)
    start = time.perf_counter()
    commands: list[str] = []
    try:
        async with asyncio.timeout(HANG_GUARD):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(env)
            for _ in range(50):
                line = await reader.readline()
                if not line:
                    break
                commands.append(line.decode().rstrip("\n"))
                writer.write(b"200 result=1\n")
            writer.close()
    except (OSError, TimeoutError):
        pass
    return Answer(commands, time.perf_counter() - start, refused=not commands)


def start_flood(
    port: int, *, slow: int, junk_lines: int, seconds: float, sitters: int = 0
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.agi_flood",
            "--port",
            str(port),
            "--slow",
            str(slow),
            "--junk-lines",
            str(junk_lines),
            "--seconds",
            str(seconds),
            "--sitters",
            str(sitters),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )


def flood_result(proc: subprocess.Popen[bytes]) -> dict[str, int]:
    out, _ = proc.communicate(timeout=60)
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


async def _occupy(
    port: int,
    end: float,
    counts: dict[str, int],
    payload: bytes,
    opened: str,
    closed: str,
    *,
    answer_first: bool,
) -> None:
    """Hold one connection at a time until ``end``: send ``payload``, then wait for the server to let go
    (after its first line when ``answer_first``); re-open as soon as it closes. Bounded by the deadline."""
    loop = asyncio.get_running_loop()
    while loop.time() < end:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            counts["connect_failed"] += 1
            await asyncio.sleep(0.05)
            continue
        counts[opened] += 1
        try:
            writer.write(payload)
            async with asyncio.timeout(max(0.01, end - loop.time())):
                if not answer_first or await reader.readline():
                    await reader.read()
            counts[closed] += 1
        except TimeoutError:
            pass
        except OSError:
            counts[closed] += 1
        finally:
            writer.close()


async def _slow(port: int, end: float, counts: dict[str, int]) -> None:
    """Half an environment, never finished."""
    await _occupy(port, end, counts, b"agi_network: yes\n", "opened", "closed_by_server", answer_first=False)


async def _sitter(port: int, end: float, counts: dict[str, int]) -> None:
    """A whole environment, then the server's first command is never answered; again when pushed out."""
    await _occupy(
        port, end, counts, _env(port, "15550009999"), "sat", "sitters_closed_by_server", answer_first=True
    )


async def _junk(port: int, lines: int, counts: dict[str, int]) -> None:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        chunk = b"GET / HTTP/1.0 junk junk junk\n" * 1000
        for _ in range(lines // 1000):
            writer.write(chunk)
            await writer.drain()
            counts["junk_sent"] += 1000
        writer.close()
    except OSError:
        counts["junk_cut_by_server"] = 1


async def _main(args: argparse.Namespace) -> dict[str, int]:
    counts = {
        "opened": 0,
        "closed_by_server": 0,
        "connect_failed": 0,
        "junk_sent": 0,
        "junk_cut_by_server": 0,
        "sat": 0,
        "sitters_closed_by_server": 0,
    }
    end = asyncio.get_running_loop().time() + args.seconds
    tasks = [asyncio.create_task(_slow(args.port, end, counts)) for _ in range(args.slow)]
    tasks += [asyncio.create_task(_sitter(args.port, end, counts)) for _ in range(args.sitters)]
    if args.junk_lines:
        tasks.append(asyncio.create_task(_junk(args.port, args.junk_lines, counts)))
    await asyncio.wait(tasks, timeout=args.seconds + 10)
    for t in tasks:
        t.cancel()
    return counts


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slow", type=int, default=1500)
    parser.add_argument("--junk-lines", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--sitters", type=int, default=0)
    print(json.dumps(asyncio.run(_main(parser.parse_args()))), flush=True)
