"""The v1 client against the ITFlow simulator over real HTTP on loopback, in every profile."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from pbx_bridge.itflow.errors import (
    AuthError,
    ItflowError,
    ItflowTimeout,
    MalformedResponse,
    MethodNotAllowed,
    NotAvailable,
    PermissionDenied,
    RequestRejected,
    ServerError,
    TransportError,
    WriteFailed,
)
from pbx_bridge.itflow.transport import RetryPolicy
from pbx_bridge.itflow.v1 import V1Client

V1_PROFILES = ["v1-v25", "v1-head"]
FAST = RetryPolicy(attempts=3, first_wait=0.01, max_wait=0.02)


def client(sim, key: str = "all", **kw) -> V1Client:
    kw.setdefault("retry", FAST)
    return V1Client(sim.url, sim.keys[key] if key in sim.keys else key, timeout=kw.pop("timeout", 5.0), **kw)


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_contacts_read_first_page_rows_are_strings(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    async with client(sim) as api:
        resp = await api.contacts_read(limit=3)
    assert resp.success and 1 <= resp.count == len(resp.rows) <= 3
    for row in resp.rows:
        assert all(isinstance(k, str) and not k.isdigit() for k in row)
        assert all(isinstance(v, str) for v in row.values())
        assert "contact_name" in row and "contact_client_id" in row
    ids = [int(r["contact_id"]) for r in resp.rows]
    assert ids == sorted(ids)


async def test_numeric_duplicate_keys_are_dropped(itflow_sim) -> None:
    # legacy-2022's v1 (V1a) has only assets/read, and rows carried numeric duplicates then.
    sim = await itflow_sim("legacy-2022")
    sim.db.insert("assets", {"asset_name": "PBX", "asset_client_id": 1})
    async with client(sim) as api:
        resp = await api.call("assets", "read", limit=1000)
    assert any(k.isdigit() for k in resp.raw["data"][0]), "the wire rows carry numeric keys"
    assert resp.rows and all(not k.isdigit() for row in resp.rows for k in row)
    assert "PBX" in [r["asset_name"] for r in resp.rows]


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_no_resource_is_an_empty_result(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    async with client(sim) as api:
        resp = await api.contacts_read(contact_id=987654)
        assert resp.rows == [] and resp.count == 0 and not resp.success
        assert (await api.contacts_read(limit=0)).rows == []
        assert (await api.contacts_read(limit=50, offset=10_000)).rows == []


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_phone_or_mobile_is_an_exact_digits_match(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    cid = sim.db.add_client("Exact Digits LLC")
    sim.db.add_contact(cid, "Pat Phone", phone="4125557001", email="pat@x.test")
    sim.db.add_contact(cid, "Mo Mobile", mobile="4125557002", email="mo@x.test")
    sim.db.add_contact(cid, "Cora Country", phone="17245550124", email="cora@x.test")
    async with client(sim) as api:
        for number, name in (("4125557001", "Pat Phone"), ("4125557002", "Mo Mobile")):
            rows = (await api.contacts_read(contact_phone_or_mobile=number)).rows
            assert [r["contact_name"] for r in rows] == [name]
        # stored with the country code typed in: only those exact digits find it (docs/itflow-api.md §6.8)
        assert (await api.contacts_read(contact_phone_or_mobile="7245550124")).rows == []
        assert len((await api.contacts_read(contact_phone_or_mobile="17245550124")).rows) == 1


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_iter_rows_pages_through_everything(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    cid = sim.db.add_client("Many Contacts Co")
    for i in range(23):
        sim.db.add_contact(cid, f"Person {i:02d}", phone=f"41255580{i:02d}", email=f"p{i}@many.test")
    async with client(sim) as api:
        everything = (await api.contacts_read(limit=100_000)).rows
        paged = [r async for r in api.iter_rows("contacts", page_size=7)]
        assert paged == everything and len(paged) >= 23
        assert len({r["contact_id"] for r in paged}) == len(paged)
        assert await api.read_all("contacts", page_size=len(everything)) == everything  # exact multiple


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_wrong_empty_and_expired_keys(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    for key in ("not-a-real-key-0123456789", "", sim.keys["expired"]):
        async with client(sim, key) as api:
            with pytest.raises(AuthError) as info:
                await api.contacts_read(limit=1)
        assert info.value.status == 401
        assert "invalid or has expired" in info.value.server_message
        if key:
            assert key not in str(info.value)


class _DropBody(httpx.AsyncBaseTransport):
    """A proxy in front of ITFlow that throws away request bodies (a real misconfiguration)."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        stripped = httpx.Request(
            request.method,
            request.url,
            headers=[
                (k, v)
                for k, v in request.headers.raw
                if k.lower() not in (b"content-length", b"content-type")
            ],
        )
        return await self._inner.handle_async_request(stripped)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_401_with_empty_body_means_no_key_arrived(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    async with client(sim, transport=_DropBody()) as api:
        with pytest.raises(AuthError) as info:
            await api.contacts_read(limit=1)
    assert info.value.server_message == "" and "no API key" in str(info.value)


@pytest.mark.parametrize(
    ("key", "call", "reason"),
    [
        ("unbound", ("contacts", "read", {}), PermissionDenied.REASON_NO_USER),
        ("inactive", ("contacts", "read", {}), PermissionDenied.REASON_INACTIVE_USER),
        ("all", ("custom", "readme", {}), PermissionDenied.REASON_UNMAPPED),
        (
            "readonly",
            ("tickets", "create", {"ticket_subject": "x", "client_id": 1}),
            PermissionDenied.REASON_NO_PERMISSION,
        ),
        (
            "readonly",
            ("technicians", "time", {}),
            PermissionDenied.REASON_NO_PERMISSION,
        ),  # docs/itflow-api.md Q7
        (
            "client",
            ("tickets", "create", {"ticket_subject": "x", "client_id": 2}),
            PermissionDenied.REASON_CLIENT_ACCESS,
        ),
        ("client", ("tickets", "create", {"ticket_subject": "x"}), PermissionDenied.REASON_CLIENT_ACCESS),
        (
            "deny",
            ("tickets", "create", {"ticket_subject": "x", "client_id": 2}),
            PermissionDenied.REASON_CLIENT_ACCESS,
        ),
    ],
)
async def test_rbac_403_texts_are_told_apart(itflow_sim, key: str, call: tuple, reason: str) -> None:
    sim = await itflow_sim("v1-head")
    before = len(sim.db.tickets)
    module, function, params = call
    async with client(sim, key) as api:
        with pytest.raises(PermissionDenied) as info:
            await api.call(module, function, **params)
    assert info.value.reason == reason and info.value.status == 403
    assert info.value.server_message  # ITFlow's own text is kept for the log
    assert len(sim.db.tickets) == before


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_wrong_method_is_405_after_auth(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    async with client(sim) as api:
        with pytest.raises(MethodNotAllowed, match="GET"):
            await api.call("contacts", "read", method="POST")
        with pytest.raises(MethodNotAllowed, match="POST"):
            await api.call("tickets", "create", method="GET", ticket_subject="never")
        with pytest.raises(MethodNotAllowed):
            await api.call("contacts", "read", method="PUT")  # var_dump body, before the key check
    async with client(sim, "wrong-key-wrong-key") as api:
        with pytest.raises(AuthError):
            await api.call("contacts", "read", method="POST")


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_server_errors_are_500(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    async with client(sim) as api:
        with pytest.raises(ServerError) as info:
            await api.contacts_read(limit=-1)
        assert info.value.status == 500
        with pytest.raises(ServerError):
            await api.call("clients", "update", client_id=1, client_name="No Lead Flag")
        with pytest.raises(ServerError):
            await api.software_read(software_name="Office")
        # the typed method always sends client_is_lead, so the same update works
        assert await api.clients_update(client_id=1, client_name="ACME Corp Renamed") == 1


@pytest.mark.parametrize(
    ("profile", "missing"),
    [
        ("v1-head", ("payments", "read")),
        ("v1-v25", ("ticket_replies", "read")),
        ("v1-v25", ("invoice_items", "read")),
        ("legacy-2022", ("contacts", "read")),
    ],
)
async def test_endpoint_missing_in_the_era_is_not_available(itflow_sim, profile: str, missing: tuple) -> None:
    sim = await itflow_sim(profile)
    async with client(sim) as api:
        with pytest.raises(NotAvailable) as info:
            await api.call(*missing)
    assert info.value.status == 404 and "no such endpoint" in str(info.value)


async def test_stale_success_without_data_is_no_rows(itflow_sim) -> None:
    sim = await itflow_sim("v1-v25")
    inv = sim.db.add_invoice(1, "150.00")
    sim.db.add_payment(inv, "49.50")
    async with client(sim, "client") as api:  # client-scoped key (docs/itflow-api.md §6.1)
        resp = await api.payments_read()
        assert resp.success and resp.rows == [] and resp.count == 0 and "data" not in resp.raw
    async with client(sim) as api:
        resp = await api.payments_read(client_id=1)  # all-clients key, but with client_id
        assert resp.rows == []
        rows = (await api.payments_read(payment_invoice_id=inv)).rows
        assert [r["payment_amount"] for r in rows] == ["49.50"]


async def test_client_id_on_reads_v25_honoured_head_ignored(itflow_sim) -> None:
    for profile, honoured in (("v1-v25", True), ("v1-head", False)):
        sim = await itflow_sim(profile)
        a, b = sim.db.add_client("Filter A"), sim.db.add_client("Filter B")
        sim.db.add_invoice(a, "10.00")
        sim.db.add_invoice(b, "20.00")
        async with client(sim) as api:
            rows = [r async for r in api.iter_rows("invoices", client_id=a)]
        clients = {r["invoice_client_id"] for r in rows}
        assert (clients == {str(a)}) is honoured, profile


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_ticket_create_returns_the_id_and_bad_writes_fail(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    async with client(sim) as api:
        tid = await api.tickets_create(
            ticket_subject="Missed call from 4125550101",
            client_id=1,
            ticket_details="Caller: Alice<br>At 09:00",
            ticket_priority="Medium",
        )
        assert isinstance(tid, int) and tid > 0
        row = (await api.tickets_read(ticket_id=tid)).rows[0]
        assert row["ticket_subject"] == "Missed call from 4125550101"
        assert row["ticket_priority"] == "Medium" and row["ticket_client_id"] == "1"
        with pytest.raises(WriteFailed) as info:
            await api.tickets_create(ticket_subject="<b></b>", client_id=1)  # empty after tag stripping
        assert "nothing was written" in str(info.value) and info.value.server_message
        with pytest.raises(WriteFailed):
            await api.contacts_update(contact_id=987654, client_id=1, contact_name="Nobody")


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_invalid_utf8_row_gives_an_empty_body_and_paging_skips_only_that_row(
    itflow_sim, profile: str
) -> None:
    sim = await itflow_sim(profile)
    cid = sim.db.add_client("Encoding Trouble")
    bad = sim.db.add_contact(cid, "Ren" + b"\xe9".decode("utf-8", "surrogateescape"), email="r@e.test")
    async with client(sim) as api:
        with pytest.raises(MalformedResponse, match="UTF-8"):
            await api.contacts_read(contact_id=bad)
        rows = [r async for r in api.iter_rows("contacts", page_size=4)]
        every = {str(c["contact_id"]) for c in sim.db["contacts"]}
        assert {r["contact_id"] for r in rows} == every - {str(bad)}
        with pytest.raises(MalformedResponse):
            [r async for r in api.iter_rows("contacts", page_size=4, skip_undecodable=False)]


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_ticket_replies_and_technicians_time(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    async with client(sim) as api:
        tid = await api.tickets_create(ticket_subject="Voicemail from 4125550101", client_id=1)
        if profile == "v1-head":
            rid = await api.ticket_replies_create(ticket_id=tid, ticket_reply="Called back", client_id=1)
            rows = (await api.ticket_replies_read(ticket_id=tid)).rows
            assert [r["ticket_reply_id"] for r in rows] == [str(rid)]
        else:
            with pytest.raises(NotAvailable):
                await api.ticket_replies_create(ticket_id=tid, ticket_reply="x")
        assert isinstance((await api.technicians_time(month=1)).rows, list)
        with pytest.raises(RequestRejected, match="month"):
            await api.technicians_time(month=13)


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_unreachable_and_slow_servers(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    sim.down = True
    async with client(sim) as api:
        with pytest.raises(TransportError) as info:
            await api.contacts_read(limit=1)
    assert sim.keys["all"] not in str(info.value)
    sim.down = False
    sim.delay = 2.0
    async with client(sim, timeout=0.2, retry=RetryPolicy(attempts=1)) as api:
        with pytest.raises(ItflowTimeout):
            await api.contacts_read(limit=1)
    sim.delay = 0.0
    async with client(sim) as api:
        assert (await api.contacts_read(limit=1)).rows


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_a_write_cut_after_commit_is_not_repeated(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    before = len(sim.db.tickets)
    sim.drop_answer_after_commit = True
    async with client(sim) as api:
        with pytest.raises(TransportError) as info:
            await api.tickets_create(ticket_subject="Missed call once", client_id=1)
    assert info.value.request_sent is not False
    subjects = [t["ticket_subject"] for t in sim.db.tickets[before:]]
    assert subjects == ["Missed call once"]  # committed exactly once: no blind retry


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_the_key_is_in_no_log_line_and_no_error_text(itflow_sim, profile: str, caplog) -> None:
    sim = await itflow_sim(profile)
    key = sim.keys["all"]
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    async with client(sim) as api:
        await api.contacts_read(limit=2)
        [r async for r in api.iter_rows("clients", page_size=2)]
        for call in (
            lambda: api.contacts_read(limit=-1),
            lambda: api.call("contacts", "read", method="POST"),
            lambda: api.call("nosuchmodule", "read"),
            lambda: api.tickets_create(ticket_subject="<i></i>"),
        ):
            try:
                await call()
            except ItflowError as exc:
                texts += [str(exc), repr(exc), exc.server_message]
    assert len(texts) >= 12
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "contacts/read" in logged  # debug lines were written
    for text in [logged, *texts]:
        assert key not in text and key.lower() not in text.lower()


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_the_key_travels_in_the_json_body_never_the_url(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    key = sim.keys["all"]
    async with client(sim) as api:
        await api.contacts_read(contact_phone_or_mobile="4125550101")
        await api.tickets_create(ticket_subject="Body only", client_id=1)
    seen = [r for r in sim.requests if r.path_qs.startswith("/api/v1/")]
    assert [r.method for r in seen] == ["GET", "POST"]
    assert "contact_phone_or_mobile=4125550101" in seen[0].path_qs  # read filters go in the query
    for r in seen:
        assert key not in r.path_qs
        assert json.loads(r.body)["api_key"] == key
        assert r.headers.get("User-Agent", "").startswith("pbx-bridge/")


@pytest.mark.parametrize("profile", V1_PROFILES)
async def test_reads_retry_a_timeout_with_backoff_writes_never(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    sim.delay = 1.0
    before = len(sim.requests)
    async with client(sim, timeout=0.2, retry=RetryPolicy(attempts=3, first_wait=0.01)) as api:
        with pytest.raises(ItflowTimeout):
            await api.contacts_read(limit=1)
        reads = len(sim.requests) - before
        with pytest.raises(ItflowTimeout) as info:
            await api.tickets_create(ticket_subject="Slow ITFlow", client_id=1)
        writes = len(sim.requests) - before - reads
    assert (reads, writes) == (3, 1)
    assert info.value.request_sent is True and "itflow.timeout" in str(info.value)


async def test_a_refused_connection_is_known_not_sent() -> None:
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with V1Client(f"http://127.0.0.1:{port}", "k" * 32, retry=FAST) as api:
        with pytest.raises(TransportError) as info:
            await api.tickets_create(ticket_subject="never arrives")
    assert info.value.request_sent is False and "cannot connect" in str(info.value)
