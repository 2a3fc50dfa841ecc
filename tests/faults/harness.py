"""The fault suite's rig: the ITFlow simulator behind a fault proxy, an AMI feed of captured calls, and
``pbx-bridge run`` as a real process; tickets are counted in the simulator by their call marker.

``AmiFeed`` is an AMI server on 127.0.0.1 that plays one captured missed call (rewritten per copy, so
every call has its own Linkedid) when the test says so: the test knows when a call's last Hangup left,
and a restarted daemon is not sent old calls again.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from itflow_sim import Simulator
from tests.support.ami_replay import TRACES, AmiTrace, multiply
from tests.support.daemon import Daemon, write_config
from tests.support.fault_proxy import FaultProxy
from tests.support.waits import wait_until

__all__ = ["ANSWERED", "AmiFeed", "Count", "Rig", "call_blocks", "count_replies", "count_tickets"]

TRACE = AmiTrace.load(TRACES / "missed-caller-hangup.txt")
# An answered call (15551230001 -> 201, about 2 s talked): the journal's case.
ANSWERED = AmiTrace.load(TRACES / "answered.txt")
_MARKER = re.compile(r"pbx-bridge:call=([^;<\s]+);kind=(\w+)")
_LINKEDID = re.compile(rb"\r\nLinkedid: (\S+)")


def call_blocks(n: int, trace: AmiTrace = TRACE) -> list[tuple[str, list[bytes]]]:
    """n distinct copies of the captured call: (Linkedid, its AMI event blocks in order)."""
    calls: dict[str, list[bytes]] = {}
    for _, block in multiply(trace, n):
        m = _LINKEDID.search(block)
        if m:
            calls.setdefault(m.group(1).decode(), []).append(block)
    assert len(calls) == n, f"expected {n} calls in the trace copies, got {len(calls)}"
    return list(calls.items())


@dataclass
class Count:
    """Tickets in the simulator per call marker, against the calls fed."""

    expected: set[str]
    per_call: Counter[str] = field(default_factory=Counter)

    @property
    def lost(self) -> int:
        return len(self.expected - set(self.per_call))

    @property
    def duplicated(self) -> int:
        return sum(n - 1 for n in self.per_call.values() if n > 1)

    @property
    def ticketed(self) -> int:
        return len(self.expected & set(self.per_call))

    @property
    def invented(self) -> int:
        return len(set(self.per_call) - self.expected)

    def __str__(self) -> str:
        return (
            f"{self.ticketed} of {len(self.expected)} ticketed, {self.lost} lost, "
            f"{self.duplicated} duplicated, {self.invented} invented"
        )


def count_tickets(sim: Simulator, expected: set[str]) -> Count:
    c = Count(set(expected))
    for t in sim.db.tickets:
        m = _MARKER.search(str(t.get("ticket_details", "")))
        if m:
            c.per_call[m.group(1)] += 1
    return c


def count_replies(sim: Simulator, expected: set[str], kind: str = "journal") -> Count:
    """Ticket replies per call marker of ``kind`` (the journal's notes), against the calls fed."""
    c = Count(set(expected))
    for r in sim.db["ticket_replies"]:
        m = _MARKER.search(str(r.get("ticket_reply", "")))
        if m and m.group(2) == kind:
            c.per_call[m.group(1)] += 1
    return c


_PENDING_SQL = "SELECT COUNT(*) FROM outbox WHERE state='pending'"


def _pending_in_namespace(pid: int, db: Path) -> int:
    # SQLite resolves /proc/<pid>/root to "/", so the file on the daemon's tmpfs is read from inside.
    # ``-r``: keep the daemon's root directory (entering a mount namespace would otherwise reset it to
    # the namespace's real root, which is not ours when the suite itself runs in a chroot: Debian 13).
    code = (
        "import sqlite3,sys; c=sqlite3.connect('file:'+sys.argv[1]+'?mode=ro', uri=True, timeout=1); "
        f"print(c.execute({_PENDING_SQL!r}).fetchone()[0])"
    )
    try:
        out = subprocess.run(
            ["nsenter", "-t", str(pid), "-m", "-r", "--", sys.executable, "-c", code, str(db)],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return int(out.stdout.strip())
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return -1


class AmiFeed:
    """Asterisk's AMI, as far as the listener needs it: banner, Login, Ping, and calls on demand."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self.port = 0
        self.logins = 0
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> AmiFeed:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(BaseException):
                await t

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            writer.write(TRACE.banner + b"\r\n")
            await writer.drain()
            for _ in range(10**6):
                raw = await reader.readuntil(b"\r\n\r\n")
                action = dict(
                    line.partition(": ")[::2] for line in raw.decode(errors="replace").split("\r\n") if line
                )
                aid = f"ActionID: {action['ActionID']}\r\n" if "ActionID" in action else ""
                name = action.get("Action", "").lower()
                ok = f"Response: Success\r\n{aid}"
                if name == "login":
                    self.logins += 1
                    writer.write(f"{ok}Message: Authentication accepted\r\n\r\n".encode())
                    self._writer = writer
                elif name == "ping":
                    writer.write(f"{ok}Ping: Pong\r\nTimestamp: 0.000000\r\n\r\n".encode())
                elif name == "coreshowchannels":
                    writer.write(
                        f"{ok}EventList: start\r\nMessage: Channels will follow"
                        f"\r\n\r\nEvent: CoreShowChannelsComplete\r\n{aid}EventList: Complete\r\n"
                        f"ListItems: 0\r\n\r\n".encode()
                    )
                else:
                    writer.write(f"Response: Error\r\n{aid}Message: Invalid/unknown command\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:  # stop(): end quietly (asyncio would log the cancellation)
            pass
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()
            self._tasks.discard(task)

    async def wait_login(self, n: int, limit: float = 60.0) -> None:
        await wait_until(
            lambda: self.logins >= n and self._writer is not None,
            timeout=limit,
            what=f"the daemon to log in to AMI {n} time(s)",
            poll=0.05,
            detail=lambda: f"{self.logins} logins so far",
        )

    async def play(self, blocks: list[bytes]) -> None:
        """Write one call's events; returns once the last (its last Hangup) is handed to the socket."""
        assert self._writer is not None, "no AMI client logged in"
        for block in blocks:
            self._writer.write(block + b"\r\n\r\n")
        await self._writer.drain()


@dataclass
class Rig:
    """One fault case: simulator, proxy, AMI feed, a config; daemons are started by the test."""

    sim: Simulator
    proxy: FaultProxy
    ami: AmiFeed
    tmp: Path
    config: Path
    state_dir: Path
    daemons: list[Daemon] = field(default_factory=list)

    @classmethod
    async def make(
        cls,
        sim: Simulator,
        tmp: Path,
        *,
        state_dir: Path | None = None,
        key: str | None = None,
        grace: float = 0.3,
        tickets: dict[str, Any] | None = None,
        itflow: dict[str, Any] | None = None,
        journal: dict[str, Any] | None = None,
    ) -> Rig:
        proxy = await FaultProxy(sim.url).start()
        ami = await AmiFeed().start()
        cfg = write_config(
            tmp / "config.yaml",
            itflow_url=proxy.url,
            api_key=key or sim.keys["all"],
            state_dir=state_dir or tmp / "state",
            extra={
                "ami": {
                    "host": "127.0.0.1",
                    "port": ami.port,
                    "username": "pbx",
                    "secret": "s3cret-ami",
                    "grace": grace,
                    "reconnect_max": 0.5,
                    "ping_interval": 30,
                },
                "tickets": {
                    "retry_first": 0.2,
                    "retry_max": 1.0,
                    "reconcile_after": 0.5,
                    "repeat_callers": False,
                    **(tickets or {}),
                },
                "directory": {"sync_interval": 3600, "retry_interval": 1},
                **({"journal": journal} if journal is not None else {}),
                "phonebook": {"run_at_start": False},
                "itflow": {
                    "url": proxy.url,
                    "api_key": key or sim.keys["all"],
                    "timeout": 3,
                    **(itflow or {}),
                },
            },
        )
        return cls(sim, proxy, ami, tmp, cfg, state_dir or tmp / "state")

    def start(self, daemon_cls: type[Daemon] = Daemon, **kw: Any) -> Daemon:
        d = daemon_cls(self.config, log_path=self.tmp / f"daemon-{len(self.daemons)}.log", **kw).start()
        self.daemons.append(d)
        return d

    async def start_with_calls(
        self, n: int, trace: AmiTrace = TRACE
    ) -> tuple[Daemon, list[tuple[str, list[bytes]]]]:
        """Start a daemon, wait for its AMI login, play n distinct copies of a call (missed) to it."""
        calls = call_blocks(n, trace)
        d = self.start()
        await self.ami.wait_login(len(self.daemons))
        for _, blocks in calls:
            await self.ami.play(blocks)
        return d, calls

    async def stopped_with_waiting(self, n: int) -> list[tuple[str, list[bytes]]]:
        """ITFlow broken (503), n calls fed, waited for in the outbox, the daemon stopped (SIGTERM):
        the state file holds n waiting tickets. Returns the calls."""
        self.proxy.page = (503, b"<html>Service Unavailable</html>")
        d, calls = await self.start_with_calls(n)

        async def waiting() -> bool:
            return f"{n} waiting" in str((await self.tickets_health(d)).get("detail", ""))

        await d.wait_until(waiting, what=f"{n} tickets waiting")
        d.signal(signal.SIGTERM)
        assert await d.wait_exit() == 0
        return calls

    async def close(self) -> None:
        for d in self.daemons:
            d.kill()
        await self.ami.stop()
        await self.proxy.stop()

    def outbox_pending(self, d: Daemon) -> int:
        """Rows still pending in the daemon's state file, read by the test itself (read-only); 0 when
        the file is not a database (the daemon then runs on a memory store: its /readyz is the word)."""
        db = self.state_dir / "pbx-bridge.sqlite3"
        if hasattr(d, "inside"):  # a private mount namespace: read it from inside (nsenter)
            return _pending_in_namespace(d.pid, db)
        try:
            with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as c:
                return int(c.execute(_PENDING_SQL).fetchone()[0])
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                return 0
            return -1
        except sqlite3.Error:
            return -1

    def count(self, linkedids: list[str] | set[str]) -> Count:
        return count_tickets(self.sim, set(linkedids))

    async def wait_tickets(self, d: Daemon, linkedids: list[str], limit: float = 60.0) -> Count:
        await d.wait_until(
            lambda: self.count(linkedids).ticketed == len(linkedids),
            what=f"{len(linkedids)} tickets",
            limit=limit,
        )
        return self.count(linkedids)

    async def tickets_health(self, d: Daemon) -> dict[str, Any]:
        return (await self.parts(d)).get("tickets", {})

    async def parts(self, d: Daemon) -> dict[str, Any]:
        """/readyz parts ({} while the daemon is not listening yet)."""
        try:
            r = await d.get("/readyz")
        except httpx.HTTPError:
            return {}
        return dict(r.json()["parts"])

    async def settled(self, d: Daemon, limit: float = 60.0) -> None:
        """Nothing left waiting in the outbox and no held write still to reach ITFlow (so no late
        duplicate can still come)."""

        async def idle() -> bool:
            h = await self.tickets_health(d)
            return (
                bool(h.get("ok"))
                and "waiting" not in str(h.get("detail", ""))
                and self.proxy.late_writes == 0
                and self.outbox_pending(d) == 0
            )

        await d.wait_until(idle, what="an empty outbox", limit=limit)
