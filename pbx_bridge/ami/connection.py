"""AMI client on panoramisk 1.4, guarded against the weak spots listed in docs/panoramisk.md.

What we keep from panoramisk: its action objects (ActionIDs, futures) and its response correlation
(``AMIProtocol.handle_message``, multi-message lists such as ``CoreShowChannels``). What we own:

* (7) events never run callbacks inside ``data_received``: they go to an ``asyncio.Queue`` that the
  listener's own task consumes, so a bug in a handler cannot touch the socket; a full queue pauses
  reading (TCP back-pressure) instead of dropping events;
* (8, 12) byte framing: bytes are kept until ``CRLF CRLF`` and each message is decoded with
  ``errors='replace'`` (see :mod:`.framing`), so split or invalid UTF-8 never loses a character or a
  message;
* (9) a ``Ping`` every ``ping_interval`` must be answered within ``ping_timeout``, else the connection
  is declared dead (half-open: PBX rebooted, cable cut) and closed;
* reconnects with exponential backoff and jitter, for ever;
* (10) a refused login is logged as an error every time, reported by :meth:`health`, and retried;
* (11, 13) after every (re)connect a ``CoreShowChannels`` snapshot is queued, so the tracker can keep
  calls that survived and expire the ones lost in a restart or crash;
* malformed messages are logged, counted and skipped;
* with :meth:`AmiConnection.skip_events`, events nobody uses are dropped before they are decoded
  (:class:`.framing.EventFilter`) and only counted.

Queue items are tuples: ``("event", dict)``, ``("connected", None)``, ``("disconnected", reason)``,
``("resync", [CoreShowChannel rows])``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from panoramisk import actions
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from pbx_bridge.ami.framing import EventFilter, FrameBuffer, Malformed, parse_message
from pbx_bridge.component import Health
from pbx_bridge.metrics import Metrics

T = TypeVar("T")

__all__ = ["AmiConnection", "ConnectionFactory", "QueueItem"]

log = logging.getLogger("pbx_bridge.ami")

# What the connection tells the listener, in order: ("event", message), ("connected", None),
# ("resync", the channels that exist now) and ("disconnected", why).
QueueItem = (
    tuple[Literal["event"], dict[str, str]]
    | tuple[Literal["connected"], None]
    | tuple[Literal["resync"], list[dict[str, str]]]
    | tuple[Literal["disconnected"], str]
)


class _Factory:
    """What panoramisk's protocol expects of its manager when it closes."""

    def __init__(self) -> None:
        self.forgetable_actions = ("ping", "login", "coreshowchannels", "logoff")
        self.awaiting_actions: list[object] = []
        self.save_stream = None

    def connection_lost(self, exc: object) -> None:  # panoramisk calls this from close paths
        return None

    def dispatch(self, message: object) -> None:
        return None


class _GuardedProtocol(AMIProtocol):  # type: ignore[misc]  # panoramisk has no type information
    def __init__(self, owner: AmiConnection) -> None:
        super().__init__()
        self.owner = owner
        self.frames = FrameBuffer(owner.event_filter)
        self.lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.banner_seen: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.factory = _Factory()
        self.encoding = "utf-8"

    def data_received(self, data: bytes) -> None:
        owner = self.owner
        frames = self.frames
        skipped = frames.skipped
        events = 0
        try:
            for raw in frames.feed(data):
                try:
                    msg = parse_message(raw)
                except Malformed as exc:
                    owner._malformed(str(exc))
                    continue
                if "ActionID" in msg or "Response" in msg:
                    try:
                        message = Message(msg)
                        self.handle_message(message)
                    except Exception as exc:  # a bad response must not kill the stream
                        owner._malformed(f"response not handled: {exc!r}")
                    continue
                if "Event" not in msg:
                    owner._malformed(f"neither an event nor a response: {list(msg)[:3]}")
                    continue
                owner._put(("event", msg), self)
                events += 1
            if frames.banner is not None and not self.banner_seen.done():
                self.banner_seen.set_result(frames.banner)
        except Exception:  # belt and braces: nothing in here may propagate into asyncio's transport
            log.exception("AMI: unexpected error while reading; the stream goes on")
        owner._received(events, frames.skipped - skipped)

    def handle_message(self, message: Message) -> None:
        response = self.responses.get(message.id)
        if response is None and message.action_id:
            response = self.responses.get(message.action_id)
        if response is not None and response.add_message(message):
            self.responses.pop(response.id, None)
            if response.action_id:
                self.responses.pop(response.action_id, None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.lost.done():
            self.lost.set_result(f"connection lost: {exc!r}" if exc else "connection closed by peer")
        for action in list(self.responses.values()):
            if not action.future.done():
                action.future.set_exception(ConnectionError("AMI connection lost"))
                action.future.add_done_callback(lambda f: f.exception())  # fire-and-forget ones
        self.responses.clear()


class AmiConnection:
    """Keeps one logged-in AMI session alive and feeds ``queue``; a Component."""

    name = "ami-connection"

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        queue: asyncio.Queue[QueueItem],
        *,
        ping_interval: float = 10.0,
        ping_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        resync: bool = True,
        metrics: Metrics | None = None,
        rng: random.Random | None = None,
        queue_high: int = 50_000,
    ) -> None:
        self.host, self.port, self.username = host, port, username
        self._secret = secret
        self.queue = queue
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.connect_timeout = connect_timeout
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.resync = resync
        self.metrics = metrics
        self.rng = rng or random.Random()
        self.queue_high = queue_high
        self.connected = False
        self.login_error = ""
        self.last_error = ""
        self.connects = 0
        self.malformed = 0
        self.events_skipped = 0  # dropped unparsed by the event filter, over all sessions
        self.event_filter: EventFilter | None = None
        self._proto: _GuardedProtocol | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._paused_by_us: list[_GuardedProtocol] = []

    # ------------------------------------------------------------------ Component

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="ami-connection")

    async def stop(self, deadline: float) -> None:
        self._stopping = True
        proto = self._proto
        if proto is not None and not proto.closed:
            try:
                proto.send({"Action": "Logoff"})
            except Exception as exc:  # closing anyway; a polite Logoff is optional
                log.debug("AMI: Logoff not sent: %r", exc)
            proto.transport.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def health(self) -> Health:
        if self.connected:
            return Health(True, f"logged in to AMI {self.host}:{self.port} as {self.username}")
        if self.login_error:
            return Health(False, f"AMI login refused for {self.username}: {self.login_error}")
        return Health(False, f"not connected to AMI {self.host}:{self.port}: {self.last_error or 'starting'}")

    # ------------------------------------------------------------------ queue side

    def _put(self, item: QueueItem, proto: _GuardedProtocol | None = None) -> None:
        self.queue.put_nowait(item)
        if proto is not None and not proto.paused and self.queue.qsize() >= self.queue_high:
            proto.paused = True
            proto.transport.pause_reading()  # back-pressure rather than dropping events
            self._paused_by_us.append(proto)

    def skip_events(self, event_filter: EventFilter | None) -> None:
        """Drop the events ``event_filter`` does not want before decoding them (from the next connect)."""
        self.event_filter = event_filter

    def _received(self, events: int, skipped: int) -> None:
        # Counted once per TCP read, not per event (a Prometheus counter takes a lock).
        self.events_skipped += skipped
        if self.metrics and (events or skipped):
            self.metrics.ami_events.inc(events + skipped)

    def consumed(self) -> None:
        """The consumer calls this after draining; reading resumes below half the high mark."""
        if self._paused_by_us and self.queue.qsize() < self.queue_high // 2:
            for proto in self._paused_by_us:
                if not proto.closed:
                    proto.paused = False
                    proto.transport.resume_reading()
            self._paused_by_us.clear()

    def _malformed(self, why: str) -> None:
        self.malformed += 1
        if self.metrics:
            self.metrics.ami_bad_events.inc()
        log.warning("AMI: malformed message skipped: %s", why[:200])

    # ------------------------------------------------------------------ session

    async def send_action(self, action: dict[str, str], *, wait: float, as_list: bool | None = None) -> Any:
        """Send one action; its answer (a list for event-list actions) within ``wait`` seconds: panoramisk's
        ``Message`` (a dict with ``success``), untyped as panoramisk is."""
        proto = self._proto
        if proto is None or proto.closed:
            raise ConnectionError("not connected to AMI")
        fut = proto.send(actions.Action(action), as_list=as_list)
        return await asyncio.wait_for(fut, wait)

    async def _run(self) -> None:
        attempt = 0
        for _ in range(10**9):  # for ever, but bounded in form
            if self._stopping:
                return
            ok = False
            try:
                ok = await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = _describe(exc)
                log.warning("AMI %s:%d: %s", self.host, self.port, self.last_error)
            finally:
                if self.connected:
                    self.connected = False
                    if self.metrics:
                        self.metrics.ami_connected.set(0)
                    self._put(("disconnected", self.last_error))
                self._proto = None
            if self._stopping:
                return
            attempt = 0 if ok else attempt + 1
            delay = min(self.reconnect_max, self.reconnect_min * (2 ** min(attempt, 16)))
            delay *= 0.5 + self.rng.random()
            if self.metrics:
                self.metrics.ami_reconnects.inc()
            await asyncio.sleep(delay)

    async def _session(self) -> bool:
        """One connection: login, resync, pings until it dies. True if the login had succeeded."""
        loop = asyncio.get_running_loop()
        where, limit = f"{self.host}:{self.port}", self.connect_timeout
        _, proto = await _within(
            f"no TCP connection to {where}",
            limit,
            loop.create_connection(lambda: _GuardedProtocol(self), self.host, self.port),
        )
        self._proto = proto
        try:
            await _within(
                f"no AMI banner from {where}",
                limit,
                asyncio.shield(proto.banner_seen),
                after="of connecting (not an AMI port, or Asterisk hung?)",
            )
            login = await _within(
                f"no answer to Login from {where}",
                limit,
                self.send_action(
                    {"Action": "Login", "Username": self.username, "Secret": self._secret, "Events": "on"},
                    wait=limit,
                ),
            )
            if not login.success:
                self.login_error = str(login.get("Message") or login.get("Response") or "refused")
                self.last_error = f"login refused: {self.login_error}"
                log.error(
                    "AMI login as %r on %s:%d refused: %s -- check ami.username/ami.secret and "
                    "the permit/deny lines of manager.conf; retrying",
                    self.username,
                    self.host,
                    self.port,
                    self.login_error,
                )
                return False
            self.login_error = ""
            self.connected = True
            self.connects += 1
            if self.metrics:
                self.metrics.ami_connected.set(1)
            log.info("AMI: logged in to %s:%d as %s", self.host, self.port, self.username)
            self._put(("connected", None))
            if self.resync:
                rows = await self._channels()
                self._put(("resync", rows))
            await self._keepalive(proto)
            return True
        finally:
            if not proto.closed:
                proto.transport.close()

    async def _channels(self) -> list[dict[str, str]]:
        """The channels that exist now (``CoreShowChannels``), as plain dicts."""
        limit = max(10.0, self.ping_timeout)
        answer = await _within(
            f"no answer to CoreShowChannels from {self.host}:{self.port}",
            limit,
            self.send_action({"Action": "CoreShowChannels"}, wait=limit, as_list=True),
        )
        msgs = answer if isinstance(answer, list) else [answer]
        return [dict(m) for m in msgs if str(m.get("Event", "")) == "CoreShowChannel"]

    async def _keepalive(self, proto: _GuardedProtocol) -> None:
        for _ in range(10**12):
            if self._stopping:
                return
            try:
                async with asyncio.timeout(self.ping_interval):
                    reason = await asyncio.shield(proto.lost)
                self.last_error = reason
                log.warning("AMI %s:%d: %s", self.host, self.port, reason)
                return
            except TimeoutError:
                pass
            try:
                await self.send_action({"Action": "Ping"}, wait=self.ping_timeout)
            except (TimeoutError, ConnectionError):
                self.last_error = f"no answer to Ping within {self.ping_timeout:g} s (half-open connection?)"
                log.warning("AMI %s:%d: %s; reconnecting", self.host, self.port, self.last_error)
                return


async def _within(what: str, limit: float, aw: Awaitable[T], *, after: str = "") -> T:
    """``aw`` within ``limit`` seconds, else a TimeoutError that says what did not happen, where."""
    try:
        return await asyncio.wait_for(aw, limit)
    except TimeoutError:
        raise TimeoutError(f"{what} within {limit:g} s" + (f" {after}" if after else "")) from None


def _describe(exc: BaseException) -> str:
    """A log-ready reason: the message alone for our own timeouts, else the type and its text."""
    text = str(exc)
    if isinstance(exc, TimeoutError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} (no detail)"


# How the listener builds its connection around its queue (tests pass their own).
ConnectionFactory = Callable[[asyncio.Queue[QueueItem]], AmiConnection]
