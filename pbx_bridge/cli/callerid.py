"""CLI verb ``pbx-bridge lookup NUMBER``: a caller number looked up as an incoming call would be.

It uses the daemon's state file: the persisted directory first (synced first when there is none), then
ITFlow live on a miss, as configured.
"""

from __future__ import annotations

import argparse
import json
from contextlib import AsyncExitStack

from pbx_bridge.callerid.service import CallerId
from pbx_bridge.cli.context import CommandContext
from pbx_bridge.cli.directory import fail, open_directory
from pbx_bridge.directory.model import LookupResult, MatchKind
from pbx_bridge.directory.sync import SyncError
from pbx_bridge.numbers import NumberPlan

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add caller ID's verb to ``sub``. Its parser sets ``handler=fn(ctx) -> int``."""
    p = sub.add_parser(
        "lookup",
        help="look up a caller number as an incoming call would",
        description="Look up a caller number: directory first, then ITFlow live on a miss "
        "(as configured). Syncs the directory first when there is none yet.",
    )
    p.add_argument("number", help="the caller number in any spelling, e.g. '+1 (412) 555-0101'")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument(
        "--live",
        action="store_true",
        help="ask ITFlow live even when the directory knows the number (waits up to itflow.timeout)",
    )
    p.set_defaults(handler=_lookup, needs_config=True)


def _describe(r: LookupResult) -> str:
    if r.match is MatchKind.NONE:
        return f"{r.number or '-'}  none  (no match; the caller's name stays as it is)"
    ids = []
    if r.client_id:
        ids.append(f"client {r.client_id}")
    if r.contact_id:
        ids.append(f"contact {r.contact_id}")
    if r.match is MatchKind.AMBIGUOUS:
        ids.append("clients: " + ", ".join(sorted({p.client_name or str(p.client_id) for p in r.candidates})))
    extra = f"; {', '.join(ids)}" if ids else ""
    return f"{r.number}  {r.match.value}  {r.display}  (from {r.source}{extra})"


async def _lookup(ctx: CommandContext) -> int:
    args = ctx.args
    settings = ctx.settings()
    plan = NumberPlan(settings.numbers)
    if not plan.lookupable(args.number):
        why = (
            "an internal extension"
            if plan.is_internal(args.number)
            else "anonymous"
            if plan.is_anonymous(args.number)
            else "not a possible phone number"
        )
        if args.json:
            print(json.dumps({**LookupResult(MatchKind.NONE, "", source="none").to_dict(), "reason": why}))
        else:
            print(f"{args.number!r} is {why}: never looked up")
        return 0
    async with AsyncExitStack() as stack:
        try:
            directory, itflow = await open_directory(ctx, stack)
        except SyncError as exc:
            return fail(exc)
        callerid = CallerId(directory, itflow, plan, settings.callerid, settings.directory)
        stack.push_async_callback(callerid.aclose)
        budget = settings.itflow.timeout if args.live else None
        result = await callerid.lookup(args.number, live=True if args.live else None, budget=budget)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print(_describe(result))
    return 0
