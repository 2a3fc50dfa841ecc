"""The legacy api.php client against the simulator's legacy-2022 profile over real HTTP on loopback."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from pbx_bridge.itflow.errors import AuthError, ItflowError, NotAvailable, ServerError, TransportError
from pbx_bridge.itflow.legacy import LegacyClient, LegacyPhonebookEntry, LegacyPrimaryContactNumbers
from pbx_bridge.itflow.transport import RetryPolicy

FAST = RetryPolicy(attempts=2, first_wait=0.01, max_wait=0.02)


def client(sim, key: str = "all", **kw) -> LegacyClient:
    kw.setdefault("retry", FAST)
    return LegacyClient(sim.url, sim.keys.get(key, key), timeout=kw.pop("timeout", 5.0), **kw)


@pytest.mark.parametrize("newline", [False, True])
async def test_cid_names_no_match_and_formatted_input(itflow_sim, newline: bool) -> None:
    sim = await itflow_sim("legacy-2022", quirks={"leading_newline": newline})
    async with client(sim) as api:
        assert await api.cid("4125550101") == "Alice Anderson"
        assert await api.cid("4125550199") == "Alice Anderson"  # contact mobile
        assert await api.cid("+1 (412) 555-0100") is None  # sent as 14125550100, stored as 4125550100
        assert await api.cid("8005550123") == "Bell & Whistle"  # vendor
        assert await api.cid("4125550100") == "ACME HQ"  # location
        assert await api.cid("9995550000") is None  # " - 9995550000"
        assert await api.cid("") is None and await api.cid("abc") is None  # never asks for intval 0
        assert api.saw_leading_newline is newline
    cids = [r.path_qs for r in sim.requests if "cid=" in r.path_qs]
    assert all("cid=0&" not in q and not q.endswith("cid=0") for q in cids)
    assert any("cid=14125550100" in q for q in cids)  # "+1 (412) 555-0100" sent as its digits


async def test_cid_answer_inside_a_500_is_used(itflow_sim) -> None:
    # PHP 8: the name with an apostrophe is echoed, then the alert INSERT fails -> HTTP 500
    # (docs/itflow-api.md §6.4).
    sim = await itflow_sim("legacy-2022")
    async with client(sim) as api:
        assert await api.cid("7245550121") == "Siobhan O'Brien"
    assert any(r.path_qs.endswith("cid=7245550121") or "cid=7245550121&" in r.path_qs for r in sim.requests)


async def test_cid_500_with_an_empty_body_is_a_server_error(itflow_sim) -> None:
    sim = await itflow_sim("legacy-2022")
    async with client(sim) as api:
        status, _ = await api.request("incoming_call", {"incoming_call": "1"}, allow_500=True)
        assert status == 500  # the simulator's PHP 8 behaviour the next call relies on
        assert await api.incoming_call() is False


async def test_phonebook_keeps_every_entry_around_the_ampersand(itflow_sim) -> None:
    sim = await itflow_sim("legacy-2022")
    sim.db.add_vendor("R&D <Labs>", phone="8005550777")
    async with client(sim) as api:
        book = await api.phonebook()
    assert LegacyPhonebookEntry("Alice Anderson", "4125550101", "0") in book
    assert LegacyPhonebookEntry("Bell & Whistle", "8005550123", "1") in book
    assert LegacyPhonebookEntry("R&D <Labs>", "8005550777", "1") in book
    vendors = [e for e in book if e.group == "1"]
    assert len(vendors) == len(sim.db["vendors"])  # archived and client-specific vendors too
    assert len([e for e in book if e.group == "0"]) == len(sim.db["clients"])  # one per client


async def test_phonebook_2019_era(itflow_sim) -> None:
    sim = await itflow_sim("legacy-2022", quirks={"phonebook_era": "2019", "leading_newline": True})
    async with client(sim) as api:
        book = await api.phonebook()
    groups = {g: [e for e in book if e.group == g] for g in ("0", "1", "2")}
    assert len(groups["1"]) == len(sim.db["contacts"]) and all(e.name == e.number == "" for e in groups["1"])
    assert any(e.name == "Bell & Whistle" for e in groups["2"])


async def test_account_balance(itflow_sim) -> None:
    sim = await itflow_sim("legacy-2022")
    c = sim.db.add_client("Balance Cases")
    a = sim.db.add_invoice(c, "150.00")
    sim.db.add_payment(a, "49.50")
    paid_up = sim.db.add_client("Overpaid")
    b = sim.db.add_invoice(paid_up, "100.00")
    sim.db.add_payment(b, "125.00")
    async with client(sim) as api:
        assert await api.account_balance(c) == Decimal("100.5")
        assert await api.account_balance(paid_up) == Decimal("-25")
        assert await api.account_balance(987654) == Decimal("0")  # unknown client: 0, not an error
        # legacy excludes only Draft and Cancelled (Non-Billable counts): ITFlow's own figure
        assert await api.account_balance(1) == sim.db.balance(1, exclude=("draft", "cancelled"))
    assert any("account_balance=" in r.path_qs for r in sim.requests)
    assert not any("client_id=" in r.path_qs for r in sim.requests)


async def test_lists(itflow_sim) -> None:
    sim = await itflow_sim("legacy-2022")
    sim.db.add_client("Smith - Jones Plumbing")  # " - " inside a name, no primary contact
    async with client(sim) as api:
        numbers = await api.primary_contact_numbers()
        emails = await api.primary_contact_emails()
        old_numbers = await api.client_numbers()  # renamed away in 2022-02: nothing to list
    assert LegacyPrimaryContactNumbers("ACME Corp", "Alice Anderson", "4125550101", "4125550199") in numbers
    assert LegacyPrimaryContactNumbers("Smith - Jones Plumbing", "", "", "") in numbers
    nora = next(n for n in numbers if n.contact_name == "Nora NoPhone")
    assert nora.contact_mobile == ""  # the schema's 'NULL' text default is no number
    assert len(numbers) == len(sim.db["clients"])
    assert any(e.contact_email == "alice@acme.example" and e.client_name == "ACME Corp" for e in emails)
    assert old_numbers == []


async def test_add_asset_is_sent_once(itflow_sim) -> None:
    sim = await itflow_sim("legacy-2022")
    before = len(sim.db["assets"])
    async with client(sim) as api:
        assert await api.add_asset(1, "Desk Phone 12", type="Phone", make="Yealink", serial="SN1") is True
    new = sim.db["assets"][before:]
    assert [(a["asset_name"], a["asset_make"], a["asset_client_id"]) for a in new] == [
        ("Desk Phone 12", "Yealink", "1")
    ]


@pytest.mark.parametrize("key", ["wrong-key-123456", "expired", ""])
async def test_bad_keys(itflow_sim, key: str) -> None:
    sim = await itflow_sim("legacy-2022")
    async with client(sim, key) as api:
        with pytest.raises(AuthError) as info:
            await api.cid("4125550101")
    assert info.value.status == 401 and "not accepted" in str(info.value)


async def test_api_php_missing_on_a_v1_install(itflow_sim) -> None:
    sim = await itflow_sim("v1-head")
    async with client(sim) as api:
        with pytest.raises(NotAvailable, match=r"no api\.php"):
            await api.phonebook()


async def test_unreachable(itflow_sim) -> None:
    sim = await itflow_sim("legacy-2022")
    sim.down = True
    async with client(sim) as api:
        with pytest.raises(TransportError) as info:
            await api.cid("4125550101")
    assert sim.keys["all"] not in str(info.value)


async def test_the_key_is_only_on_the_wire(itflow_sim, caplog) -> None:
    """api.php needs the key in the URL (documented); it must not reach our logs or error texts, even
    with httpx's own request logging at DEBUG."""
    sim = await itflow_sim("legacy-2022")
    key = sim.keys["all"]
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore"):  # caplog restores these levels at teardown
        caplog.set_level(logging.DEBUG, logger=name)
    texts: list[str] = []
    async with client(sim) as api:
        assert await api.cid("4125550101")
        await api.phonebook()
        await api.account_balance(1)
    async with client(sim, "wrong-key-123456") as bad:
        try:
            await bad.cid("4125550101")
        except ItflowError as exc:
            texts += [str(exc), repr(exc), exc.server_message]
    sim.down = True
    async with client(sim) as api:
        try:
            await api.phonebook()
        except ItflowError as exc:
            texts += [str(exc), repr(exc)]
    assert any(key in r.path_qs for r in sim.requests)  # it did travel in the URL
    assert "/api.php?" in caplog.text  # httpx logged the request line...
    for text in [caplog.text, *texts]:
        assert key not in text  # ...without the key


async def test_500_on_other_functions_is_a_server_error(itflow_sim) -> None:
    sim = await itflow_sim("legacy-2022")
    async with client(sim) as api:
        with pytest.raises(ServerError):
            await api.request("incoming_call", {"incoming_call": "1"})


async def test_php7_installs_answer_200_where_php8_gives_500(itflow_sim) -> None:
    sim = await itflow_sim("legacy-2022", quirks={"mysqli_exceptions": False})
    async with client(sim) as api:
        assert await api.cid("7245550121") == "Siobhan O'Brien"
        assert await api.incoming_call() is True
