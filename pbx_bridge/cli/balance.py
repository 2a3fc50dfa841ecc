"""CLI verbs: ``pbx-bridge balance (--client-id N | --caller NUMBER) [--json]`` and ``prompts build``.

``balance`` is the operator's tool: it prints the amount, the currency, whether it is exact or the
v26.04+ approximation, and how it was computed. ``--caller`` resolves the number the way the IVR does
(directory, then ``balance.number_map``) but asks no PIN: whoever runs it already holds the config.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import AsyncExitStack
from pathlib import Path

from pbx_bridge.balance.prompts import PromptBuildError, build_prompts
from pbx_bridge.balance.provider import Balance, BalanceError, BalanceProvider
from pbx_bridge.balance.settings import BalanceSettings
from pbx_bridge.balance.verify import AttemptLog, Verifier
from pbx_bridge.callerid.service import CallerId
from pbx_bridge.cli.context import CONFIG_ENV, CommandContext
from pbx_bridge.directory.service import DirectorySync
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.store import Store

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this feature's verbs to ``sub``. Each parser sets ``handler=fn(ctx) -> int``."""
    p = sub.add_parser(
        "balance",
        help="show a client's balance as the IVR would compute it",
        description="Compute a client's balance the way ITFlow does in the detected API "
        "generation and era, and show how it was computed.",
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--client-id", type=int, metavar="N", help="the ITFlow client id")
    who.add_argument(
        "--caller", metavar="NUMBER", help="a caller number, resolved through the directory like the IVR does"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=_balance, needs_config=True)

    pr = sub.add_parser(
        "prompts",
        help="sound prompts of the balance IVR",
        description="Manage the phrases the balance IVR needs beyond Asterisk's core sounds.",
    )
    psub = pr.add_subparsers(dest="prompts_command", metavar="ACTION", required=True)
    b = psub.add_parser(
        "build",
        help="generate missing phrases with espeak-ng and sox",
        description="Write the configured custom/ prompts (8 kHz WAV) into "
        "<sounds_dir>/<language>/custom/. Uses balance.* from the config when one is found, "
        "else the defaults.",
    )
    b.add_argument(
        "--sounds-dir",
        type=Path,
        metavar="DIR",
        help="Asterisk's sounds directory (default: balance.sounds_dir, /var/lib/asterisk/sounds)",
    )
    b.add_argument(
        "--language",
        action="append",
        metavar="LANG",
        help="only this language (repeatable; default: every configured one)",
    )
    b.add_argument("--force", action="store_true", help="overwrite files that exist")
    b.add_argument("--json", action="store_true", help="print what was done as JSON")
    b.set_defaults(handler=_prompts_build, needs_config=False)


def _fail(message: str, code: int = 1) -> int:
    print(f"pbx-bridge: {message}", file=sys.stderr)
    return code


def _print_balance(b: Balance, as_json: bool) -> None:
    if as_json:
        print(json.dumps(b.as_dict(), ensure_ascii=False))
        return
    kind = "exact" if b.exact else "APPROXIMATE"
    name = f" ({b.client_name})" if b.client_name else ""
    print(f"client {b.client_id}{name}: {b.amount:.2f} {b.currency}  [{kind}]")
    payments = f", {b.payments_counted} payments" if b.backend == "v1" and b.exact else ""
    counted = (
        f"; {b.invoices_counted} of {b.invoices_seen} invoices counted{payments}" if b.backend == "v1" else ""
    )
    print(f"computed by: {b.method} via {b.backend} (era {b.era}){counted}")
    for note in b.notes:
        print(f"note: {note}")


async def _balance(ctx: CommandContext) -> int:
    args = ctx.args
    settings = ctx.settings()
    async with AsyncExitStack() as stack:
        itflow = Itflow.from_settings(settings.itflow)
        stack.push_async_callback(itflow.aclose)
        provider = BalanceProvider(itflow, settings.balance)
        client_id = args.client_id
        if client_id is None:
            resolved = await _resolve_caller(ctx, stack, itflow, args.caller)
            if isinstance(resolved, str):
                return _fail(resolved)
            client_id = resolved
        try:
            result = await provider.balance(client_id)
        except BalanceError as exc:
            return _fail(str(exc))
    _print_balance(result, args.json)
    return 0


async def _resolve_caller(
    ctx: CommandContext, stack: AsyncExitStack, itflow: Itflow, number: str
) -> int | str:
    """The client id the IVR would bind ``number`` to, or a message why there is none."""
    settings = ctx.settings()
    store = Store.in_state_dir(settings.state_dir)
    stack.callback(store.close)
    plan = NumberPlan(settings.numbers)
    caps = await itflow.capabilities()
    legacy_only = caps.balance == "legacy"
    directory = DirectorySync(settings.directory, itflow, store, plan)
    if not legacy_only and not directory.load():
        print("pbx-bridge: no directory stored yet; syncing from ITFlow first", file=sys.stderr)
        await directory.sync()
    callerid = CallerId(directory, itflow, plan, settings.callerid, settings.directory)
    stack.push_async_callback(callerid.aclose)
    verifier = Verifier(
        callerid=callerid, plan=plan, itflow=itflow, attempts=AttemptLog(store), settings=settings.balance
    )
    identity, why = await verifier.identify(number, legacy_only=legacy_only)
    if identity is None:
        hint = " (legacy API: add it to balance.number_map)" if legacy_only else ""
        return f"{number!r} is not tied to one client: {why.value}{hint}"
    return identity.client_id


def _prompts_build(ctx: CommandContext) -> int:
    args = ctx.args
    settings = BalanceSettings()
    explicit = bool(args.config or os.environ.get(CONFIG_ENV))
    if explicit or ctx.config_path.exists():
        settings = ctx.settings().balance
    try:
        built = build_prompts(settings, languages=args.language, sounds_dir=args.sounds_dir, force=args.force)
    except PromptBuildError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write prompts: {exc}")
    if args.json:
        print(
            json.dumps(
                [
                    {"language": b.language, "name": b.name, "path": str(b.path), "action": b.action}
                    for b in built
                ]
            )
        )
    else:
        for b in built:
            print(f"{b.action:12} {b.language:5} {b.name:36} {b.path}")
        missing = [b for b in built if b.action == "missing-text"]
        if missing:
            names = ", ".join(b.name for b in missing)
            print(
                f"no text for: {names} (add balance.prompt_texts; the IVR plays the next alternative "
                "meanwhile)",
                file=sys.stderr,
            )
    return 0
