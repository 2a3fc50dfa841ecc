"""Which ITFlow API generation and era each feature can use (``itflow.api: auto``), and ``check``'s
per-feature permission probes.

Detection first asks **without the key**: a missing key costs v1 nothing (401 with an empty body, no
log row; api.php logs one "No API Key specified" row), and the answer tells a lot: 401 = the endpoint
file exists, the web server's 404 page = it does not (docs/itflow-api.md §6.6); ``/api.php`` answers
its own "Missing
the API Key" texts.
The set of present files dates the install (ticket_replies = v26.08 RBAC, invoice_items = v26.04,
technicians/time = v26.3, payments = 2023-02 to v26.3, ...). Then a few keyed *reads* (never a write,
never a legacy function with side effects) confirm the key and the behaviours that matter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

from pbx_bridge.itflow.capabilities import Capabilities, Forced, Generation
from pbx_bridge.itflow.diagnosis import describe_answer, summarise_answers
from pbx_bridge.itflow.errors import (
    AuthError,
    ItflowError,
    MethodNotAllowed,
    NotAvailable,
    PermissionDenied,
    ServerError,
    TransportError,
)
from pbx_bridge.itflow.legacy import LegacyClient
from pbx_bridge.itflow.transport import RetryPolicy, make_http_client, send_with_retries
from pbx_bridge.itflow.v1 import V1Client

__all__ = ["Capabilities", "Generation", "PermissionItem", "check_items", "detect", "probe_permissions"]

log = logging.getLogger("pbx_bridge.itflow.detect")


# Probed without the key; each tells a version boundary (docs/itflow-api.md §3.2).
_PROBES = (
    "assets/read",
    "contacts/read",
    "clients/read",
    "locations/read",
    "vendors/read",
    "invoices/read",
    "payments/read",
    "tickets/create",
    "technicians/time",
    "invoice_items/read",
    "ticket_replies/create",
    "tickets/close",
    "vendors/archive",
)
# A number no one has: contacts/read answers "No resource" if it honours the phone filter (2023-12+).
_NOBODY = "9990000000000001"


@dataclass(frozen=True)
class PermissionItem:
    """One line of ``check``: ``status`` is ok | warn | info | fail."""

    feature: str
    status: Literal["ok", "warn", "info", "fail"]
    detail: str


class _NoClose(httpx.AsyncBaseTransport):
    """Lends a caller's transport to a throw-away client without closing it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)


async def _keyless(
    base_url: str,
    *,
    timeout: float,  # noqa: ASYNC109 (HTTP timeout)
    verify_tls: bool,
    transport: httpx.AsyncBaseTransport | None,
    seen: list[str] | None = None,
) -> tuple[dict[str, bool | None], str | None]:
    """Probe without the key: which v1 files exist, and what ``/api.php`` says (None = absent)."""
    policy = RetryPolicy(attempts=2, first_wait=0.1)
    async with make_http_client(
        base_url, timeout=timeout, verify_tls=verify_tls, transport=_NoClose(transport) if transport else None
    ) as http:

        async def one(path: str) -> httpx.Response | TransportError:
            try:
                return await send_with_retries(
                    lambda: http.get(path),
                    endpoint=path,
                    idempotent=True,
                    policy=policy,
                    secret=None,
                    timeout_s=timeout,
                )
            except TransportError as exc:
                return exc

        paths = [f"/api/v1/{p}.php" for p in _PROBES] + ["/api.php"]
        answers = await asyncio.gather(*(one(p) for p in paths))
    if seen is not None:
        seen.extend(describe_answer(a) for a in answers)
    if all(isinstance(a, TransportError) for a in answers):
        first = answers[0]
        assert isinstance(first, TransportError)
        raise first
    present: dict[str, bool | None] = {}
    for name, ans in zip(_PROBES, answers, strict=False):
        if isinstance(ans, TransportError):
            present[name] = None
        elif ans.status_code == 404:
            present[name] = False
        elif ans.status_code in (401, 403, 405, 200, 400):
            present[name] = True
        else:
            present[name] = None
    legacy = answers[-1]
    legacy_kind: str | None = None
    if not isinstance(legacy, TransportError) and legacy.status_code != 404:
        text = legacy.content.decode("utf-8", "replace")
        body = text.lstrip("\n").strip()
        if legacy.status_code == 401 and body.startswith("Missing the API Key"):
            legacy_kind = "K3-K5 (2022)"
        elif legacy.status_code == 200 and body.startswith("Missing the API Key"):
            legacy_kind = "K2 (2019-08 to 2022-01)"
        elif "BAAAAADDDDD" in body or (
            legacy.status_code == 302 and "login" in legacy.headers.get("location", "")
        ):
            legacy_kind = "K1 (2019)"
        elif legacy.status_code == 200 and not body.startswith(("<!DOCTYPE", "<html", "{")):
            legacy_kind = "unknown era"
        if legacy_kind and text.startswith("\n"):
            legacy_kind += ", leading-newline framing (2019-08 to 2022-02)"
    return present, legacy_kind


def _v1_era(ep: dict[str, bool], v1e: bool = False) -> str:
    if v1e:
        return "V1e v26.10+" if ep.get("vendors/archive") else "V1e v26.09"
    if ep.get("ticket_replies/create"):
        return "V1d v26.08"
    if ep.get("invoice_items/read"):
        return "V1c v26.04-v26.07"
    if ep.get("technicians/time"):
        return "V1c v26.3"
    if ep.get("payments/read"):
        return "V1c 2023-02 to v26.02"
    if ep.get("contacts/read"):
        return "V1a/V1b 2022-02 to 2023-02"
    if ep.get("assets/read"):
        return "V1a 2022-02"
    return ""


async def detect(
    base_url: str,
    api_key: str,
    *,
    forced: Forced = "auto",
    timeout: float = 10.0,  # noqa: ASYNC109 (each request's HTTP timeout)
    verify_tls: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
    v1: V1Client | None = None,
    legacy: LegacyClient | None = None,
) -> Capabilities:
    """Find what each feature can use. ``forced`` limits the choice to one generation.

    Pass the bundle's ``v1``/``legacy`` clients to reuse their connection pools. Raises
    :class:`TransportError` when ITFlow cannot be reached at all.
    """
    caps = Capabilities(forced=forced, detected_at=time.time())
    seen: list[str] = []
    present, legacy_kind = await _keyless(
        base_url, timeout=timeout, verify_tls=verify_tls, transport=transport, seen=seen
    )
    caps.probe_answers = summarise_answers(seen)
    caps.endpoints = {k: bool(v) for k, v in present.items()}
    if any(v is None for v in present.values()):
        caps.complete = False
        caps.notes.append("some probes got no answer; detection will run again")
    caps.legacy_present = legacy_kind is not None
    own_v1 = own_legacy = False
    if v1 is None and forced != "legacy":
        v1, own_v1 = (
            V1Client(
                base_url,
                api_key,
                timeout=timeout,
                verify_tls=verify_tls,
                transport=_NoClose(transport) if transport else None,
            ),
            True,
        )
    if legacy is None and forced != "v1" and caps.legacy_present:
        legacy, own_legacy = (
            LegacyClient(
                base_url,
                api_key,
                timeout=timeout,
                verify_tls=verify_tls,
                transport=_NoClose(transport) if transport else None,
            ),
            True,
        )
    try:
        if forced != "legacy" and v1 is not None:
            await _probe_v1(v1, caps)
        if forced != "v1" and legacy is not None and caps.legacy_present:
            await _probe_legacy(legacy, caps, legacy_kind or "")
    finally:
        if own_v1 and v1 is not None:
            await v1.aclose()
        if own_legacy and legacy is not None:
            await legacy.aclose()
    _choose(caps)
    parts = []
    if caps.legacy_present:
        parts.append(f"legacy api.php {legacy_kind}")
    if v1_era := _v1_era(caps.endpoints, caps.v1e):
        parts.append(v1_era)
    caps.era = " + ".join(parts) or "unknown (neither /api/v1 nor /api.php answered like ITFlow)"
    if not parts:
        caps.notes.append("no ITFlow API found at this URL: check itflow.url (the base URL a browser uses)")
    log.info(
        "ITFlow detected: %s; directory=%s cid_live=%s balance=%s tickets=%s",
        caps.era,
        caps.directory,
        caps.cid_live,
        caps.balance,
        caps.tickets,
    )
    return caps


async def _probe_v1(v1: V1Client, caps: Capabilities) -> None:
    ep = caps.endpoints
    caps.rbac = bool(ep.get("ticket_replies/create"))
    caps.ticket_replies = bool(ep.get("ticket_replies/create"))
    probe = next((p for p in ("contacts/read", "clients/read", "assets/read") if ep.get(p)), None)
    if probe is None:
        if any(ep.values()):
            caps.notes.append("v1 has none of the reads pbx-bridge uses")
        return
    module, function = probe.split("/")
    try:
        await v1.call(module, function, limit=1)
        caps.v1_key_ok = True
    except AuthError as exc:
        if exc.server_message:
            caps.notes.append(f"v1 rejected the key ({exc.server_message})")
        else:
            caps.notes.append(
                "v1 saw no key: this early v1 (before 2022-02-27) reads no JSON body; "
                "pbx-bridge does not put the key in v1 URLs, so v1 is not used"
            )
        return
    except PermissionDenied as exc:
        caps.notes.append(f"v1 {probe}: {exc.message}")
        if exc.reason in (PermissionDenied.REASON_NO_USER, PermissionDenied.REASON_INACTIVE_USER):
            return
        caps.v1_key_ok = True  # the key works; this role may still do other things
    except ItflowError as exc:
        caps.notes.append(f"v1 {probe} failed: {exc}")
        caps.complete = caps.complete and not _transient(exc)
        return
    # client_id on reads: V1b/V1c honour it for all-clients keys, V1d ignores it (docs/itflow-api.md
    # Q2), V1e honours it again (docs/itflow-api.md §7 row 1).
    if not caps.rbac and ep.get("clients/read"):
        caps.client_id_honoured = await _client_id_honoured(v1)
    elif ep.get("clients/read"):
        await _tell_v1e(v1, caps)
    if ep.get("payments/read"):
        try:
            resp = await v1.payments_read(limit=1)
            stale = resp.success and isinstance(resp.raw, dict) and "data" not in resp.raw
            caps.key_all_clients = not stale
            caps.has_payments = not stale
            if stale:
                caps.notes.append(
                    "payments/read answered 'True' without data: the key is client-scoped; "
                    "exact balances need an all-clients key (docs/itflow-api.md §6.1)"
                )
        except ItflowError as exc:
            caps.notes.append(f"payments/read failed: {exc}")
    elif caps.rbac or ep.get("invoice_items/read"):
        caps.notes.append("no payments API in this version: v1 balances are an approximation (open invoices)")
    if ep.get("contacts/read"):
        try:
            resp = await v1.contacts_read(contact_phone_or_mobile=_NOBODY, limit=1)
            if resp.rows:
                caps.notes.append(
                    "contacts/read ignores contact_phone_or_mobile (before 2023-12): "
                    "no live caller-ID lookup over v1"
                )
                ep["contacts/read#phone"] = False
            else:
                ep["contacts/read#phone"] = True
        except (PermissionDenied, ItflowError) as exc:
            caps.notes.append(f"contacts/read by phone failed: {exc}")
            ep["contacts/read#phone"] = False


async def _client_id_honoured(v1: V1Client) -> bool:
    try:
        rows = (await v1.clients_read(limit=2)).rows
        ids = [r.get("client_id", "") for r in rows]
        if len(set(ids)) < 2:
            return True  # cannot tell from fewer than two clients; V1b/V1c documented behaviour
        filtered = (await v1.clients_read(client_id=int(ids[1]), limit=2)).rows
        return bool(filtered) and all(r.get("client_id") == ids[1] for r in filtered)
    except (ItflowError, ValueError) as exc:
        log.info("cannot tell whether clients/read honours client_id (%s); assuming it does not", exc)
        return False


async def _tell_v1e(v1: V1Client, caps: Capabilities) -> None:
    """V1d or V1e, by behaviour and without writing (docs/itflow-api.md §7, last paragraph): with two
    clients visible, ``clients/read?client_id=<the second>`` answers exactly that client on V1e and the
    first page on V1d. With fewer than two clients it cannot be told that way: the 26.09 files decide the
    era, and the filter counts as unchecked (never relied on)."""
    by_files = bool(caps.endpoints.get("tickets/close"))
    try:
        rows = (await v1.clients_read(limit=2)).rows
        ids = [r.get("client_id", "") for r in rows]
        if len(set(ids)) >= 2:
            filtered = (await v1.clients_read(client_id=int(ids[1]), limit=2)).rows
            caps.v1e = [r.get("client_id") for r in filtered] == [ids[1]]
            caps.client_id_honoured = caps.v1e  # seen, not inferred: only then do features narrow by it
            if caps.v1e != by_files:
                caps.notes.append(
                    "the client_id filter and the endpoint files disagree about the ITFlow "
                    f"release; going by the filter (honoured: {caps.v1e})"
                )
        else:
            caps.v1e = by_files
            if by_files:
                caps.notes.append(
                    "26.09+ told by its endpoint files only: the key sees fewer than two "
                    "clients, so the client_id filter could not be checked"
                )
    except (ItflowError, ValueError) as exc:
        log.info("cannot tell V1d from V1e by behaviour (%s); going by the endpoint files", exc)
        caps.v1e = by_files
        caps.complete = caps.complete and not (isinstance(exc, ItflowError) and _transient(exc))


def _transient(exc: ItflowError) -> bool:
    return isinstance(exc, (TransportError, ServerError))


async def _probe_legacy(legacy: LegacyClient, caps: Capabilities, kind: str) -> None:
    # No function named: api.php checks the key and answers an empty body, with no side effect.
    try:
        await legacy.request("none", {})
        caps.legacy_key_ok = True
    except AuthError as exc:
        caps.notes.append(f"api.php rejected the key ({exc.server_message or exc.message})")
    except ItflowError as exc:
        caps.notes.append(f"api.php failed: {exc}")
        caps.complete = caps.complete and not _transient(exc)
    if caps.legacy_key_ok and "K1" in kind:
        caps.notes.append("api.php of 2019: phonebook and balance exist, cid lacks mobile numbers")


def _choose(caps: Capabilities) -> None:
    ep, forced = caps.endpoints, caps.forced
    v1_ok = caps.v1_key_ok and forced != "legacy"
    legacy_ok = caps.legacy_key_ok and forced != "v1"
    # directory: v1 lists every contact, location and vendor; api.php only primary contacts and vendors
    if v1_ok and ep.get("contacts/read"):
        caps.directory = "v1"
    elif legacy_ok:
        caps.directory = "legacy"
    # live caller ID: api.php cid searches contacts, locations and vendors; v1 only contacts' numbers
    if legacy_ok:
        caps.cid_live = "legacy"
    elif v1_ok and ep.get("contacts/read#phone"):
        caps.cid_live = "v1"
    # balance: api.php computes it exactly; v1 from invoices (exact only with payments)
    if legacy_ok:
        caps.balance = "legacy"
    elif v1_ok and ep.get("invoices/read"):
        caps.balance = "v1"
    if v1_ok and ep.get("tickets/create"):
        caps.tickets = "v1"
    else:
        caps.ticket_replies = False
        caps.notes.append("tickets: this ITFlow has no tickets/create (v1, 2023-09+); no auto-tickets")
    if caps.directory is None:
        caps.notes.append("directory: no usable source (caller ID and phonebook have no data)")
    if caps.balance is None:
        caps.notes.append("balance: no usable source")


# ------------------------------------------------------------------ check: permissions without writing


async def probe_permissions(
    v1: V1Client | None, caps: Capabilities, *, client_id: int | None = None
) -> list[PermissionItem]:
    """Per feature, may this key do it with the backend detection chose? Reads are tried (one row);
    writes are probed without writing: a GET to ``tickets/create`` answers 403 when RBAC denies and 405
    when allowed, because RBAC runs before the method check (v26.08+). Before v26.08 there is no RBAC,
    so ticket writes are "not checkable". ``client_id``: a client in the key's scope (default: the
    first client the key can read)."""
    items: list[PermissionItem] = []
    reads = {
        "directory": ("contacts", "clients", "locations", "vendors"),
        "caller ID live": ("contacts",),
        "balance": ("invoices", "payments") if caps.has_payments else ("invoices",),
    }
    for feature, generation in (
        ("directory", caps.directory),
        ("caller ID live", caps.cid_live),
        ("balance", caps.balance),
    ):
        if generation is None:
            items.append(PermissionItem(feature, "warn", "not available with this ITFlow and key"))
        elif generation == "legacy":
            items.append(PermissionItem(feature, "ok", "legacy api.php (the key is accepted)"))
        elif v1 is not None:
            items.extend([await _read_probe(v1, feature, module) for module in reads[feature]])
    if caps.tickets is None or v1 is None:
        items.append(PermissionItem("tickets", "warn", "no v1 tickets API with this ITFlow and key"))
        return items
    if not caps.rbac:
        items.append(
            PermissionItem(
                "tickets", "info", "write permission not checkable before v26.08 (no RBAC); the key is valid"
            )
        )
        return items
    scoped = client_id if client_id is not None else await _client_in_scope(v1)
    targets = [("tickets (known callers)", scoped)] if scoped else []
    targets.append(("tickets (unknown callers, client 0)", 0))
    for feature, target in targets:
        items.append(await _write_probe(v1, "tickets", feature, target))
    if caps.ticket_replies and scoped:
        items.append(await _write_probe(v1, "ticket_replies", "ticket replies", scoped))
    return items


async def _read_probe(v1: V1Client, feature: str, module: str) -> PermissionItem:
    try:
        await v1.call(module, "read", limit=1)
        return PermissionItem(feature, "ok", f"{module}/read allowed")
    except PermissionDenied as exc:
        return PermissionItem(feature, "warn", f"{module}/read denied ({exc.reason}): {exc.message}")
    except NotAvailable:
        return PermissionItem(feature, "warn", f"{module}/read does not exist in this version")
    except ItflowError as exc:
        return PermissionItem(feature, "fail", f"{module}/read failed: {exc}")


async def _client_in_scope(v1: V1Client) -> int | None:
    try:
        for row in (await v1.clients_read(limit=1)).rows:
            cid = int(row.get("client_id") or 0)
            if cid:
                return cid
    except (ItflowError, ValueError) as exc:
        log.info("no client in the key's scope to probe writes with (%s)", exc)
    return None


async def _write_probe(v1: V1Client, module: str, feature: str, client_id: int) -> PermissionItem:
    try:
        await v1.call(module, "create", method="GET", client_id=client_id)
    except MethodNotAllowed:
        return PermissionItem(feature, "ok", f"{module}/create allowed for client {client_id}")
    except PermissionDenied as exc:
        return PermissionItem(
            feature, "warn", f"{module}/create denied for client {client_id} ({exc.reason}): {exc.message}"
        )
    except NotAvailable:
        return PermissionItem(feature, "warn", f"{module}/create does not exist in this version")
    except ItflowError as exc:
        return PermissionItem(feature, "fail", f"{module}/create probe failed: {exc}")
    return PermissionItem(feature, "info", f"{module}/create answered a GET unexpectedly; not checkable")


class CheckedItflow(Protocol):
    """What :func:`check_items` reads of the :class:`~pbx_bridge.itflow.backend.Itflow` bundle (which
    imports this module, so it is named by its shape)."""

    @property
    def base_url(self) -> str: ...
    @property
    def v1(self) -> V1Client | None: ...
    async def capabilities(self, *, refresh: bool = False) -> Capabilities: ...


async def check_items(
    itflow: CheckedItflow, *, client_id: int | None = None, refresh: bool = True
) -> list[PermissionItem]:
    """Everything ``check`` says about ITFlow, one item per line: reachable, key accepted, generation and
    era, then per feature what this key may do (:func:`probe_permissions`). ``itflow`` is the
    :class:`~pbx_bridge.itflow.backend.Itflow` bundle. Only a broken configured part is ``fail``."""
    try:
        caps = await itflow.capabilities(refresh=refresh)
    except TransportError as exc:
        return [PermissionItem("itflow", "fail", f"ITFlow is not reachable at {itflow.base_url}: {exc}")]
    except ItflowError as exc:
        return [PermissionItem("itflow", "fail", f"detection failed: {exc}")]
    items = [PermissionItem("itflow", "ok", f"reachable at {itflow.base_url}")]
    if not (caps.v1_key_ok or caps.legacy_key_ok):
        why = "; ".join(caps.notes[:2]) or "no ITFlow API answered"
        items.append(PermissionItem("api key", "fail", f"not accepted: {why}"))
        return items
    used = [g for g, ok in (("v1", caps.v1_key_ok), ("legacy api.php", caps.legacy_key_ok)) if ok]
    items.append(PermissionItem("api key", "ok", f"accepted by {' and '.join(used)}"))
    chosen = (
        ("directory", caps.directory),
        ("cid_live", caps.cid_live),
        ("balance", caps.balance),
        ("tickets", caps.tickets),
    )
    items.append(
        PermissionItem(
            "generation",
            "info",
            f"{caps.era}; " + ", ".join(f"{name}={gen or 'none'}" for name, gen in chosen),
        )
    )
    items.extend(await probe_permissions(itflow.v1, caps, client_id=client_id))
    items.extend(PermissionItem("itflow", "info", note) for note in caps.notes)
    return items
