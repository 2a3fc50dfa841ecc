"""The lab's AMI side: a small recording asyncio AMI client for assertions (not production) and the readiness
probe. Stdlib only, like tests/support/lab/, which re-exports these names."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import socket
import time
from collections.abc import Callable, Mapping


class LabError(RuntimeError):
    """The lab cannot do what was asked (port busy, Asterisk did not boot, ...); the message says why."""


@dataclasses.dataclass(frozen=True)
class AmiAccount:
    host: str
    port: int
    username: str
    secret: str


# --------------------------------------------------------------------------------------------- AMI


class AmiMessage(dict[str, str]):
    """One AMI message; a repeated key (Output:, ChanVariable:) keeps every value joined by newlines."""

    @property
    def name(self) -> str:
        return self.get("Event", "")


def parse_ami_block(block: str) -> AmiMessage:
    msg = AmiMessage()
    for line in block.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            key, value = line.rstrip(":"), ""
        if not key:
            continue
        msg[key] = f"{msg[key]}\n{value}" if key in msg else value
    return msg


class AmiSession:
    """A recording AMI client for tests: every event is kept in ``events``; ``wait_for`` waits for one."""

    def __init__(self, account: AmiAccount, *, record_raw: bool = False) -> None:
        self.account = account
        self.events: list[AmiMessage] = []
        self.raw: bytearray | None = bytearray() if record_raw else None  # the stream as received (traces)
        self.closed = asyncio.Event()  # set when the connection closed (e.g. Asterisk was killed)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[AmiMessage]] = {}
        self._changed = asyncio.Event()
        self._ids = itertools.count(1)

    async def connect(self, timeout: float = 10.0) -> AmiMessage:  # noqa: ASYNC109
        a = self.account
        self._reader, self._writer = await asyncio.wait_for(asyncio.open_connection(a.host, a.port), timeout)
        banner = await asyncio.wait_for(self._reader.readline(), timeout)
        if self.raw is not None:
            self.raw += banner
        if not banner.startswith(b"Asterisk Call Manager"):
            raise LabError(f"unexpected AMI banner {banner!r}")
        self._task = asyncio.create_task(self._read_loop(), name="lab-ami-reader")
        resp = await self.action(
            {"Action": "Login", "Username": a.username, "Secret": a.secret, "Events": "on"}, timeout=timeout
        )
        if resp.get("Response") != "Success":
            raise LabError(f"AMI login failed: {dict(resp)}")
        return resp

    async def _read_loop(self) -> None:
        assert self._reader is not None
        buf = b""
        try:
            while True:
                chunk = await self._reader.read(65536)
                if not chunk:
                    break
                if self.raw is not None:
                    self.raw += chunk
                buf += chunk
                while b"\r\n\r\n" in buf:
                    raw, buf = buf.split(b"\r\n\r\n", 1)
                    msg = parse_ami_block(raw.decode("utf-8", errors="replace"))
                    if "Event" in msg:
                        self.events.append(msg)
                    elif (fut := self._pending.pop(msg.get("ActionID", ""), None)) and not fut.done():
                        fut.set_result(msg)
                    self._changed.set()
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed.set()
            self._changed.set()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(LabError("AMI connection closed"))

    async def action(self, fields: Mapping[str, str], timeout: float = 10.0) -> AmiMessage:  # noqa: ASYNC109
        """Send one action and return its response (raises LabError on timeout or closed connection)."""
        if self._writer is None:
            raise LabError("AMI session not connected")
        action_id = f"lab-{next(self._ids)}"
        fut: asyncio.Future[AmiMessage] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = fut
        text = "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + f"ActionID: {action_id}\r\n\r\n"
        self._writer.write(text.encode())
        await self._writer.drain()
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError as exc:
            raise LabError(f"no AMI response to {fields.get('Action')} within {timeout}s") from exc

    async def wait_for(
        self,
        predicate: Callable[[AmiMessage], bool],
        timeout: float = 30.0,  # noqa: ASYNC109
        start: int = 0,
    ) -> AmiMessage:
        """The first event (from index ``start``) matching ``predicate``.

        LabError after ``timeout`` seconds: a hang guard, not a timed assertion.
        """
        deadline = time.monotonic() + timeout
        i = start
        while True:
            while i < len(self.events):
                if predicate(self.events[i]):
                    return self.events[i]
                i += 1
            if self.closed.is_set():
                raise LabError("AMI connection closed before the awaited event")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LabError(f"awaited AMI event did not arrive within {timeout}s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_event(self, name: str, timeout: float = 30.0, **fields: str) -> AmiMessage:  # noqa: ASYNC109
        """Wait for ``Event: name`` whose headers equal ``fields`` (e.g. ``CallerIDNum="155..."``)."""
        return await self.wait_for(
            lambda e: e.name == name and all(e.get(k) == v for k, v in fields.items()), timeout
        )

    def linkedid_of(self, caller_num: str) -> str | None:
        """Linkedid of the first channel created for ``caller_num`` (the call's identity)."""
        for e in self.events:
            if e.name == "Newchannel" and e.get("CallerIDNum") == caller_num:
                return e.get("Linkedid")
        return None

    def call_events(self, linkedid: str) -> list[AmiMessage]:
        """Every event of one call: a ``*Linkedid`` header equal to it, or a Cdr of one of its channels."""

        def linked(e: AmiMessage) -> bool:  # Linkedid, DestLinkedid, TransfereeLinkedid, LocalOneLinkedid...
            return any(v == linkedid for k, v in e.items() if k.endswith("Linkedid"))

        uniqueids = {e.get("Uniqueid") for e in self.events if e.get("Linkedid") == linkedid}
        uniqueids |= {e.get("DestUniqueid") for e in self.events if e.get("DestLinkedid") == linkedid}
        return [e for e in self.events if linked(e) or (e.name == "Cdr" and e.get("UniqueID") in uniqueids)]

    async def wait_call_end(
        self,
        linkedid: str,
        timeout: float = 60.0,  # noqa: ASYNC109
        grace: float = 0.5,
    ) -> list[AmiMessage]:
        """Wait until every channel seen with ``linkedid`` has hung up (plus a grace for Cdrs); its events."""

        def done(_: AmiMessage) -> bool:
            evs = self.call_events(linkedid)
            chans = {e.get("Uniqueid") for e in evs if e.name == "Newchannel"}
            gone = {e.get("Uniqueid") for e in evs if e.name == "Hangup"}
            return bool(chans) and chans <= gone

        await self.wait_for(done, timeout)
        await asyncio.sleep(grace)
        return self.call_events(linkedid)

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.write(b"Action: Logoff\r\n\r\n")
                await asyncio.wait_for(self._writer.drain(), 1)
            self._writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._writer.wait_closed(), 2)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


def ami_ready(account: AmiAccount, timeout: float = 2.0) -> bool:
    """Blocking probe: AMI login succeeds AND FullyBooted arrives (logins work ~50 ms before boot ends)."""
    try:
        with socket.create_connection((account.host, account.port), timeout=timeout) as s:
            s.settimeout(0.3)
            s.sendall(
                f"Action: Login\r\nUsername: {account.username}\r\nSecret: {account.secret}\r\n"
                "Events: system\r\n\r\n".encode()
            )
            buf, deadline = b"", time.monotonic() + timeout
            while time.monotonic() < deadline and b"Event: FullyBooted" not in buf:
                try:
                    chunk = s.recv(4096)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                buf += chunk
            with contextlib.suppress(OSError):
                s.sendall(b"Action: Logoff\r\n\r\n")
            return b"Response: Success" in buf and b"Event: FullyBooted" in buf
    except OSError:
        return False
