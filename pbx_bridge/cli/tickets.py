"""CLI verbs: ``pbx-bridge tickets list|retry|drop`` on the daemon's outbox (the same state file).

``retry`` and ``drop`` only change rows; a running daemon's worker picks retried rows up within its next
round (at most 30 s). Dead letters are never deleted: ``drop`` marks a row ``dropped`` and keeps it.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import Any

from pbx_bridge.cli.context import CommandContext
from pbx_bridge.store import Store
from pbx_bridge.tickets.outbox import Outbox, OutboxRow

__all__ = ["register"]

STATES = ("pending", "dead", "delivered", "replaced", "dropped")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this feature's verbs to ``sub``. Each parser sets ``handler=fn(ctx) -> int``."""
    t = sub.add_parser(
        "tickets",
        help="the outbox of tickets for missed calls and voicemail",
        description="Inspect and steer the durable ticket outbox (missed calls, voicemail).",
    )
    tsub = t.add_subparsers(dest="tickets_command", metavar="ACTION", required=True)
    p = tsub.add_parser("list", help="list outbox rows (default: pending and dead)")
    p.add_argument(
        "--state",
        action="append",
        choices=STATES,
        help="only rows in this state (repeatable; default: pending and dead)",
    )
    p.add_argument("--limit", type=int, default=200, help="at most this many rows (default 200)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.set_defaults(handler=_list, needs_config=True)
    p = tsub.add_parser(
        "retry",
        help="send dead (or dropped) tickets again",
        description="Put a dead-lettered or dropped row back in the queue; --all-dead for every dead letter.",
    )
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("id", nargs="?", type=int, help="the outbox row id (see `tickets list`)")
    g.add_argument("--all-dead", action="store_true", help="every dead letter")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=_retry, needs_config=True)
    p = tsub.add_parser("drop", help="stop delivering one ticket (kept, marked dropped)")
    p.add_argument("id", type=int, help="the outbox row id (see `tickets list`)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=_drop, needs_config=True)


def _outbox(ctx: CommandContext) -> Outbox:
    return Outbox(Store.in_state_dir(ctx.settings().state_dir), clock=time.time)


def _row(r: OutboxRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "linkedid": r.linkedid,
        "kind": r.kind,
        "state": r.state,
        "created": datetime.fromtimestamp(r.created_at, UTC).isoformat(timespec="seconds"),
        "attempts": r.attempts,
        "in_flight": r.in_flight,
        "number": r.number,
        "client_id": r.client_id,
        "ticket_id": r.ticket_id,
        "reply_id": r.reply_id,
        "via": r.via,
        "last_error": r.last_error,
        "subject": r.payload.get("subject", ""),
    }


def _list(ctx: CommandContext) -> int:
    box = _outbox(ctx)
    states = tuple(ctx.args.state or ("pending", "dead"))
    rows = [_row(r) for r in box.rows(states, limit=max(1, ctx.args.limit))]
    if ctx.args.json:
        print(json.dumps({"counts": box.counts(), "rows": rows}, indent=2))
        return 0
    counts = box.counts()
    print("outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty"))
    for r in rows:
        where = f" ticket {r['ticket_id']}" if r["ticket_id"] else ""
        err = f"  [{r['last_error'][:80]}]" if r["last_error"] else ""
        print(
            f"{r['id']:>6} {r['state']:<9} {r['kind']:<9} {r['created']} {r['number'] or '-':<14}"
            f"{where} {r['subject'][:60]}{err}"
        )
    return 0


def _retry(ctx: CommandContext) -> int:
    box = _outbox(ctx)
    n = box.retry(None if ctx.args.all_dead else ctx.args.id)
    if ctx.args.json:
        print(json.dumps({"requeued": n}))
    else:
        print(f"{n} row(s) queued for delivery again" if n else "nothing to retry (no such dead/dropped row)")
    return 0 if n else 1


def _drop(ctx: CommandContext) -> int:
    box = _outbox(ctx)
    n = box.drop(ctx.args.id)
    if ctx.args.json:
        print(json.dumps({"dropped": n}))
    else:
        print(
            f"row {ctx.args.id} dropped (kept in the outbox)" if n else "no pending or dead row with that id"
        )
    return 0 if n else 1
