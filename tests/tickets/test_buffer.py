"""The intake buffer on a real state file: a failure while writing never ends the commit loop, and calls
lost to the in-memory bound stay visible."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pbx_bridge.ami.outcome import CallRecord
from pbx_bridge.store import Store
from pbx_bridge.tickets.buffer import CallBuffer
from pbx_bridge.tickets.outbox import Outbox

from ..support.waits import wait_until
from .support import record


class _Intake:
    """Stands in for the intake: fails as told (``faults``: exceptions raised in turn), then records."""

    def __init__(self, *faults: BaseException) -> None:
        self.faults = list(faults)
        self.decided: list[str] = []

    async def __call__(self, rec: CallRecord) -> None:
        if self.faults:
            raise self.faults.pop(0)
        self.decided.append(rec.linkedid)


def _saved(store: Store) -> set[str]:
    return {r[0] for r in store.call(lambda c: c.execute("SELECT linkedid FROM ended_calls").fetchall())}


async def _until(cond, what: str, limit: float = 10.0) -> None:
    await wait_until(cond, timeout=limit, what=what)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(tmp_path / "s.sqlite3")
    Outbox(s, clock=lambda: 0.0)  # the schema (ended_calls)
    yield s
    s.close()


@pytest.fixture
async def buffers(store: Store) -> AsyncIterator[list[CallBuffer]]:
    made: list[CallBuffer] = []
    yield made
    for b in made:
        await b.stop(0)


async def test_a_bug_while_retrying_held_calls_does_not_stop_later_calls_being_committed(
    store: Store, buffers: list[CallBuffer]
) -> None:
    intake = _Intake(sqlite3.OperationalError("database or disk is full"), RuntimeError("a bug"))
    buf = CallBuffer(store, intake)
    buffers.append(buf)
    await buf.start()
    await buf(record("1800000600.1"))  # the disk is full: held
    assert not buf.health().ok
    # The retry meets a bug; the next call that hangs up must still reach the disk within the grace.
    await _until(lambda: not intake.faults, "the retry of the held call")
    buf.remember([record("1800000601.1")], [])
    await _until(lambda: "1800000601.1" in _saved(store), "the provisional record of a later call")
    await _until(lambda: intake.decided == ["1800000600.1"], "the held call written at last")


async def test_calls_beyond_the_in_memory_bound_are_lost_loudly_and_stay_said(
    store: Store, buffers: list[CallBuffer]
) -> None:
    full = sqlite3.OperationalError("database or disk is full")
    intake = _Intake(*([full] * 1000))
    buf = CallBuffer(store, intake, max_held=5)
    buffers.append(buf)
    for i in range(7):
        await buf(record(f"1800000700.{i}"))
    h = buf.health()
    assert not h.ok and "2 finished call(s) LOST" in h.detail and h.data["held"] == 5, h
    intake.faults.clear()  # space returns
    await buf.start()
    await _until(lambda: len(intake.decided) == 5, "the 5 held calls written")
    assert intake.decided == [f"1800000700.{i}" for i in range(2, 7)]
    h = buf.health()
    assert not h.ok and "2 finished call(s) LOST" in h.detail, h


async def test_a_call_decided_during_a_failed_group_commit_is_not_saved_again(
    store: Store, buffers: list[CallBuffer]
) -> None:
    # The group commit fails (a real SQLite error, raised by a trigger) while the call it carries is
    # being decided: its provisional record must not be written afterwards, or the next start would
    # decide the call a second time.
    store.call(
        lambda c: c.execute(
            "CREATE TRIGGER full BEFORE INSERT ON ended_calls "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    )
    intake = _Intake()
    buf = CallBuffer(store, intake)
    buffers.append(buf)
    await buf.start()
    gate = threading.Event()
    try:
        blocker = asyncio.ensure_future(store.run(lambda c: gate.wait(10)))  # the store thread is busy
        buf.remember([record("1800000800.1")], [])
        await _until(lambda: buf.health().data["unsaved"] == 0, "the group commit waiting to be written")
        decided = asyncio.ensure_future(buf(record("1800000800.1")))  # decided meanwhile
        await asyncio.sleep(0)  # one loop turn: the decision is queued behind the busy store
    finally:
        gate.set()
    await blocker
    await decided
    store.call(lambda c: c.execute("DROP TRIGGER full"))
    await _until(lambda: buf.health().ok, "the buffer writing again")
    assert intake.decided == ["1800000800.1"]
    assert _saved(store) == set(), "a decided call's provisional record was saved again"


async def test_calls_finishing_together_are_committed_in_few_transactions_each_exactly_once(
    store: Store, buffers: list[CallBuffer]
) -> None:
    outbox = Outbox(store, clock=lambda: 0.0)

    async def intake(rec: CallRecord) -> None:
        await outbox.aenqueue(rec.linkedid, "missed", {"subject": rec.linkedid})

    buf = CallBuffer(store, intake)
    buffers.append(buf)
    await buf.start()
    calls = [record(f"1800000700.{i}") for i in range(300)]
    buf.remember(calls, [])
    await _until(lambda: len(_saved(store)) == 300, "the provisional records")
    commits: list[str] = []
    store.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    # the listener hands calls that finished together over side by side
    await asyncio.gather(*(buf(rec) for rec in calls), *(buf(rec) for rec in calls[:10]))
    store.conn.set_trace_callback(None)
    rows = outbox.rows(("pending",))
    assert sorted(r.linkedid for r in rows) == sorted(c.linkedid for c in calls)  # none twice
    assert not _saved(store)  # every provisional record went with its decision
    assert len(commits) <= 10  # not one (or two) fsyncs per call
