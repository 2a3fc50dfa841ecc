"""CLI verbs of the daemon itself: ``run`` and ``check`` (the doctor, :mod:`pbx_bridge.cli.doctor`)."""

from __future__ import annotations

import argparse
import json
import sys

from pbx_bridge.cli.context import CommandContext
from pbx_bridge.cli.doctor import run_checks
from pbx_bridge.service import Daemon

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="run the daemon (FastAGI, HTTP, directory, phonebook, AMI, tickets)",
        description="Run the pbx-bridge daemon in the foreground until SIGTERM. "
        "Under systemd it reports readiness (Type=notify) and pings the watchdog.",
    )
    p.add_argument(
        "--drain",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="on SIGTERM, how long in-flight work may take to finish (default 10)",
    )
    p.set_defaults(handler=_run)

    c = sub.add_parser(
        "check",
        help="check config, ITFlow, the key's permissions, AMI, ports, paths",
        description="Check everything the daemon needs, one line per item: ok, warn (a "
        "feature this backend or key cannot provide), info (a part not configured), fail "
        "(a configured part that is broken). Exits 1 only when something fails.",
    )
    c.add_argument("--json", action="store_true", help="print the items as JSON")
    c.set_defaults(handler=_check)


async def _run(ctx: CommandContext) -> int:
    return await Daemon(ctx.settings(), drain_seconds=ctx.args.drain).serve()


async def _check(ctx: CommandContext) -> int:
    items = await run_checks(ctx.settings(), config_path=ctx.config_path)
    if ctx.args.json:
        json.dump([i.as_dict() for i in items], sys.stdout, indent=2)
        print()
    else:
        for item in items:
            print(item.line())
    return 1 if any(i.level == "fail" for i in items) else 0
