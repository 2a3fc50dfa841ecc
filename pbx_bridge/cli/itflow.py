"""CLI verbs of the ITFlow client: ``api`` (call any endpoint, print JSON) and ``sim`` (run the simulator).

``pbx-bridge api contacts read`` prints the first page of rows as a JSON array; ``--all-pages`` pages
through everything. ``pbx-bridge api legacy cid number=4125550101`` calls a legacy api.php function.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, fields, is_dataclass
from typing import Any

import itflow_sim
from itflow_sim.profiles import Quirks
from pbx_bridge.cli.context import CommandContext
from pbx_bridge.itflow.endpoints import ENDPOINTS, method_for
from pbx_bridge.itflow.errors import ItflowError, NotAvailable
from pbx_bridge.itflow.legacy import LegacyClient
from pbx_bridge.itflow.v1 import V1Client

__all__ = ["register"]

_PROFILES = ("legacy-2022", "v1-v25", "v1-head", "v1-2610")
_LEGACY_FUNCTIONS = (
    "cid",
    "phonebook",
    "account_balance",
    "client_numbers",
    "client_emails",
    "primary_contact_numbers",
    "primary_contact_emails",
    "incoming_call",
    "add_asset",
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "api",
        help="call an ITFlow API endpoint and print the answer as JSON",
        description="Call /api/v1/MODULE/FUNCTION.php with key=value parameters and print the rows as "
        "JSON (the first page unless --all-pages). MODULE 'legacy' calls an api.php function instead "
        f"({', '.join(_LEGACY_FUNCTIONS)}). The API key comes from the config and is never printed.",
        epilog=endpoint_list(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("module", help="v1 module, e.g. contacts, clients, tickets; or 'legacy'")
    p.add_argument("function", help="e.g. read, create, update; for legacy an api.php function")
    p.add_argument("params", nargs="*", metavar="key=value", help="parameters (filters, fields, limit...)")
    p.add_argument("--all-pages", action="store_true", help="page through every row (reads only)")
    p.add_argument("--page-size", type=int, default=200, metavar="N", help="rows per page with --all-pages")
    p.add_argument("--method", choices=["GET", "POST"], help="override the endpoint's HTTP method")
    p.add_argument("--json", action="store_true", help="compact single-line JSON (default: indented)")
    p.set_defaults(handler=_api, needs_config=True)

    s = sub.add_parser(
        "sim",
        help="run the ITFlow simulator (for tests and trying pbx-bridge without ITFlow)",
        description="Serve a simulated ITFlow of the given version on HOST:PORT until interrupted. "
        "It prints its base URL and API keys.",
    )
    s.add_argument("--profile", choices=_PROFILES, default="v1-head", help="ITFlow version to simulate")
    s.add_argument("--port", type=int, default=8780, help="TCP port (0 = any free port)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    s.add_argument("--seed", metavar="FILE", help="seed data file instead of the built-in seed")
    s.add_argument(
        "--quirk",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one era quirk of the profile, e.g. leading_newline=true, "
        "mysqli_exceptions=false, phonebook_era=2019, numeric_keys=true (repeatable)",
    )
    s.set_defaults(handler=_sim, needs_config=False)


def endpoint_list() -> str:
    """Every v1 endpoint the client knows, per module, each with the ITFlow release that brought it."""
    modules: dict[str, list[str]] = {}
    for e in ENDPOINTS:
        span = f"{e.since} to {e.until}" if e.until else f"{e.since}+"
        modules.setdefault(e.module, []).append(f"{e.function} ({span})")
    lines = [f"v1 endpoints ({len(ENDPOINTS)}; release or master date each appeared):"]
    lines += [f"  {module}: {', '.join(funcs)}" for module, funcs in sorted(modules.items())]
    return "\n".join(lines)


def _parse_params(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"pbx-bridge api: parameter {item!r} is not key=value")
        out[key] = value
    return out


def _print(data: Any, compact: bool) -> None:
    if compact:
        print(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    else:
        print(json.dumps(data, ensure_ascii=False, indent=2))


async def _api(ctx: CommandContext) -> int:
    args, settings = ctx.args, ctx.settings()
    it = settings.itflow
    params = _parse_params(args.params)
    endpoint = f"{args.module}/{args.function}"
    try:
        if args.module == "legacy":
            async with LegacyClient(
                it.url, settings.api_key, timeout=it.timeout, verify_tls=it.verify_tls
            ) as legacy:
                data = await _legacy_call(legacy, args.function, params)
            _print(data, args.json)
            return 0
        async with V1Client(it.url, settings.api_key, timeout=it.timeout, verify_tls=it.verify_tls) as v1:
            method = args.method or method_for(args.module, args.function)
            if args.all_pages:
                if method != "GET":
                    print("pbx-bridge api: --all-pages is for reads (GET endpoints)", file=sys.stderr)
                    return 2
                rows = [
                    r
                    async for r in v1.iter_rows(
                        args.module,
                        args.function,
                        page_size=max(1, args.page_size),
                        skip_undecodable=True,
                        **params,
                    )
                ]
                _print(rows, args.json)
                return 0
            resp = await v1.call(args.module, args.function, method=method, **params)
            if method == "GET":
                _print(resp.rows, args.json)
            else:
                out: dict[str, Any] = {"success": resp.success, "count": resp.count}
                if resp.insert_id is not None:
                    out["insert_id"] = resp.insert_id
                _print(out, args.json)
            return 0
    except NotAvailable as exc:
        print(f"pbx-bridge api: {exc}{_era_hint(endpoint)}", file=sys.stderr)
        return 1
    except (ItflowError, ValueError) as exc:
        print(f"pbx-bridge api: {exc}", file=sys.stderr)
        return 1


def _era_hint(endpoint: str) -> str:
    """' (<endpoint> exists from ITFlow <since> to <until>)' for a known endpoint, else ''."""
    known = next((e for e in ENDPOINTS if e.name == endpoint), None)
    if known is None:
        return ""
    span = f" to {known.until}" if known.until else " on"
    return f" ({endpoint} exists from ITFlow {known.since}{span})"


async def _legacy_call(legacy: LegacyClient, function: str, params: dict[str, str]) -> Any:
    if function not in _LEGACY_FUNCTIONS:
        raise ValueError(f"unknown legacy function {function!r}; known: {', '.join(_LEGACY_FUNCTIONS)}")
    if function == "cid":
        return {"name": await legacy.cid(params.get("number", params.get("cid", "")))}
    if function == "account_balance":
        cid = params.get("client_id", params.get("account_balance", ""))
        return {"client_id": int(cid), "balance": str(await legacy.account_balance(int(cid)))}
    if function == "incoming_call":
        return {"logged": await legacy.incoming_call()}
    if function == "add_asset":
        extra = {k: params[k] for k in ("type", "make", "model", "serial", "os") if k in params}
        ok = await legacy.add_asset(
            int(params["client_id"]), params.get("name", params.get("add_asset", "")), **extra
        )
        return {"added": ok}
    rows = await getattr(legacy, function)()
    return [asdict(r) if is_dataclass(r) else r for r in rows]  # type: ignore[arg-type]


async def _sim(ctx: CommandContext) -> int:
    args = ctx.args
    quirks = _parse_quirks(args.quirk)
    await itflow_sim.serve(args.profile, host=args.host, port=args.port, seed_path=args.seed, quirks=quirks)
    return 0


def _parse_quirks(items: list[str]) -> dict[str, object]:
    """``NAME=VALUE`` pairs for the simulator's :class:`Quirks`; booleans as true/false."""
    known = {f.name: f for f in fields(Quirks)}
    out: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in known:
            raise SystemExit(
                f"pbx-bridge sim: --quirk {item!r}: expected NAME=VALUE with NAME one of "
                + ", ".join(sorted(known))
            )
        if isinstance(getattr(Quirks(), name), bool):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise SystemExit(f"pbx-bridge sim: --quirk {name}: expected true or false")
            out[name] = value.lower() in ("true", "1", "yes")
        else:
            out[name] = value
    return out
