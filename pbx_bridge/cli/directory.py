"""CLI verbs: ``pbx-bridge directory sync|show|stats`` (``lookup`` is in ``cli.callerid``).

They use the same state file as the daemon. A command that finds no directory syncs first. A running daemon
adopts a directory synced here within ``store_poll`` (30 s); ``POST /directory/sync`` syncs it at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import AsyncExitStack

from pbx_bridge.cli.context import CommandContext
from pbx_bridge.directory.model import PartyKind, party_to_dict
from pbx_bridge.directory.service import DirectorySync
from pbx_bridge.directory.sync import SyncError
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.store import Store

__all__ = ["fail", "open_directory", "register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this feature's verbs to ``sub``. Each parser sets ``handler=fn(ctx) -> int``."""
    d = sub.add_parser(
        "directory",
        help="the caller-ID directory pulled from ITFlow",
        description="Sync, show or count the directory the caller-ID lookup answers from.",
    )
    dsub = d.add_subparsers(dest="directory_command", metavar="ACTION", required=True)
    s = dsub.add_parser("sync", help="pull the directory from ITFlow now and store it")
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    s.set_defaults(handler=_sync, needs_config=True)
    s = dsub.add_parser("show", help="list the parties and their numbers")
    s.add_argument("--json", action="store_true", help="print the parties as JSON")
    s.add_argument("--kind", choices=[k.value for k in PartyKind], help="only this kind of party")
    s.set_defaults(handler=_show, needs_config=True)
    s = dsub.add_parser("stats", help="counts: parties, numbers, ambiguous numbers, age")
    s.add_argument("--json", action="store_true", help="print the counts as JSON")
    s.set_defaults(handler=_stats, needs_config=True)


# ------------------------------------------------------------------ plumbing


async def open_directory(
    ctx: CommandContext, stack: AsyncExitStack, *, sync_now: bool = False
) -> tuple[DirectorySync, Itflow]:
    """The directory (loaded from the state file, synced first when there is none) and the ITFlow bundle."""
    settings = ctx.settings()
    store = Store.in_state_dir(settings.state_dir)
    stack.callback(store.close)
    itflow = Itflow.from_settings(settings.itflow)
    stack.push_async_callback(itflow.aclose)
    directory = DirectorySync(settings.directory, itflow, store, NumberPlan(settings.numbers))
    if not directory.load() or sync_now:
        if not sync_now:
            print("pbx-bridge: no directory stored yet; syncing from ITFlow first", file=sys.stderr)
        await directory.sync()
    return directory, itflow


def fail(exc: Exception) -> int:
    print(f"pbx-bridge: {exc}", file=sys.stderr)
    return 1


# ------------------------------------------------------------------ verbs


async def _sync(ctx: CommandContext) -> int:
    return await _open_and_print_stats(ctx, sync_now=True)


async def _show(ctx: CommandContext) -> int:
    async with AsyncExitStack() as stack:
        try:
            directory, _ = await open_directory(ctx, stack)
        except SyncError as exc:
            return fail(exc)
    snap = directory.snapshot
    assert snap is not None
    parties = [p for p in snap.parties if not ctx.args.kind or p.kind.value == ctx.args.kind]
    if ctx.args.json:
        print(json.dumps([party_to_dict(p) for p in parties], ensure_ascii=False))
        return 0
    for p in parties:
        numbers = ", ".join(
            f"{n.label.value} {n.canonical or n.raw + ' (not a possible number)'}" for n in p.numbers
        )
        client = f" [{p.client_name}]" if p.client_name else ""
        star = " *" if p.primary else ""
        print(f"{p.kind.value:8} {p.id:>6} {p.name}{client}{star}: {numbers}")
    return 0


async def _stats(ctx: CommandContext) -> int:
    return await _open_and_print_stats(ctx, sync_now=False)


async def _open_and_print_stats(ctx: CommandContext, *, sync_now: bool) -> int:
    async with AsyncExitStack() as stack:
        try:
            directory, _ = await open_directory(ctx, stack, sync_now=sync_now)
        except SyncError as exc:
            return fail(exc)
        return _print_stats(directory, ctx.args.json)


def _print_stats(directory: DirectorySync, as_json: bool) -> int:
    data = directory.stats()
    for key in ("syncs", "failures", "last_error"):  # per-process counters: meaningless in a CLI run
        data.pop(key, None)
    if as_json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    by_kind = data["by_kind"]
    assert isinstance(by_kind, dict)
    kinds = ", ".join(f"{v} {k}s" for k, v in by_kind.items())
    print(f"source: {data['source']}, pulled {data['fetched_at']} ({data['age_seconds']:.0f} s ago)")
    print(f"parties: {data['parties']} ({kinds}); clients: {data['clients']}")
    print(
        f"numbers: {data['numbers']} indexed, {data['ambiguous_numbers']} ambiguous (two clients), "
        f"{data['unkeyed_numbers']} not possible numbers (never matched)"
    )
    for note in data["notes"]:  # type: ignore[attr-defined]
        print(f"note: {note}")
    return 0
