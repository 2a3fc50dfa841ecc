"""``AmiListener``: AMI connection -> call tracker -> a record handler (the tickets intake).

Three tasks, so no stage can stall or break another: the connection fills the event queue; our consumer
feeds the tracker (pure, synchronous, fast) and hands finished calls to a second queue; the record task
runs the (async, possibly slow) handler. An exception in the handler is logged and the next call goes on.

Calls that finish together (a burst of hang-ups, a grace period ending for many at once) are handed to
the handler together, up to ``_BATCH`` at a time: their handlers run side by side, started in order, so
their outbox rows share one group commit (pbx_bridge/store.py) instead of one fsync each.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from pbx_bridge.ami.connection import AmiConnection, ConnectionFactory, QueueItem
from pbx_bridge.ami.outcome import CallRecord, Outcome
from pbx_bridge.ami.settings import AmiSettings
from pbx_bridge.ami.tracker import CallTracker, default_is_internal
from pbx_bridge.component import Health
from pbx_bridge.log_limits import clip
from pbx_bridge.metrics import Metrics

__all__ = ["AmiListener"]

log = logging.getLogger("pbx_bridge.ami")

RecordHandler = Callable[[CallRecord], Awaitable[None]]
_BATCH = 500  # finished calls handled side by side at most
# (provisional records of calls in their grace period, Linkedids whose provisional record is void)
EndedHandler = Callable[[list[CallRecord], list[str]], None]


class AmiListener:
    name = "ami"

    def __init__(
        self,
        settings: AmiSettings,
        on_record: RecordHandler,
        *,
        clock: Callable[[], float] = time.time,
        is_internal: Callable[[str], bool] = default_is_internal,
        metrics: Metrics | None = None,
        connection: ConnectionFactory | None = None,
        tick_interval: float = 0.25,
        on_ended: EndedHandler | None = None,
    ) -> None:
        self.settings = settings
        self.on_record = on_record
        self.on_ended = on_ended
        self.clock = clock
        self.metrics = metrics
        self.tick_interval = tick_interval
        self.events: asyncio.Queue[QueueItem] = asyncio.Queue()
        self.records: asyncio.Queue[CallRecord] = asyncio.Queue()
        self.tracker = CallTracker(
            clock=clock,
            grace=settings.grace,
            max_call_age=settings.max_call_age,
            max_calls=settings.max_calls,
            is_internal=is_internal,
        )
        factory = connection or self._default_connection
        self.connection = factory(self.events)
        # Events the tracker would only count as ignored are dropped before they are decoded.
        self.connection.skip_events(self.tracker.event_filter())
        self._tasks: list[asyncio.Task[None]] = []
        self.handled = 0
        self.handler_errors = 0
        self._last_expire = 0.0
        self._stopping = False

    def _default_connection(self, queue: asyncio.Queue[QueueItem]) -> AmiConnection:
        s = self.settings
        return AmiConnection(
            s.host,
            s.port,
            s.username,
            s.secret,
            queue,
            ping_interval=s.ping_interval,
            ping_timeout=s.ping_timeout,
            reconnect_max=s.reconnect_max,
            metrics=self.metrics,
        )

    # ------------------------------------------------------------------ Component

    async def start(self) -> None:
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._consume(), name="ami-consume"),
            asyncio.create_task(self._deliver(), name="ami-records"),
        ]
        await self.connection.start()

    async def stop(self, deadline: float) -> None:
        await self.connection.stop(deadline)
        loop = asyncio.get_running_loop()
        # Events already received are tracked first (bounded by the deadline) ...
        for _ in range(1000):
            if self.events.empty() or loop.time() >= deadline:
                break
            await asyncio.sleep(0.01)
        # ... then calls whose channels have all hung up are finished now instead of after the grace
        # period; calls still open become LOST (logged, never ticketed): nothing is invented.
        for rec in self.tracker.flush():
            self.records.put_nowait(rec)
        # Always join: a record being handled right now is not in the queue any more, yet unfinished.
        try:
            async with asyncio.timeout(max(0.0, deadline - loop.time())):
                await self.records.join()
        except TimeoutError:
            log.warning("AMI: %d finished call(s) not handled before the stop deadline", self.records.qsize())
        # A flag as well as cancel(): Python 3.11's wait_for can swallow a cancellation.
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def health(self) -> Health:
        h = self.connection.health()
        h.data.update(
            {
                "calls_active": self.tracker.active,
                "events": self.tracker.stats.events + self.connection.events_skipped,
                "events_skipped": self.connection.events_skipped,
                "handler_errors": self.handler_errors,
            }
        )
        return h

    # ------------------------------------------------------------------ tasks

    def process(self, item: QueueItem) -> list[CallRecord]:
        """Apply one queue item to the tracker (synchronous; also used by the benchmark)."""
        if item[0] == "event":
            return self.tracker.feed(item[1])
        if item[0] == "disconnected":
            return self.tracker.connection_lost()
        if item[0] == "connected":
            self.tracker.resync_begin()
            return []
        if item[0] == "resync":
            return self.tracker.resync(item[1])
        return []

    async def _consume(self) -> None:
        events = self.events
        for _ in range(10**15):
            if self._stopping:
                return
            # Only wait (with a timer) when the queue is empty: arming asyncio.timeout for every event
            # costs more than tracking it.
            item: QueueItem | None
            try:
                item = events.get_nowait()
            except asyncio.QueueEmpty:
                # Wake when the next grace period ends, not a tick later (that is a ticket's latency).
                wait = self.tick_interval
                due = self.tracker.next_due()
                if due is not None:
                    wait = min(wait, max(0.001, due - self.clock()))
                try:
                    async with asyncio.timeout(wait):
                        item = await events.get()
                except TimeoutError:
                    item = None
            try:
                done = self.process(item) if item is not None else []
                now = self.clock()
                if now - self._last_expire >= 60.0:  # also under constant load
                    self._last_expire = now
                    done += self.tracker.expire()
                if self.events.empty():
                    done += self.tracker.tick()
                    self.connection.consumed()
                    if self.metrics:
                        self.metrics.calls_active.set(self.tracker.active)
                if self.on_ended is not None:
                    ended, reopened = self.tracker.take_ended()
                    if ended or reopened:
                        self.on_ended(ended, reopened)
            except Exception:
                log.exception("AMI: an event could not be tracked; skipped")
                done = []
            for rec in done:
                self.records.put_nowait(rec)

    async def _deliver(self) -> None:
        records = self.records
        for _ in range(10**15):
            if self._stopping:
                return
            batch = [await records.get()]
            while len(batch) < _BATCH and not records.empty():
                batch.append(records.get_nowait())
            if len(batch) == 1:
                await self._handle(batch[0])
            else:
                await asyncio.gather(*(self._handle(rec) for rec in batch))

    async def _handle(self, rec: CallRecord) -> None:
        try:
            if self.metrics:
                self.metrics.call_outcomes.labels(outcome=rec.outcome.value).inc()
            if rec.outcome is Outcome.LOST:
                log.warning(
                    "AMI: call %s from %s lost (%s): no outcome is invented",
                    clip(rec.linkedid, 60),
                    clip(rec.caller_num or "?"),
                    clip("; ".join(rec.notes) or "events missing", 200),
                )
            await self.on_record(rec)
            self.handled += 1
        except Exception:
            self.handler_errors += 1
            log.exception("AMI: handling call %s failed; the listener goes on", rec.linkedid)
        finally:
            self.records.task_done()
