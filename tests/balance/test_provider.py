"""Balances against the ITFlow simulator over real HTTP, in all three profiles.

Expected amounts are HARD-CODED, worked out by hand from the data (seed.json plus what each test adds),
never from the code's own formula. The seed's client 1 (ACME Corp) has:

  inv 1 Sent 150.00 | inv 2 Partial 100.00 (paid 49.50) | inv 3 Paid 200.00 (paid 200.00)
  inv 4 Draft 500.00 (a payment of 10.00 on the draft!) | inv 5 Cancelled 75.00
  inv 6 Non-Billable 60.00 | inv 7 Viewed 40.00, archived

  ITFlow >= v25.06:  150 + 100 + 200 + 40           - (49.50 + 200 + 10) = 230.50
  legacy api.php:    150 + 100 + 200 + 60 + 40      - 259.50             = 290.50  ("290.5")
  v1 HEAD approx.:   Sent + Partial + Viewed = 150 + 100 + 40             = 290.00  (approximate)

client 2 Globex: Sent 150.00, no payment -> 150 ("150"); client 3 Initech: Paid 100.00 with 125.00 paid
-> -25 (overpaid, "-25"); client 4 Umbrella: no invoices -> 0; client 5 Hooli: Sent 150.00, paid 49.50
-> 100.50 ("100.5").
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from pbx_bridge.balance.provider import (
    BalanceError,
    BalanceProvider,
    UnknownClient,
    excludes_non_billable,
    parse_php_number,
)
from pbx_bridge.balance.settings import BalanceSettings
from pbx_bridge.itflow.backend import Itflow


@pytest.fixture
async def make(itflow_sim) -> AsyncIterator:
    """(profile, key name, settings) -> (simulator, provider); closed/stopped at teardown."""
    opened: list[Itflow] = []

    async def factory(profile: str, key: str = "all", settings: BalanceSettings | None = None):
        sim = await itflow_sim(profile)
        itflow = Itflow(sim.url, sim.keys[key], timeout=5)
        opened.append(itflow)
        return sim, BalanceProvider(itflow, settings or BalanceSettings())

    yield factory
    for itflow in opened:
        await itflow.aclose()


SEED_V26_3 = {1: "230.50", 2: "150.00", 3: "-25.00", 4: "0.00", 5: "100.50"}
SEED_LEGACY = {1: "290.50", 2: "150.00", 3: "-25.00", 4: "0.00", 5: "100.50"}
SEED_HEAD_APPROX = {1: "290.00", 2: "150.00", 3: "0.00", 4: "0.00", 5: "150.00"}


@pytest.mark.parametrize("client_id", sorted(SEED_V26_3))
async def test_v1_v26_3_exact(make, client_id: int) -> None:
    _, provider = await make("v1-v25")
    b = await provider.balance(client_id)
    assert (b.amount, b.exact, b.backend, b.method) == (
        Decimal(SEED_V26_3[client_id]),
        True,
        "v1",
        "invoices-minus-payments",
    )
    assert b.currency == "USD"


async def test_v1_v26_3_counts_and_era(make) -> None:
    _, provider = await make("v1-v25")
    b = await provider.balance(1)
    # 7 invoices read; Draft, Cancelled, Non-Billable left out -> 4; payments on inv 2, 3 and the draft 4.
    assert (b.invoices_seen, b.invoices_counted, b.payments_counted) == (7, 4, 3)
    assert "v26.3" in b.era


@pytest.mark.parametrize("client_id", sorted(SEED_LEGACY))
async def test_legacy_account_balance(make, client_id: int) -> None:
    _, provider = await make("legacy-2022", settings=BalanceSettings(default_currency="EUR"))
    b = await provider.balance(client_id)
    assert (b.amount, b.exact, b.backend, b.method, b.currency) == (
        Decimal(SEED_LEGACY[client_id]),
        True,
        "legacy",
        "account_balance",
        "EUR",
    )


async def test_legacy_unknown_client_is_zero(make) -> None:
    _, provider = await make("legacy-2022")
    assert (await provider.balance(999)).amount == Decimal("0.00")


@pytest.mark.parametrize("client_id", sorted(SEED_HEAD_APPROX))
async def test_v1_head_is_a_flagged_approximation(make, client_id: int) -> None:
    _, provider = await make("v1-head")
    b = await provider.balance(client_id)
    assert (b.amount, b.exact, b.method, b.payments_counted) == (
        Decimal(SEED_HEAD_APPROX[client_id]),
        False,
        "open-invoices",
        0,
    )
    assert any("approximate" in n for n in b.notes)


async def test_v1_unknown_client(make) -> None:
    _, provider = await make("v1-v25")
    with pytest.raises(UnknownClient):
        await provider.balance(999)


async def test_added_invoices_and_payments_and_currency(make) -> None:
    sim, provider = await make("v1-v25")
    cid = sim.db.add_client("Zed GmbH", client_currency_code="EUR")
    sim.db.add_invoice(cid, "1000.10", status="Sent")
    sim.db.add_invoice(cid, "0.25", status="Viewed", archived=True)
    draft = sim.db.add_invoice(cid, "300.00", status="Draft")
    sim.db.add_payment(draft, "0.35")  # a payment on a draft still counts
    sim.db.add_invoice(cid, "99.99", status="non-billable")  # case-insensitive exclusion
    b = await provider.balance(cid)
    assert (b.amount, b.currency, b.invoices_counted, b.payments_counted) == (Decimal("1000.00"), "EUR", 2, 1)


async def test_v1_overpaid_across_invoices(make) -> None:
    sim, provider = await make("v1-v25")
    cid = sim.db.add_client("Overpay Ltd")
    a = sim.db.add_invoice(cid, "10.00", status="Paid")
    sim.db.add_payment(a, "12.50")
    sim.db.add_payment(a, "7.50")
    assert (await provider.balance(cid)).amount == Decimal("-10.00")


async def test_client_scoped_key_never_gives_a_wrong_exact_balance(make) -> None:
    # v26.3 answers a client-scoped key's payments/read with "success" and no data (docs/itflow-api.md
    # §6.1). That must
    # not read as "no payments" (which would say 490.00 for ACME): it becomes the flagged approximation.
    _, provider = await make("v1-v25", key="client")
    b = await provider.balance(1)
    assert b.exact is False
    assert b.amount == Decimal("290.00")


async def test_approximation_can_be_refused_by_caller_not_provider(make) -> None:
    # The provider always reports; whether to speak it is the IVR's setting (balance.approximate).
    _, provider = await make("v1-head", settings=BalanceSettings(approximate="refuse"))
    assert (await provider.balance(2)).exact is False


async def test_unreachable_itflow_is_a_clear_error(make) -> None:
    sim, provider = await make("v1-v25")
    await sim.stop()
    with pytest.raises(BalanceError, match="ITFlow"):
        await provider.balance(1)


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        ("100.5", "100.50"),
        ("150", "150.00"),
        ("-25", "-25.00"),
        ("0", "0.00"),
        ("-0", "0.00"),
        ("\n100.5", "100.50"),
        ("1.0E+15", "1000000000000000.00"),
        ("0.1", "0.10"),
        ("33.333333333333", "33.33"),
    ],
)
def test_php_float_printing(printed: str, expected: str) -> None:
    assert str(parse_php_number(printed)) == expected


@pytest.mark.parametrize("bad", ["", "INF", "NAN", "<html>", "1,234.50", "12 "])
def test_php_float_rejects_non_numbers(bad: str) -> None:
    if bad == "12 ":  # surrounding blanks are framing, not content
        assert parse_php_number(bad) == Decimal("12.00")
        return
    with pytest.raises(Exception, match="not a number"):
        parse_php_number(bad)


@pytest.mark.parametrize(
    ("era", "rbac", "excluded"),
    [
        ("legacy api.php K5 (2022)", False, False),
        ("V1a/V1b 2022-02 to 2023-02", False, False),
        ("V1c v26.3", False, True),
        ("V1c v25.05", False, False),
        ("V1c v25.06", False, True),
        ("V1d v26.08+", True, True),
    ],
)
def test_non_billable_by_era(era: str, rbac: bool, excluded: bool) -> None:
    assert excludes_non_billable(era, rbac) is excluded


async def test_non_billable_setting_for_an_old_v1c_install(make) -> None:
    # A v25.01-v25.05 install looks like v26.3 through the API; the setting makes it count Non-Billable:
    # 230.50 + 60.00 = 290.50, the same as that era's own balance.
    _, provider = await make("v1-v25", settings=BalanceSettings(non_billable="include"))
    assert (await provider.balance(1)).amount == Decimal("290.50")
