"""Every v1 endpoint up to ITFlow 26.10 (docs/itflow-api.md §2.1 at v26.08, §7 for 26.09/26.10, plus
payments/read of older releases) has a typed method, and each method works against the simulator of an era
that has the endpoint (and is NotAvailable where it does not)."""

from __future__ import annotations

import pytest

from pbx_bridge.itflow.endpoints import ENDPOINTS
from pbx_bridge.itflow.errors import NotAvailable
from pbx_bridge.itflow.transport import RetryPolicy
from pbx_bridge.itflow.v1 import V1Client, V1Response

HEAD_41 = """assets/read assets/create assets/update assets/delete certificates/read certificates/create
clients/read clients/create clients/update clients/archive clients/unarchive contacts/read contacts/create
contacts/update contacts/delete contacts/archive contacts/unarchive credentials/read credentials/create
credentials/update documents/read documents/create documents/update domains/read expenses/read
invoice_items/read invoice_items/create invoices/read locations/read locations/create networks/read
products/read quotes/read software/read technicians/time ticket_replies/read ticket_replies/create
tickets/read tickets/create tickets/resolve vendors/read""".split()
V1E_22 = """tickets/close clients/delete locations/update locations/archive locations/unarchive
locations/delete documents/archive documents/unarchive vendors/create vendors/update vendors/archive
vendors/unarchive domains/create domains/update domains/archive domains/unarchive networks/create
networks/update
networks/archive networks/unarchive software/archive software/unarchive""".split()


def test_the_table_is_the_spec() -> None:
    assert len(HEAD_41) == 41 and len(V1E_22) == 22  # 63 endpoints at 26.10
    assert {e.name for e in ENDPOINTS} == set(HEAD_41) | set(V1E_22) | {"payments/read"}
    for e in ENDPOINTS:
        method = getattr(V1Client, f"{e.module}_{e.function}")
        assert method.__doc__, e.name
        assert e.method == ("GET" if e.function == "read" or e.name == "technicians/time" else "POST")


def _setup(sim) -> dict[str, int]:
    """Rows the write calls refer to; ids as the simulator hands them out."""
    db = sim.db
    cid = db.add_client("Endpoint Tests Ltd")
    ids = {"client": cid}
    ids["contact"] = db.add_contact(cid, "Eve Endpoint", phone="4125559901", email="eve@endpoint.test")
    ids["invoice"] = db.add_invoice(cid, "100.00", status="Sent")
    ids["ticket"] = db.add_ticket(cid, "Existing ticket")
    ids["asset"] = db.insert("assets", {"asset_name": "Old PC", "asset_client_id": cid})
    for row in db["api_keys"]:  # the simulator keeps the accepted decrypt password in the hash column
        if row["api_key_secret"] == sim.keys["all"]:
            row["api_key_decrypt_hash"] = "sim-decrypt-password"
    ids["document"] = db.insert(
        "documents", {"document_name": "Doc", "document_content": "x", "document_client_id": cid}
    )
    ids["old_client"] = db.add_client("Gone Ltd", archived=True)
    ids["location"] = db.add_location(cid, "Annex", phone="4125559903")
    ids["vendor"] = db.add_vendor("Endpoint Vendor", client_id=cid)
    ids["domain"] = db.insert("domains", {"domain_name": "endpoint.test", "domain_client_id": cid})
    ids["network"] = db.insert("networks", {"network_name": "LAN", "network_client_id": cid})
    ids["software"] = db.insert("software", {"software_name": "Suite", "software_client_id": cid})
    return ids


def _calls(ids: dict[str, int]) -> dict[str, tuple[str, dict]]:
    c = ids["client"]
    pw = {"api_key_decrypt_password": "sim-decrypt-password"}
    return {
        "assets/read": ("rows", {}),
        "assets/create": ("id", {"client_id": c, "asset_name": "New Phone", "asset_type": "Phone"}),
        "assets/update": ("count", {"asset_id": ids["asset"], "client_id": c, "asset_name": "Renamed PC"}),
        "assets/delete": ("count", {"asset_id": ids["asset"], "client_id": c}),
        "certificates/read": ("rows", {}),
        "certificates/create": (
            "id",
            {"client_id": c, "certificate_name": "web", "certificate_domain": "example.test"},
        ),
        "clients/read": ("rows", {"client_name": "Endpoint Tests Ltd"}),
        "clients/create": ("id", {"client_name": "Created By API"}),
        "clients/update": ("count", {"client_id": c, "client_notes": "updated"}),
        "clients/archive": ("count", {"client_id": c}),
        "clients/unarchive": ("count", {"client_id": c}),
        "contacts/read": ("rows", {"contact_id": ids["contact"]}),
        "contacts/create": (
            "id",
            {
                "client_id": c,
                "contact_name": "New Person",
                "contact_email": "new@endpoint.test",
                "contact_phone": "(412) 555-9902",
            },
        ),
        "contacts/update": ("count", {"contact_id": ids["contact"], "client_id": c, "contact_title": "Boss"}),
        "contacts/archive": ("count", {"contact_id": ids["contact"], "client_id": c}),
        "contacts/unarchive": ("count", {"contact_id": ids["contact"], "client_id": c}),
        "contacts/delete": ("count", {"contact_id": ids["contact"], "client_id": c}),
        "credentials/read": ("any", pw),
        "credentials/create": (
            "id",
            {**pw, "credential_name": "router", "credential_password": "s3cret", "client_id": c},
        ),
        "credentials/update": ("any", {**pw, "credential_id": 1, "credential_name": "router2"}),
        "documents/read": ("rows", {}),
        "documents/create": (
            "id",
            {"document_name": "Runbook", "document_content": "<p>x</p>", "client_id": c},
        ),
        "documents/update": (
            "count",
            {"document_id": ids["document"], "client_id": c, "document_name": "Doc v2"},
        ),
        "domains/read": ("any", {}),
        "expenses/read": ("any", {}),
        "invoice_items/read": ("any", {"invoice_id": ids["invoice"]}),
        "invoice_items/create": (
            "id",
            {"invoice_id": ids["invoice"], "name": "Support hour", "qty": 1, "price": 95},
        ),
        "invoices/read": ("rows", {"invoice_id": ids["invoice"]}),
        "locations/read": ("any", {}),
        "locations/create": ("id", {"client_id": c, "location_name": "Branch"}),
        "networks/read": ("any", {}),
        "payments/read": ("any", {}),
        "products/read": ("any", {}),
        "quotes/read": ("any", {}),
        "software/read": ("any", {}),
        "technicians/time": ("any", {"month": 1}),
        "ticket_replies/read": ("any", {"ticket_id": ids["ticket"]}),
        "ticket_replies/create": (
            "id",
            {"ticket_id": ids["ticket"], "ticket_reply": "Called back", "client_id": c},
        ),
        "tickets/read": ("rows", {"ticket_id": ids["ticket"]}),
        "tickets/create": ("id", {"ticket_subject": "Missed call", "client_id": c}),
        "tickets/resolve": ("count", {"ticket_id": ids["ticket"], "client_id": c}),
        "vendors/read": ("any", {}),
        "tickets/close": ("count", {"ticket_id": ids["ticket"], "client_id": c}),
        "clients/delete": ("count", {"client_id": ids["old_client"]}),
        "locations/update": (
            "count",
            {"location_id": ids["location"], "client_id": c, "location_name": "Annex 2"},
        ),
        "locations/archive": ("count", {"location_id": ids["location"], "client_id": c}),
        "locations/unarchive": ("count", {"location_id": ids["location"], "client_id": c}),
        "locations/delete": ("count", {"location_id": ids["location"], "client_id": c}),
        "vendors/create": ("id", {"vendor_name": "New Vendor", "client_id": c, "vendor_phone": "8005550100"}),
        "vendors/update": (
            "count",
            {"vendor_id": ids["vendor"], "client_id": c, "vendor_phone": "8005550101"},
        ),
        **{
            f"{m}/{fn}": ("count", {f"{p}_id": ids[p], "client_id": c})
            for m, p in (
                ("vendors", "vendor"),
                ("domains", "domain"),
                ("networks", "network"),
                ("documents", "document"),
                ("software", "software"),
            )
            for fn in ("archive", "unarchive")
        },
        "domains/create": ("id", {"domain_name": "new.test", "client_id": c}),
        "domains/update": ("count", {"domain_id": ids["domain"], "client_id": c, "domain_notes": "n"}),
        "networks/create": ("id", {"network_name": "Guest", "client_id": c}),
        "networks/update": ("count", {"network_id": ids["network"], "client_id": c, "network_notes": "n"}),
    }


# Order matters where one call changes what the next sees (archive before unarchive, delete last).
# From 26.09.1/26.10 a contact or location must be archived before its delete: archive it again first.
_ORDER = [e.name for e in ENDPOINTS if not e.name.endswith("/delete")] + [
    "assets/delete",
    "contacts/delete",
    "locations/delete",
    "clients/delete",
]
_BEFORE = {"contacts/delete": "contacts/archive", "locations/delete": "locations/archive"}


@pytest.mark.parametrize("profile", ["v1-head", "v1-v25", "v1-2610"])
async def test_every_endpoint_method_against_the_simulator(itflow_sim, profile: str) -> None:
    sim = await itflow_sim(profile)
    ids = _setup(sim)
    calls = _calls(ids)
    assert set(calls) == {e.name for e in ENDPOINTS}
    present = not_available = 0
    async with V1Client(sim.url, sim.keys["all"], retry=RetryPolicy(attempts=1)) as api:
        for name in _ORDER:
            module, function = name.split("/")
            kind, params = calls[name]
            method = getattr(api, f"{module}_{function}")
            if name in _BEFORE and _BEFORE[name] not in _absent(profile):
                prep_module, prep_function = _BEFORE[name].split("/")
                await getattr(api, f"{prep_module}_{prep_function}")(**calls[_BEFORE[name]][1])
            try:
                result = await method(**params)
            except NotAvailable:
                not_available += 1
                assert name in _absent(profile), f"{profile}: {name} should exist"
                continue
            present += 1
            assert name not in _absent(profile), f"{profile}: {name} should be missing"
            if kind == "rows":
                assert isinstance(result, V1Response) and result.rows, name
            elif kind == "id":
                assert isinstance(result, int) and result > 0, name
            elif kind == "count":
                assert isinstance(result, int) and result >= 1, name
            else:
                assert isinstance(result, (V1Response, int)), name
    assert present + not_available == 64
    assert present == 64 - len(_absent(profile))


def _absent(profile: str) -> set[str]:
    if profile == "v1-2610":
        return {"payments/read"}
    if profile == "v1-head":
        return {"payments/read"} | set(V1E_22)
    return {
        "invoice_items/read",
        "invoice_items/create",
        "ticket_replies/read",
        "ticket_replies/create",
        *V1E_22,
    }
