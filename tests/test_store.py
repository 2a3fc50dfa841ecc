"""The state store: WAL, per-component migrations applied once, newer schemas refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pbx_bridge.store import Store, StoreError


def test_migrations_apply_once_and_survive_reopen(tmp_path: Path) -> None:
    steps = [
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t(v);",
        "ALTER TABLE t ADD COLUMN w TEXT",
    ]
    s = Store.in_state_dir(tmp_path)
    assert s.migrate("demo", steps) == 2
    s.call(lambda c: c.execute("INSERT INTO t (v, w) VALUES ('a', 'b')"))
    s.close()
    s = Store.in_state_dir(tmp_path)
    assert s.migrate("demo", steps) == 2
    assert s.call(lambda c: c.execute("SELECT v, w FROM t").fetchone()[:]) == ("a", "b")
    assert s.call(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"
    s.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    s = Store.in_state_dir(tmp_path)
    s.migrate("demo", ["CREATE TABLE a (x)", "CREATE TABLE b (x)"])
    with pytest.raises(StoreError, match="newer than this"):
        s.migrate("demo", ["CREATE TABLE a (x)"])
    s.close()


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    s = Store.in_state_dir(tmp_path)
    with pytest.raises(StoreError, match="demo #1"):
        s.migrate("demo", ["CREATE TABLE a (x); CREATE TABLE a (y)"])
    assert s.call(lambda c: c.execute("SELECT name FROM sqlite_master WHERE name='a'").fetchone()) is None
    s.close()


async def test_async_run_uses_store_thread(tmp_path: Path) -> None:
    s = Store.in_state_dir(tmp_path)
    s.migrate("demo", ["CREATE TABLE a (x)"])
    await s.run(lambda c: c.execute("INSERT INTO a VALUES (1)"))
    assert await s.run(lambda c: c.execute("SELECT count(*) FROM a").fetchone()[0]) == 1
    s.close()


async def test_grouped_writes_share_a_transaction_and_a_failing_one_is_undone_alone(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    store.call(lambda c: c.execute("CREATE TABLE t (k TEXT PRIMARY KEY)"))
    commits: list[int] = []
    store.conn.set_trace_callback(lambda sql: commits.append(1) if sql == "COMMIT" else None)

    def insert(k: str):
        return lambda c: c.execute("INSERT INTO t VALUES (?)", (k,)).rowcount

    def broken(c):
        c.execute("INSERT INTO t VALUES ('half')")
        raise ValueError("a bug in one write")

    results = await asyncio.gather(
        *(store.run_grouped(insert(f"k{i}")) for i in range(50)),
        store.run_grouped(broken),
        store.run_grouped(insert("k0")),  # a constraint error: that write alone fails
        return_exceptions=True,
    )
    assert results[:50] == [1] * 50
    assert isinstance(results[50], ValueError) and "UNIQUE" in str(results[51])
    keys = {r[0] for r in store.call(lambda c: c.execute("SELECT k FROM t").fetchall())}
    assert keys == {f"k{i}" for i in range(50)}  # 'half' was undone with its write
    assert len(commits) <= 2  # the first write alone, then every write that waited meanwhile
    store.close()
