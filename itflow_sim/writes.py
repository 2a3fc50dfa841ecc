"""v1 POST endpoints: create/update/delete/archive/unarchive/resolve/close (docs/itflow-api.md §2.4,
§2.5 Q6/Q9/Q11; the 26.09/26.10 endpoints and rule changes: §7).

Writes read only the JSON body (PHP ``$_POST`` replaced by ``json_decode``). Missing required fields,
duplicates and scope mismatches answer the generic failure envelopes with HTTP 200; statements that
MariaDB would reject (overlong subject, ``clients/update`` without ``client_is_lead``) raise
:class:`SqlError`, which the pipeline turns into HTTP 500 with an empty body.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from itflow_sim.call import Call, row_int
from itflow_sim.data import Row
from itflow_sim.envelope import (
    CREATE_FAILED,
    DELETE_FAILED,
    Reply,
    SqlError,
    changed,
    created,
    message,
)
from itflow_sim.php import sql_eq

__all__ = ["WRITES"]

_DIGITS = re.compile(r"\D")
_TIME = re.compile(r"^\d{1,2}:[0-5]\d:[0-5]\d$")


def _digits(value: str | None) -> str:
    return _DIGITS.sub("", value or "")


def _update(row: Row, values: dict[str, str | None]) -> int:
    """UPDATE one row; MariaDB's affected-rows counts only rows whose values really changed."""
    diff = {k: v for k, v in values.items() if row.get(k) != v}
    row.update(diff)
    return 1 if diff else 0


def _varchar(value: str, size: int) -> str:
    if len(value) > size:
        raise SqlError("Data too long for column (strict mode)")
    return value


# ---- contacts ------------------------------------------------------------------------------------

_CONTACT_TEXT = ("contact_title", "contact_department", "contact_notes")
_CONTACT_DIGITS = ("contact_phone", "contact_extension", "contact_mobile")
_CONTACT_FLAGS = ("contact_primary", "contact_important", "contact_billing", "contact_technical")


def _contact_fields(call: Call, base: Row | None) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for col in _CONTACT_TEXT:
        if base is None or call.p(col) is not None:
            out[col] = call.clean(col)
    for col in _CONTACT_DIGITS:
        if base is None or call.p(col) is not None:
            out[col] = _digits(call.clean(col))
    for col in _CONTACT_FLAGS:
        if base is None or call.p(col) is not None:
            out[col] = str(call.pint(col))
    if base is None or call.p("contact_location_id") is not None:
        out["contact_location_id"] = str(call.pint("contact_location_id"))
    return out


def _clear_primary(call: Call, client_id: int) -> None:
    for c in call.db["contacts"]:
        if row_int(c, "contact_client_id") == client_id:
            c["contact_primary"] = "0"


def contacts_create(call: Call) -> Reply:
    name, email, client_id = call.clean("contact_name"), call.clean("contact_email"), call.write_client()
    if not name or not email or not client_id:
        return message(CREATE_FAILED)
    if any(
        row_int(c, "contact_client_id") == client_id and sql_eq(c["contact_email"], email)
        for c in call.db["contacts"]
    ):
        return message(CREATE_FAILED)
    values = _contact_fields(call, None)
    if values["contact_primary"] == "1":
        _clear_primary(call, client_id)
    new_id = call.db.insert(
        "contacts", {**values, "contact_name": name, "contact_email": email, "contact_client_id": client_id}
    )
    call.audit("Contact", "Create", name, client_id=client_id, entity_id=new_id)
    return created(new_id)


def _contact_target(call: Call) -> tuple[Row | None, int]:
    client_id = call.write_client()
    cid = call.pint("contact_id")
    row = next(
        (
            c
            for c in call.db["contacts"]
            if row_int(c, "contact_id") == cid and row_int(c, "contact_client_id") == client_id
        ),
        None,
    )
    return row, client_id


def contacts_update(call: Call) -> Reply:
    row, client_id = _contact_target(call)
    values = _contact_fields(call, row or {})
    if values.get("contact_primary") == "1":
        _clear_primary(call, client_id)  # docs/itflow-api.md Q11: even for a wrong contact id
    if row is None:
        return changed(0)
    for col in ("contact_name", "contact_email"):
        if call.p(col) is not None:
            values[col] = call.clean(col)
    count = _update(row, values)
    if count:
        row["contact_updated_at"] = call.db.now()
        call.audit(
            "Contact",
            "Update",
            row["contact_name"] or "",
            client_id=client_id,
            entity_id=row_int(row, "contact_id"),
        )
    return changed(count)


def _live_row_kept(call: Call, table: str, row: Row) -> bool:
    """26.09.1/26.10: delete refuses a row that is not archived first (docs/itflow-api.md §7 rows 3, 4, 7)."""
    return table in call.profile.delete_needs_archived and row.get(f"{_prefix(table)}_archived_at") is None


def contacts_delete(call: Call) -> Reply:
    row, client_id = _contact_target(call)
    if row is None or _live_row_kept(call, "contacts", row):
        return message(DELETE_FAILED)
    call.db["contacts"].remove(row)
    call.audit(
        "Contact",
        "Delete",
        row["contact_name"] or "",
        client_id=client_id,
        entity_id=row_int(row, "contact_id"),
    )
    return changed(1, DELETE_FAILED)


def contacts_archive(call: Call) -> Reply:
    row, _client_id = _contact_target(call)
    if row is None:
        return changed(0)
    count = _update(
        row,
        {
            "contact_archived_at": call.db.now(),
            "contact_important": "0",
            "contact_billing": "0",
            "contact_technical": "0",
        },
    )
    return changed(count)


def contacts_unarchive(call: Call) -> Reply:
    row, _ = _contact_target(call)
    return changed(_update(row, {"contact_archived_at": None}) if row else 0)


# ---- clients -------------------------------------------------------------------------------------


def _client_fields(call: Call) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for col in (
        "client_type",
        "client_referral",
        "client_currency_code",
        "client_tax_id_number",
        "client_notes",
    ):
        if call.p(col) is not None:
            out[col] = call.clean(col)
    if call.p("client_website") is not None:
        out["client_website"] = re.sub(r"^https?://", "", call.clean("client_website"))
    if call.p("client_rate") is not None:
        try:
            out["client_rate"] = f"{float(call.clean('client_rate') or 0):.2f}"
        except ValueError:
            out["client_rate"] = "0.00"
    if call.p("client_net_terms") is not None:
        out["client_net_terms"] = str(call.pint("client_net_terms"))
    if call.p("client_abbreviation") is not None:
        out["client_abbreviation"] = call.clean("client_abbreviation")[:6]
    if call.p("client_is_lead") is not None:
        out["client_lead"] = str(call.pint("client_is_lead"))
    return out


def clients_create(call: Call) -> Reply:
    name = call.clean("client_name")
    # V1c: clients/create needs an all-clients key and no client_id; HEAD: client_id absent or 0.
    if not name or call.pint("client_id") != 0 or call.scoped_key:
        return message(CREATE_FAILED)
    if call.profile.auth == "client" and "client_id" in call.get:
        return message(CREATE_FAILED)
    new_id = call.db.insert("clients", {**_client_fields(call), "client_name": name})
    call.audit("Client", "Create", name, client_id=new_id, entity_id=new_id)
    return created(new_id)


def _client_target(call: Call) -> Row | None:
    cid = call.write_client()
    return next((c for c in call.db["clients"] if row_int(c, "client_id") == cid), None) if cid else None


def clients_update(call: Call) -> Reply:
    if call.p("client_is_lead") is None and not call.profile.lead_optional:
        raise SqlError("empty value for client_lead makes the UPDATE invalid")
    row = _client_target(call)
    if row is None:
        return changed(0)
    values = _client_fields(call)
    if call.p("client_name") is not None:
        values["client_name"] = call.clean("client_name")
    return changed(_update(row, values))


def clients_archive(call: Call) -> Reply:
    row = _client_target(call)
    if row is None:
        return changed(0)
    count = _update(row, {"client_archived_at": call.db.now()})
    if count:
        call.db.log("Contact", "Archive", f"{row['client_name']} archived via API")  # sic: type Contact
    return changed(count)


def clients_unarchive(call: Call) -> Reply:
    row = _client_target(call)
    return changed(_update(row, {"client_archived_at": None}) if row else 0)


# ---- locations -----------------------------------------------------------------------------------


def locations_create(call: Call) -> Reply:
    name, client_id = call.clean("location_name"), call.write_client()
    if not name or not client_id:
        return message(CREATE_FAILED)
    values: dict[str, object] = {"location_name": name, "location_client_id": client_id}
    for col in (
        "location_description",
        "location_country",
        "location_address",
        "location_city",
        "location_state",
        "location_zip",
        "location_hours",
        "location_notes",
    ):
        values[col] = call.clean(col)
    primary = call.pint("location_primary")
    if primary == 1:
        for loc in call.db["locations"]:
            if row_int(loc, "location_client_id") == client_id:
                loc["location_primary"] = "0"
    values["location_primary"] = primary
    new_id = call.db.insert("locations", values)
    call.audit("Location", "Create", name, client_id=client_id, entity_id=new_id)
    return created(new_id)


# ---- tickets -------------------------------------------------------------------------------------


def tickets_create(call: Call) -> Reply:
    subject = call.clean("ticket_subject")
    if not subject:
        return message(CREATE_FAILED)
    _varchar(subject, 500)
    client_id = call.write_client()
    contact_id = call.pint("ticket_contact_id")
    if contact_id == 0 and client_id:
        primary = call.db.primary_contact(client_id)
        contact_id = row_int(primary, "contact_id") if primary else 0
    raw_details = call.p("ticket_details")
    details = ("< blank >" if raw_details is None else raw_details) + "<br>"
    priority = call.clean("ticket_priority") if call.p("ticket_priority") is not None else "Low"
    settings = call.db.settings
    prefix = settings.get("config_ticket_prefix") or ""
    number = int(settings.get("config_ticket_next_number") or 0)
    settings["config_ticket_next_number"] = str(number + 1)
    new_id = call.db.insert(
        "tickets",
        {
            "ticket_prefix": prefix,
            "ticket_number": number,
            "ticket_source": "API",
            "ticket_subject": subject,
            "ticket_details": details,
            "ticket_priority": priority,
            # 26.09.3: an assignee makes the ticket Open (2) instead of New (1) (docs/itflow-api.md §7 row 5).
            "ticket_status": 2 if call.profile.assignee_opens and call.pint("ticket_assigned_to") > 0 else 1,
            "ticket_billable": call.pint("ticket_billable"),
            "ticket_created_by": 0,
            "ticket_assigned_to": call.pint("ticket_assigned_to"),
            "ticket_vendor_id": call.pint("ticket_vendor_id"),
            "ticket_asset_id": call.pint("ticket_asset_id"),
            "ticket_client_id": client_id,
            "ticket_contact_id": contact_id,
            "ticket_vendor_ticket_number": call.pint("ticket_vendor_ticket_id"),
            "ticket_url_key": secrets.token_hex(16),
            "ticket_created_at": call.db.now(),
        },
    )
    call.audit(
        "Ticket",
        "Create",
        f"Created ticket {prefix}{number} {subject}",
        client_id=client_id,
        entity_id=new_id,
    )
    return created(new_id)


def tickets_resolve(call: Call) -> Reply:
    row = _target(call, "tickets")  # ticket_id of the posted client_id (0: a client-less ticket)
    if row is None or row["ticket_status"] == "4" or row["ticket_resolved_at"] is not None:
        return changed(0)
    now = call.db.now()
    values: dict[str, str | None] = {"ticket_status": "4", "ticket_resolved_at": now}
    if row["ticket_first_response_at"] is None:
        values["ticket_first_response_at"] = now
    count = _update(row, values)
    call.db.log("Ticket", "Resolve", f"Resolved ticket {row['ticket_prefix']}{row['ticket_number']} via API")
    return changed(count)


def tickets_close(call: Call) -> Reply:
    """26.09: resolve if needed, then status 5; closing a closed ticket changes nothing (a failure)."""
    row = _target(call, "tickets")  # ticket_id of the posted client_id (0: a client-less ticket)
    if row is None or row["ticket_status"] == "5":
        return changed(0)
    now = call.db.now()
    values: dict[str, str | None] = {"ticket_status": "5", "ticket_closed_at": now}
    if row["ticket_resolved_at"] is None:
        values["ticket_resolved_at"] = now
    if row["ticket_first_response_at"] is None:
        values["ticket_first_response_at"] = now
    count = _update(row, values)
    call.db.log("Ticket", "Close", f"Closed ticket {row['ticket_prefix']}{row['ticket_number']} via API")
    return changed(count)


def ticket_replies_create(call: Call) -> Reply:
    tid, reply = call.pint("ticket_id"), call.p("ticket_reply")
    ticket = call.db.find("tickets", "ticket_id", tid)
    if not tid or not reply or ticket is None or not call.in_scope(ticket["ticket_client_id"]):
        return message(CREATE_FAILED)
    client_id = call.pint("client_id")
    if client_id and client_id != row_int(ticket, "ticket_client_id"):
        return message(CREATE_FAILED)
    rtype = call.clean("ticket_reply_type", "Internal")
    if rtype not in ("Internal", "Public", "Client"):
        rtype = "Internal"
    worked = call.clean("ticket_reply_time_worked", "00:00:00")
    if not _TIME.match(worked):
        worked = "00:00:00"
    new_id = call.db.insert(
        "ticket_replies",
        {
            "ticket_reply": reply,
            "ticket_reply_type": rtype,
            "ticket_reply_time_worked": worked,
            "ticket_reply_created_at": call.db.now(),
            "ticket_reply_by": call.key.key["api_key_user_id"] or "0",
            "ticket_reply_ticket_id": tid,
        },
    )
    if call.p("ticket_status") is not None:
        status = call.pint("ticket_status")
        ticket["ticket_status"] = str(status)
        if status == 4:
            ticket["ticket_resolved_at"] = call.db.now()
    if rtype == "Public" and ticket["ticket_first_response_at"] is None:
        ticket["ticket_first_response_at"] = call.db.now()
    call.audit(
        "Ticket",
        "Reply",
        f"Replied to ticket {ticket['ticket_prefix']}{ticket['ticket_number']}",
        client_id=row_int(ticket, "ticket_client_id"),
        entity_id=new_id,
    )
    return created(new_id)


# ---- assets, certificates, documents, credentials, invoice items ---------------------------------

_ASSET_TEXT = (
    "asset_description",
    "asset_type",
    "asset_make",
    "asset_model",
    "asset_serial",
    "asset_os",
    "asset_uri",
    "asset_status",
    "asset_notes",
)
_ASSET_DATES = ("asset_purchase_date", "asset_warranty_expire", "asset_install_date")
_ASSET_INTS = ("asset_vendor_id", "asset_location_id", "asset_contact_id")


def _asset_fields(call: Call, partial: bool) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for col in _ASSET_TEXT:
        if not partial or call.p(col) is not None:
            out[col] = call.clean(col)
    for col in _ASSET_DATES:
        if not partial or call.p(col) is not None:
            out[col] = call.clean(col) or None
    for col in _ASSET_INTS:
        if not partial or call.p(col) is not None:
            out[col] = str(call.pint(col))
    return out


def assets_create(call: Call) -> Reply:
    name, client_id = call.clean("asset_name"), call.write_client()
    if not name or not client_id:
        return message(CREATE_FAILED)
    new_id = call.db.insert(
        "assets", {**_asset_fields(call, False), "asset_name": name, "asset_client_id": client_id}
    )
    call.db.insert(
        "asset_interfaces",
        {
            "interface_name": "Primary",
            "interface_mac": call.clean("asset_mac"),
            "interface_ip": call.clean("asset_ip"),
            "interface_primary": 1,
            "interface_network_id": call.pint("asset_network_id"),
            "interface_asset_id": new_id,
        },
    )
    call.audit("Asset", "Create", name, client_id=client_id, entity_id=new_id)
    return created(new_id)


def _asset_target(call: Call) -> Row | None:
    aid, client_id = call.pint("asset_id"), call.write_client()
    return next(
        (
            a
            for a in call.db["assets"]
            if row_int(a, "asset_id") == aid and row_int(a, "asset_client_id") == client_id
        ),
        None,
    )


def assets_update(call: Call) -> Reply:
    row = _asset_target(call)
    if row is None:
        return changed(0)
    values = _asset_fields(call, True)
    if call.p("asset_name") is not None:
        values["asset_name"] = call.clean("asset_name")
    return changed(_update(row, values))


def assets_delete(call: Call) -> Reply:
    aid = call.pint("asset_id")
    # docs/itflow-api.md Q11: the interfaces go even when the asset belongs to another client.
    call.db["asset_interfaces"][:] = [
        i for i in call.db["asset_interfaces"] if row_int(i, "interface_asset_id") != aid
    ]
    row = _asset_target(call)
    if row is None:
        return message(DELETE_FAILED)
    call.db["assets"].remove(row)
    return changed(1, DELETE_FAILED)


def certificates_create(call: Call) -> Reply:
    name, domain, client_id = (
        call.clean("certificate_name"),
        call.clean("certificate_domain"),
        call.write_client(),
    )
    if not name or not domain or not client_id:
        return message(CREATE_FAILED)
    values: dict[str, object] = {
        "certificate_name": name,
        "certificate_domain": domain,
        "certificate_client_id": client_id,
    }
    for col in (
        "certificate_description",
        "certificate_issued_by",
        "certificate_public_key",
        "certificate_notes",
    ):
        values[col] = call.clean(col)
    values["certificate_expire"] = call.clean("certificate_expire") or None
    values["certificate_domain_id"] = call.pint("certificate_domain_id")
    return created(call.db.insert("certificates", values))


def documents_create(call: Call) -> Reply:
    name, content = call.clean("document_name"), call.p("document_content")
    if not name or not content:
        return message(CREATE_FAILED)
    return created(
        call.db.insert(
            "documents",
            {
                "document_name": name,
                "document_content": content,
                "document_content_raw": content,
                "document_description": call.clean("document_description"),
                "document_folder_id": call.pint("document_folder_id"),
                "document_client_id": call.write_client(),
            },
        )
    )


def documents_update(call: Call) -> Reply:
    did, client_id = call.pint("document_id"), call.write_client()
    row = next(
        (
            d
            for d in call.db["documents"]
            if row_int(d, "document_id") == did and row_int(d, "document_client_id") == client_id
        ),
        None,
    )
    if row is None:
        return changed(0)
    values: dict[str, str | None] = {}
    for col in ("document_name", "document_description"):
        if call.p(col) is not None:
            values[col] = call.clean(col)
    if call.p("document_content") is not None:
        values["document_content"] = values["document_content_raw"] = call.p("document_content")
    return changed(_update(row, values))


def _decrypt_ok(call: Call) -> bool:
    given = call.p("api_key_decrypt_password")
    return bool(given) and given == (call.key.key["api_key_decrypt_hash"] or "")


def credentials_create(call: Call) -> Reply:
    name, password = call.clean("credential_name"), call.p("credential_password")
    if not _decrypt_ok(call) or not name or not password:
        return message(CREATE_FAILED)
    return created(
        call.db.insert(
            "credentials",
            {
                "credential_name": name,
                "credential_password": password,
                "credential_username": call.p("credential_username") or "",
                "credential_uri": call.clean("credential_uri"),
                "credential_description": call.clean("credential_description"),
                "credential_client_id": call.write_client(),
            },
        )
    )


def credentials_update(call: Call) -> Reply:
    row = call.db.find("credentials", "credential_id", call.pint("credential_id"))
    if not _decrypt_ok(call) or row is None or not call.in_scope(row["credential_client_id"]):
        return changed(0)
    values: dict[str, str | None] = {}
    for col in ("credential_name", "credential_description", "credential_uri"):
        if call.p(col) is not None:
            values[col] = call.clean(col)
    for col in ("credential_username", "credential_password"):
        if call.p(col) is not None:
            values[col] = call.p(col)
    return changed(_update(row, values))


def invoice_items_create(call: Call) -> Reply:
    inv = call.db.find("invoices", "invoice_id", call.pint("invoice_id"))
    name = call.clean("name")[:200]
    try:
        qty = float(call.p("qty") or 0)
        price = float(call.p("price") or 0)
    except ValueError:
        return message(CREATE_FAILED)
    client_id = call.pint("client_id")
    if (
        inv is None
        or not name
        or qty <= 0
        or inv["invoice_status"] == "Paid"
        or not call.in_scope(inv["invoice_client_id"])
        or (client_id and client_id != row_int(inv, "invoice_client_id"))
    ):
        return message(CREATE_FAILED)
    subtotal = qty * price
    new_id = call.db.insert(
        "invoice_items",
        {
            "item_name": name,
            "item_description": call.clean("description"),
            "item_quantity": f"{qty:.2f}",
            "item_price": f"{price:.2f}",
            "item_subtotal": f"{subtotal:.2f}",
            "item_total": f"{subtotal:.2f}",
            "item_order": call.pint("item_order"),
            "item_tax_id": call.pint("tax_id"),
            "item_product_id": call.pint("product_id"),
            "item_invoice_id": inv["invoice_id"],
        },
    )
    total = sum(
        float(i["item_total"] or 0)
        for i in call.db["invoice_items"]
        if i["item_invoice_id"] == inv["invoice_id"]
    )
    inv["invoice_amount"] = f"{total - float(inv['invoice_discount_amount'] or 0):.2f}"
    return created(new_id)


# ---- 26.09/26.10 endpoints on one pattern: target = ``<x>_id`` + the posted client_id ------------------
# (docs/itflow-api.md §7 rows 3, 7)


def _prefix(table: str) -> str:
    return "software" if table == "software" else table.removesuffix("s")


def _target(call: Call, table: str) -> Row | None:
    prefix, client_id = _prefix(table), call.write_client()
    wanted = call.pint(f"{prefix}_id")
    return next(
        (
            r
            for r in call.db[table]
            if row_int(r, f"{prefix}_id") == wanted and row_int(r, f"{prefix}_client_id") == client_id
        ),
        None,
    )


def _archiver(table: str, archive: bool) -> Callable[[Call], Reply]:
    def handler(call: Call) -> Reply:
        row = _target(call, table)
        stamp = call.db.now() if archive else None
        return changed(_update(row, {f"{_prefix(table)}_archived_at": stamp}) if row else 0)

    return handler


def _deleter(table: str) -> Callable[[Call], Reply]:
    def handler(call: Call) -> Reply:
        row = _target(call, table)
        if row is None or _live_row_kept(call, table, row):
            return message(DELETE_FAILED)
        call.db[table].remove(row)
        return changed(1, DELETE_FAILED)

    return handler


def clients_delete(call: Call) -> Reply:
    row = _client_target(call)
    if row is None or _live_row_kept(call, "clients", row):
        return message(DELETE_FAILED)
    call.db["clients"].remove(row)
    call.db.log("Client", "Delete", f"{row['client_name']} deleted via API")
    return changed(1, DELETE_FAILED)


# Text columns each module's create/update accepts (tags stripped, trimmed), and its digits-only ones.
_TEXT: dict[str, tuple[str, ...]] = {
    "locations": (
        "location_name",
        "location_description",
        "location_country",
        "location_address",
        "location_city",
        "location_state",
        "location_zip",
        "location_hours",
        "location_notes",
    ),
    "vendors": (
        "vendor_name",
        "vendor_description",
        "vendor_contact_name",
        "vendor_email",
        "vendor_website",
        "vendor_hours",
        "vendor_sla",
        "vendor_code",
        "vendor_account_number",
        "vendor_notes",
    ),
    "domains": ("domain_name", "domain_description", "domain_notes"),
    "networks": (
        "network_name",
        "network_description",
        "network",
        "network_gateway",
        "network_dhcp_range",
        "network_notes",
    ),
}
# vendors: phone columns digits only; the country code is stored '' when not sent
# (docs/itflow-api.md §7 row 7).
_DIGITS_COLS: dict[str, tuple[str, ...]] = {
    "vendors": ("vendor_phone_country_code", "vendor_phone", "vendor_extension"),
}
_OPTIONAL: dict[str, tuple[str, ...]] = {"domains": ("domain_expire",), "networks": ("network_vlan",)}
_INTS: dict[str, tuple[str, ...]] = {"networks": ("network_location_id",), "locations": ("location_primary",)}


def _fields(call: Call, table: str, partial: bool) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for col in _TEXT.get(table, ()):
        if not partial or call.p(col) is not None:
            out[col] = call.clean(col)
    for col in _DIGITS_COLS.get(table, ()):
        if not partial or call.p(col) is not None:
            out[col] = _digits(call.clean(col))
    for col in _OPTIONAL.get(table, ()):
        if not partial or call.p(col) is not None:
            out[col] = call.clean(col) or None
    for col in _INTS.get(table, ()):
        if not partial or call.p(col) is not None:
            out[col] = str(call.pint(col))
    return out


def _creator(table: str) -> Callable[[Call], Reply]:
    name_col = f"{_prefix(table)}_name"

    def handler(call: Call) -> Reply:
        values = _fields(call, table, False)
        if not values.get(name_col):
            return message(CREATE_FAILED)
        client_id = call.write_client()
        new_id = call.db.insert(table, {**values, f"{_prefix(table)}_client_id": client_id})
        call.audit(
            _prefix(table).capitalize(),
            "Create",
            values[name_col] or "",
            client_id=client_id,
            entity_id=new_id,
        )
        return created(new_id)

    return handler


def _updater(table: str) -> Callable[[Call], Reply]:
    def handler(call: Call) -> Reply:
        row = _target(call, table)
        if row is None:
            return changed(0)
        # locations/update cannot set a phone: no phone column is in its field list
        # (docs/itflow-api.md §7 row 7).
        count = _update(row, _fields(call, table, True))
        if count:
            row[f"{_prefix(table)}_updated_at"] = call.db.now()
        return changed(count)

    return handler


WRITES: dict[str, Callable[[Call], Reply]] = {
    "contacts/create": contacts_create,
    "contacts/update": contacts_update,
    "contacts/delete": contacts_delete,
    "contacts/archive": contacts_archive,
    "contacts/unarchive": contacts_unarchive,
    "clients/create": clients_create,
    "clients/update": clients_update,
    "clients/archive": clients_archive,
    "clients/unarchive": clients_unarchive,
    "locations/create": locations_create,
    "tickets/create": tickets_create,
    "tickets/resolve": tickets_resolve,
    "ticket_replies/create": ticket_replies_create,
    "assets/create": assets_create,
    "assets/update": assets_update,
    "assets/delete": assets_delete,
    "certificates/create": certificates_create,
    "documents/create": documents_create,
    "documents/update": documents_update,
    "credentials/create": credentials_create,
    "credentials/update": credentials_update,
    "invoice_items/create": invoice_items_create,
    # 26.09
    "tickets/close": tickets_close,
    "clients/delete": clients_delete,
    # 26.10
    "locations/update": _updater("locations"),
    "locations/delete": _deleter("locations"),
    "vendors/create": _creator("vendors"),
    "vendors/update": _updater("vendors"),
    "domains/create": _creator("domains"),
    "domains/update": _updater("domains"),
    "networks/create": _creator("networks"),
    "networks/update": _updater("networks"),
    **{
        f"{table}/{fn}": _archiver(table, fn == "archive")
        for table in ("locations", "documents", "vendors", "domains", "networks", "software")
        for fn in ("archive", "unarchive")
    },
}
