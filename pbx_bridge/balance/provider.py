"""A client's balance, computed the way ITFlow itself computes it in each API generation and era.

* legacy ``api.php?account_balance=<id>``: ITFlow computes it; we parse PHP's float printing (``100.5``,
  ``150``, ``-25``, ``0``, ``1.0E+15``). No currency in that API: the configured default.
* v1 with ``payments/read`` (v25.01 ... v26.3): exact. Σ invoice_amount of the client's invoices whose
  status is not Draft/Cancelled (and not Non-Billable from v25.06), minus Σ payment_amount of every payment
  on any of the client's invoices (drafts and cancelled included; payment status not filtered). Payments
  are read per invoice, WITHOUT ``client_id`` (docs/itflow-api.md §6.1: with it, v26.3 answers a stale
  "success" without data).
* v1 without payments (v26.04+): only an upper bound, Σ of Sent, Viewed and Partial invoices, flagged
  approximate.

Where the era honours ``client_id`` on reads (V1b/V1c all-clients keys, V1e 26.09+: docs/itflow-api.md
§3.1, §7 row 1), the client is looked up by id and only its invoices are read; v26.08 ignores the
parameter and answers everything, so there the listings are paged and filtered here. The rows are checked
here in every era, so a server that ignores the filter can never make another client's invoice count.

Credits are never subtracted (ITFlow shows them separately). Decimal all the way; never floats.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal, TypeVar

from pbx_bridge.balance.settings import BalanceSettings
from pbx_bridge.errors import PbxBridgeError
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.itflow.capabilities import Capabilities
from pbx_bridge.itflow.errors import (
    AuthError,
    ItflowError,
    MalformedResponse,
    MethodNotAllowed,
    NotAvailable,
    PermissionDenied,
    ServerError,
    TransportError,
)
from pbx_bridge.itflow.legacy import parse_php_float
from pbx_bridge.itflow.response import Param
from pbx_bridge.itflow.v1 import V1Client

__all__ = [
    "Balance",
    "BalanceError",
    "BalanceProvider",
    "BalanceUnavailable",
    "UnknownClient",
    "excludes_non_billable",
    "parse_php_number",
]

log = logging.getLogger("pbx_bridge.balance")

CENT = Decimal("0.01")
# ITFlow's own exclusions (case-insensitive: MariaDB *_general_ci collation).
_ALWAYS_EXCLUDED = frozenset({"draft", "cancelled"})
_NON_BILLABLE = "non-billable"
# The v26.04+ approximation: invoices a client still owes on.
_OPEN_STATUSES = frozenset({"sent", "viewed", "partial"})
_PAYMENT_CONCURRENCY = 4

T = TypeVar("T")


class BalanceError(PbxBridgeError):
    """The balance cannot be computed right now (ITFlow error, odd answer). The message is safe to show."""


class BalanceUnavailable(BalanceError):
    """This ITFlow offers no way to compute a balance (or the key lacks the scope for it)."""


class UnknownClient(BalanceError):
    """No client with this id is visible to the key (v1)."""


@dataclass(frozen=True, slots=True)
class Balance:
    client_id: int
    amount: Decimal  # positive: the client owes; negative: overpaid (a credit)
    currency: str  # ISO 4217
    exact: bool  # False: the v26.04+ open-invoice approximation
    backend: Literal["legacy", "v1"]
    era: str
    method: str  # account_balance | invoices-minus-payments | open-invoices
    invoices_counted: int = 0  # invoices that entered the sum
    invoices_seen: int = 0  # all invoices of the client that were read
    payments_counted: int = 0
    client_name: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["amount"] = f"{self.amount:.2f}"
        d["notes"] = list(self.notes)
        return d


def parse_php_number(text: str) -> Decimal:
    """Parse what PHP's ``echo $float`` printed (precision 14) into an exact 2-place Decimal.

    ``"100.5"`` -> 100.50, ``"150"`` -> 150.00, ``"-25"`` -> -25.00, ``"0"`` -> 0.00, ``"-0"`` -> 0.00,
    ``"1.0E+15"`` -> 1000000000000000.00. A leading newline (the 2019-2022 framing quirk) is ignored.
    Anything else (HTML, "INF", "NAN", empty) raises ``BalanceError``.
    """
    try:
        value = parse_php_float(text)
    except ValueError:
        raise BalanceError(
            f"account_balance answered something that is not a number: {text.strip()[:40]!r}"
        ) from None
    return _cents(value)


def _cents(value: Decimal) -> Decimal:
    """Round to cents as ITFlow shows money; ``+ 0.00`` turns -0.00 into 0.00."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP) + Decimal("0.00")


def _amount(value: str | None, what: str) -> Decimal:
    """An ITFlow decimal(15,2) column as a Decimal ("" and NULL are 0, as in MariaDB's SUM)."""
    if value is None or str(value).strip() == "":
        return Decimal("0.00")
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise BalanceError(f"ITFlow sent a {what} that is not a number: {str(value)[:40]!r}") from None
    if not d.is_finite():
        raise BalanceError(f"ITFlow sent a {what} that is not finite")
    return d


def _version(era: str) -> tuple[int, int] | None:
    """'v26.3' / 'v25.06' / '26.08' / 'V1c v26.3' -> (26, 3); None when no tag-like version is in it."""
    m = re.search(r"v?(\d{2})\.(\d{1,2})\b", era or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def excludes_non_billable(era: str, rbac: bool, setting: str = "auto") -> bool:
    """Does ITFlow exclude Non-Billable invoices from the balance in this era? (v25.06, 2025-06-11, on.)

    Legacy api.php and v1 eras V1a/V1b (2022-2023) never did. V1c spans v25.01 ... v26.07 and the API
    cannot tell v25.05 from v26.3: auto assumes a current install (excluded, as confirmed on v26.3); set
    ``balance.non_billable: include`` for an install older than v25.06.
    """
    if setting == "exclude":
        return True
    if setting == "include":
        return False
    if rbac:  # V1d (v26.08+) is after v25.06
        return True
    ver = _version(era)
    if ver is not None:
        return ver >= (25, 6)
    low = (era or "").strip().lower()
    return not ("legacy" in low or low.startswith(("v1a", "v1b")))


class BalanceProvider:
    """Computes :class:`Balance` through the ``Itflow`` bundle (``.v1``, ``.legacy``, ``capabilities()``)."""

    def __init__(self, itflow: Itflow, settings: BalanceSettings) -> None:
        self._itflow = itflow
        self._settings = settings

    async def capabilities(self) -> Capabilities:
        return await _call_itflow(self._itflow.capabilities)

    async def balance(self, client_id: int) -> Balance:
        if client_id <= 0:
            raise UnknownClient("a client id is a positive number")
        caps = await self.capabilities()
        gen = caps.balance
        if gen == "legacy":
            return await self._legacy(client_id, caps)
        if gen == "v1":
            if caps.has_payments:
                return await self._v1_exact(client_id, caps)
            return await self._v1_approximate(client_id, caps)
        raise BalanceUnavailable(
            "this ITFlow offers no balance through its API (see `pbx-bridge api detect`)"
        )

    # ------------------------------------------------------------------ legacy

    async def _legacy(self, client_id: int, caps: Capabilities) -> Balance:
        legacy = self._itflow.legacy
        if legacy is None:
            raise BalanceUnavailable("the legacy API is not configured")
        # LegacyClient parses PHP's float printing (MalformedResponse otherwise); we only round it.
        amount = _cents(await _call_itflow(lambda: legacy.account_balance(client_id)))
        return Balance(
            client_id=client_id,
            amount=amount,
            currency=self._settings.default_currency,
            exact=True,
            backend="legacy",
            era=caps.era,
            method="account_balance",
            notes=("legacy api.php answers 0 for an unknown client",) if amount == 0 else (),
        )

    # ------------------------------------------------------------------ v1

    async def _client_row(self, client_id: int, caps: Capabilities) -> dict[str, str]:
        v1 = self._require_v1()
        # A by-id lookup where the era has one; v26.08 has none (it ignores client_id): list and match.
        narrowed: dict[str, Param] = {"client_id": client_id} if caps.client_id_honoured else {}
        async for row in _iter(v1, "clients", **narrowed):
            if _int(row.get("client_id")) == client_id:
                return row
        raise UnknownClient(f"no client with id {client_id} is visible to this API key")

    async def _invoices(self, client_id: int, caps: Capabilities) -> list[dict[str, str]]:
        v1 = self._require_v1()
        # Only the client's invoices where the era filters; every invoice where it would not (v26.08).
        narrowed: dict[str, Param] = {"client_id": client_id} if caps.client_id_honoured else {}
        out = []
        async for row in _iter(v1, "invoices", **narrowed):
            if _int(row.get("invoice_client_id")) == client_id:
                out.append(row)
        return out

    def _currency(
        self, client: Mapping[str, str], invoices: Iterable[Mapping[str, str]]
    ) -> tuple[str, list[str]]:
        notes: list[str] = []
        code = (client.get("client_currency_code") or "").strip().upper()
        if not code:
            code = self._settings.default_currency
            notes.append("client has no currency code; using balance.default_currency")
        seen = {(i.get("invoice_currency_code") or "").strip().upper() for i in invoices}
        others = sorted(seen - {"", code})
        if others:
            notes.append(f"invoices in other currencies ({', '.join(others)}) are summed as ITFlow does")
        return code, notes

    async def _v1_exact(self, client_id: int, caps: Capabilities) -> Balance:
        v1 = self._require_v1()
        client = await self._client_row(client_id, caps)
        invoices = await self._invoices(client_id, caps)
        skip_nb = excludes_non_billable(caps.era, caps.rbac, self._settings.non_billable)
        excluded = _ALWAYS_EXCLUDED | ({_NON_BILLABLE} if skip_nb else set())
        billed = [i for i in invoices if (i.get("invoice_status") or "").strip().lower() not in excluded]
        total = sum((_amount(i.get("invoice_amount"), "invoice amount") for i in billed), Decimal("0.00"))

        sem = asyncio.Semaphore(_PAYMENT_CONCURRENCY)

        async def payments_of(invoice_id: int) -> list[dict[str, str]]:
            async with sem:
                # NEVER pass client_id here (docs/itflow-api.md §6.1). Keep only payments that really
                # are on this invoice: the filter is checked here too.
                return [
                    p
                    async for p in _iter(v1, "payments", payment_invoice_id=invoice_id)
                    if _int(p.get("payment_invoice_id")) == invoice_id
                ]

        ids = [i for i in (_int(inv.get("invoice_id")) for inv in invoices) if i > 0]
        if ids:
            await self._check_payments_scope(v1, ids[0])
        batches = await asyncio.gather(*(payments_of(i) for i in ids))
        payments = [p for batch in batches for p in batch]
        paid = sum((_amount(p.get("payment_amount"), "payment amount") for p in payments), Decimal("0.00"))
        currency, notes = self._currency(client, invoices)
        if not skip_nb:
            notes.append("Non-Billable invoices counted (ITFlow before v25.06)")
        return Balance(
            client_id=client_id,
            amount=(total - paid).quantize(CENT) + Decimal("0.00"),
            currency=currency,
            exact=True,
            backend="v1",
            era=caps.era,
            method="invoices-minus-payments",
            invoices_counted=len(billed),
            invoices_seen=len(invoices),
            payments_counted=len(payments),
            client_name=client.get("client_name", ""),
            notes=tuple(notes),
        )

    async def _v1_approximate(self, client_id: int, caps: Capabilities) -> Balance:
        self._require_v1()
        client = await self._client_row(client_id, caps)
        invoices = await self._invoices(client_id, caps)
        open_ = [i for i in invoices if (i.get("invoice_status") or "").strip().lower() in _OPEN_STATUSES]
        total = sum((_amount(i.get("invoice_amount"), "invoice amount") for i in open_), Decimal("0.00"))
        currency, notes = self._currency(client, invoices)
        notes.insert(
            0,
            "approximate: no payments API in this era; the open (Sent, Viewed, Partial) invoice "
            "total, an upper bound (paid parts of Partial invoices are not visible)",
        )
        return Balance(
            client_id=client_id,
            amount=total.quantize(CENT) + Decimal("0.00"),
            currency=currency,
            exact=False,
            backend="v1",
            era=caps.era,
            method="open-invoices",
            invoices_counted=len(open_),
            invoices_seen=len(invoices),
            payments_counted=0,
            client_name=client.get("client_name", ""),
            notes=tuple(notes),
        )

    async def _check_payments_scope(self, v1: V1Client, invoice_id: int) -> None:
        """v26.3 answers a client-scoped key (or a client_id parameter) with a stale "success" and no data,
        which would silently read as "no payments" and overstate the balance. Refuse instead."""
        resp = await _call_itflow(lambda: v1.payments_read(payment_invoice_id=invoice_id))
        raw = resp.raw
        if isinstance(raw, dict) and str(raw.get("success", "")).lower() == "true" and "data" not in raw:
            raise BalanceUnavailable(
                "payments/read answered 'success' without data: the API key is restricted to one client; "
                "an exact balance needs an all-clients key"
            )

    def _require_v1(self) -> V1Client:
        if self._itflow.v1 is None:
            raise BalanceUnavailable("the v1 API is not configured")
        return self._itflow.v1


def _int(value: str | None) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return 0


async def _iter(v1: V1Client, module: str, **params: Param) -> AsyncIterator[dict[str, str]]:
    try:
        # The paging arguments named, so that a parameter dict cannot be taken for them.
        async for row in v1.iter_rows(module, "read", page_size=200, skip_undecodable=True, **params):
            yield row
    except BalanceError:
        raise
    except Exception as exc:
        raise _as_balance_error(exc) from exc


async def _call_itflow(fn: Callable[[], Awaitable[T]]) -> T:
    try:
        return await fn()
    except BalanceError:
        raise
    except Exception as exc:
        raise _as_balance_error(exc) from exc


# Transport-level failures (and the bare base class): ITFlow did not answer usefully.
_NO_USEFUL_ANSWER = (TransportError, ServerError, MalformedResponse, MethodNotAllowed, OSError, TimeoutError)


def _as_balance_error(exc: Exception) -> BalanceError:
    """Map the client's errors (pbx_bridge.itflow.errors) to ours; their messages never hold the key."""
    name = type(exc).__name__
    if isinstance(exc, NotAvailable):
        return BalanceUnavailable(f"ITFlow has no such endpoint in this era: {exc}")
    if isinstance(exc, AuthError | PermissionDenied):
        return BalanceUnavailable(f"ITFlow refused the API key: {exc}")
    if type(exc) is ItflowError or isinstance(exc, _NO_USEFUL_ANSWER):
        return BalanceError(f"ITFlow did not answer usefully: {name}: {exc}")
    if isinstance(exc, ItflowError):
        return BalanceError(f"ITFlow error: {name}: {exc}")
    raise exc
