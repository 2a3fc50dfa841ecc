"""v1 ``read.php`` endpoints (and ``technicians/time``): filter precedence, scoping, paging
(docs/itflow-api.md §2.4, §3.1; the 26.10 ``client_id`` filter and hidden archived rows: §7).

Filters come from the query string only (PHP ``$_GET``), exactly one applies (the first present in the
endpoint's precedence order), string filters are exact ``*_general_ci`` matches, id filters go through
``intval``. Single lookups have no LIMIT; lists are ``ORDER BY id LIMIT limit OFFSET offset``. Archived
rows are never filtered out (docs/itflow-api.md Q12), except ticket replies and, from 26.10, six tables
(docs/itflow-api.md §7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from itflow_sim.call import Call
from itflow_sim.data import Row
from itflow_sim.envelope import (
    NO_RESOURCE,
    Reply,
    SqlError,
    json_reply,
    message,
    rows_reply,
)
from itflow_sim.php import intval, sql_eq, sql_like

__all__ = ["READS", "run_read"]

Match = Callable[[Call, Row, str], bool]


def _int_eq(col: str) -> Match:
    return lambda call, row, v: intval(row.get(col)) == intval(v)


def _str_eq(col: str) -> Match:
    return lambda call, row, v: sql_eq(row.get(col), v)


@dataclass(frozen=True)
class Filter:
    param: str
    match: Match
    limit1: bool = False  # LIMIT 1 without ORDER BY (first in table order)
    paged: bool = False  # honours limit/offset
    transform: Callable[[str], str] = lambda v: v


@dataclass(frozen=True)
class ReadSpec:
    table: str
    id_col: str
    client_col: str | None  # None: not client-scoped
    filters: tuple[Filter, ...]
    unscoped_v1c: bool = False  # payments/products/expenses: all-clients key only (docs/itflow-api.md §6.1)


def _spec(
    table: str, id_col: str, client_col: str | None, *filters: Filter, unscoped: bool = False
) -> ReadSpec:
    return ReadSpec(table, id_col, client_col, tuple(filters), unscoped)


def _by_id(table: str, prefix: str, client: bool = True, *extra: Filter, unscoped: bool = False) -> ReadSpec:
    idc = f"{prefix}_id"
    return _spec(
        table,
        idc,
        f"{prefix}_client_id" if client else None,
        Filter(idc, _int_eq(idc)),
        *extra,
        unscoped=unscoped,
    )


def _phone_or_mobile(call: Call, row: Row, value: str) -> bool:
    # docs/itflow-api.md Q1: "mobile = X OR phone = X AND scope" -- AND binds tighter, so a mobile match
    # skips the scope.
    if sql_eq(row.get("contact_mobile"), value):
        return True
    return sql_eq(row.get("contact_phone"), value) and call.in_scope(row.get("contact_client_id"))


def _ucfirst(v: str) -> str:
    return v[:1].upper() + v[1:]


def _software_name(call: Call, row: Row, value: str) -> bool:
    raise SqlError("ORDER BY a column that does not exist")


def _asset_mac(call: Call, row: Row, value: str) -> bool:
    return any(
        sql_eq(i["interface_mac"], value)
        and i["interface_primary"] == "1"
        and i["interface_asset_id"] == row["asset_id"]
        for i in call.db["asset_interfaces"]
    )


READS: dict[str, ReadSpec] = {
    "contacts": _spec(
        "contacts",
        "contact_id",
        "contact_client_id",
        Filter("contact_id", _int_eq("contact_id")),
        Filter("contact_email", _str_eq("contact_email")),
        Filter("contact_phone_or_mobile", _phone_or_mobile, limit1=True),
    ),
    "clients": _spec("clients", "client_id", "client_id", Filter("client_name", _str_eq("client_name"))),
    "locations": _by_id("locations", "location"),
    "vendors": _by_id("vendors", "vendor"),
    "invoices": _by_id("invoices", "invoice"),
    "payments": _spec(
        "payments",
        "payment_id",
        None,
        Filter("payment_id", _int_eq("payment_id")),
        Filter("payment_invoice_id", _int_eq("payment_invoice_id")),
        unscoped=True,
    ),
    "quotes": _spec(
        "quotes",
        "quote_id",
        "quote_client_id",
        Filter("quote_id", lambda c, r, v: sql_like(r.get("quote_id"), v)),
    ),
    "products": _by_id("products", "product", False, unscoped=True),
    "expenses": _by_id("expenses", "expense", True, unscoped=True),
    "domains": _by_id("domains", "domain", True, Filter("domain_name", _str_eq("domain_name"))),
    "networks": _by_id("networks", "network", True, Filter("network_name", _str_eq("network_name"))),
    "certificates": _by_id(
        "certificates", "certificate", True, Filter("certificate_name", _str_eq("certificate_name"))
    ),
    "documents": _by_id("documents", "document"),
    "credentials": _by_id("credentials", "credential"),
    "software": _spec(
        "software",
        "software_id",
        "software_client_id",
        Filter("software_id", _int_eq("software_id")),
        # Bug copied from ITFlow: the software_key branch reads the value of ``software_license``.
        Filter("software_key", _str_eq("software_key")),
        Filter("software_name", _software_name),
        Filter("software_type", _str_eq("software_type")),
    ),
    "assets": _spec(
        "assets",
        "asset_id",
        "asset_client_id",
        Filter("asset_id", _int_eq("asset_id")),
        Filter("asset_type", _str_eq("asset_type"), transform=_ucfirst),
        Filter("asset_name", _str_eq("asset_name")),
        Filter("asset_serial", _str_eq("asset_serial")),
        Filter("asset_mac", _asset_mac),
        Filter("asset_uri", _str_eq("asset_uri")),
        Filter("asset_uri_2", _str_eq("asset_uri_2")),
    ),
    "tickets": _by_id("tickets", "ticket"),
}

# V1a (early 2022): assets/read filtered on ``id`` / ``name`` before the rename to asset_*
# (docs/itflow-api.md §3.1).
V1A_ASSETS = _spec(
    "assets",
    "asset_id",
    "asset_client_id",
    Filter("id", _int_eq("asset_id")),
    Filter("name", _str_eq("asset_name")),
)


def _rowsort(rows: list[Row], id_col: str) -> list[Row]:
    return sorted(rows, key=lambda r: int(r.get(id_col) or 0))


def _page(call: Call, rows: list[Row]) -> list[Row]:
    if call.limit < 0 or call.offset < 0:
        raise SqlError("negative LIMIT/OFFSET is an SQL syntax error")
    return rows[call.offset : call.offset + call.limit]


def _decorate(call: Call, spec: ReadSpec, rows: list[Row], single: bool) -> list[Row]:
    if spec.table == "tickets" and single:
        out = []
        for r in rows:
            st = call.db.find("ticket_statuses", "ticket_status_id", r["ticket_status"] or "0")
            joined = dict(r)
            for col in (
                "ticket_status_id",
                "ticket_status_name",
                "ticket_status_color",
                "ticket_status_active",
                "ticket_status_pauses_sla",
                "ticket_status_order",
            ):
                joined[col] = st[col] if st else None
            out.append(joined)
        return out
    if spec.table == "assets":
        out = []
        for r in rows:
            iface = next(
                (
                    i
                    for i in call.db["asset_interfaces"]
                    if i["interface_asset_id"] == r["asset_id"] and i["interface_primary"] == "1"
                ),
                None,
            )
            joined = dict(r)
            for col in ("interface_mac", "interface_ip", "interface_network_id"):
                joined[col] = iface[col] if iface else None
            out.append(joined)
        return out
    return rows


def _select(call: Call, spec: ReadSpec) -> list[Row]:
    table = _rowsort(call.db[spec.table], spec.id_col)
    if spec.table in call.profile.hides_archived:
        # 26.10: these reads add ``<x>_archived_at IS NULL``, by id too (docs/itflow-api.md §7 row 6).
        archived_col = spec.id_col.removesuffix("_id") + "_archived_at"
        table = [r for r in table if r.get(archived_col) is None]

    def scoped(row: Row) -> bool:
        return spec.client_col is None or call.in_scope(row.get(spec.client_col))

    for f in spec.filters:
        if f.param not in call.get:
            continue
        raw = call.get.get("software_license", "") if f.param == "software_key" else call.get[f.param]
        value = f.transform(raw or "")
        if f.param == "contact_phone_or_mobile":
            hits = [r for r in table if f.match(call, r, value)]
        else:
            hits = [r for r in table if f.match(call, r, value) and scoped(r)]
        if f.limit1:
            return _decorate(call, spec, hits[:1], True)
        return _decorate(call, spec, _page(call, hits) if f.paged else hits, True)
    return _decorate(call, spec, _page(call, [r for r in table if scoped(r)]), False)


def _ticket_replies(call: Call) -> list[Row]:
    replies = _rowsort(call.db["ticket_replies"], "ticket_reply_id")
    out: list[Row] = []
    for r in replies:
        ticket = call.db.find("tickets", "ticket_id", r["ticket_reply_ticket_id"] or "0")
        if ticket is None or not call.in_scope(ticket["ticket_client_id"]):
            continue
        if "include_archived" not in call.get or intval(call.get["include_archived"]) != 1:
            if r["ticket_reply_archived_at"] is not None:
                continue
        if "type" in call.get and not sql_eq(r["ticket_reply_type"], call.get["type"]):
            continue
        if r["ticket_reply_type"] == "Client":
            who = call.db.find("contacts", "contact_id", r["ticket_reply_by"] or "0")
            by_name = who["contact_name"] if who else None
        else:
            who = call.db.find("users", "user_id", r["ticket_reply_by"] or "0")
            by_name = who["user_name"] if who else None
        joined = dict(r)
        joined.update(
            {
                "ticket_prefix": ticket["ticket_prefix"],
                "ticket_number": ticket["ticket_number"],
                "ticket_subject": ticket["ticket_subject"],
                "ticket_client_id": ticket["ticket_client_id"],
                "ticket_reply_by_name": by_name,
            }
        )
        out.append(joined)
    if "ticket_reply_id" in call.get:
        return [r for r in out if intval(r["ticket_reply_id"]) == intval(call.get["ticket_reply_id"])][:1]
    if "ticket_id" in call.get:
        out = [r for r in out if intval(r["ticket_reply_ticket_id"]) == intval(call.get["ticket_id"])]
    return _page(call, out)


def _invoice_items(call: Call) -> Reply | list[Row]:
    def invoice_ok(item: Row) -> bool:
        inv = call.db.find("invoices", "invoice_id", item["item_invoice_id"] or "0")
        return inv is not None and call.in_scope(inv["invoice_client_id"])

    items = _rowsort(call.db["invoice_items"], "item_id")
    if "item_id" in call.get:
        return [i for i in items if intval(i["item_id"]) == intval(call.get["item_id"]) and invoice_ok(i)][:1]
    if "invoice_id" in call.get:
        hits = [
            i
            for i in items
            if intval(i["item_invoice_id"]) == intval(call.get["invoice_id"]) and invoice_ok(i)
        ]
        hits.sort(key=lambda i: (int(i["item_order"] or 0), int(i["item_id"] or 0)))
        return _page(call, hits)
    return json_reply(
        {
            "success": "False",
            "message": "A filter is required. Please supply either invoice_id or item_id.",
            "count": 0,
            "data": [],
        },
        400,
    )


def _technician_time(call: Call) -> Reply | list[Row]:
    now = datetime.now(UTC)
    year = intval(call.get["year"]) if "year" in call.get else now.year
    month = intval(call.get["month"]) if "month" in call.get else now.month
    if not 1 <= month <= 12:
        return message("Invalid month parameter. Must be between 1 and 12.")
    tech = intval(call.get["technician_id"]) if "technician_id" in call.get else 0
    totals: dict[tuple[str, str], int] = {}
    for r in call.db["ticket_replies"]:
        created = r["ticket_reply_created_at"] or ""
        if not created.startswith(f"{year:04d}-{month:02d}") or not r["ticket_reply_time_worked"]:
            continue
        if tech and intval(r["ticket_reply_by"]) != tech:
            continue
        h, m, s = (int(x) for x in (r["ticket_reply_time_worked"] or "0:0:0").split(":"))
        k = (r["ticket_reply_ticket_id"] or "0", r["ticket_reply_by"] or "0")
        totals[k] = totals.get(k, 0) + h * 3600 + m * 60 + s
    rows: list[Row] = []
    for (tid, uid), secs in sorted(totals.items(), key=lambda kv: (int(kv[0][0]), int(kv[0][1]))):
        t = call.db.find("tickets", "ticket_id", tid)
        if t is None or not call.in_scope(t["ticket_client_id"]):
            continue
        client = call.db.find("clients", "client_id", t["ticket_client_id"] or "0")
        user = call.db.find("users", "user_id", uid)
        rows.append(
            {
                "ticket_id": tid,
                "ticket_number": f"{t['ticket_prefix']}{t['ticket_number']}",
                "ticket_subject": t["ticket_subject"],
                "client_id": t["ticket_client_id"],
                "company": client["client_name"] if client else None,
                "technician_id": uid,
                "technician": user["user_name"] if user else None,
                "time_worked": f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}",
            }
        )
    return _page(call, rows)


def run_read(call: Call) -> Reply:
    """Run a GET endpoint; may raise :class:`SqlError`."""
    module = call.module
    if module == "credentials" and not call.p("api_key_decrypt_password"):
        return message(NO_RESOURCE)
    if module == "ticket_replies":
        return rows_reply(_ticket_replies(call), numeric_keys=call.quirks.numeric_keys)
    special = {"invoice_items": _invoice_items, "technicians": _technician_time}.get(module)
    if special is not None:
        result = special(call)
        return (
            result if isinstance(result, Reply) else rows_reply(result, numeric_keys=call.quirks.numeric_keys)
        )
    spec = V1A_ASSETS if (module == "assets" and call.profile.era == "V1a") else READS[module]
    if (
        spec.unscoped_v1c
        and call.profile.auth == "client"
        and (call.key.client_id or "client_id" in call.get)
    ):
        # docs/itflow-api.md §6.1: v26.3 runs no query and counts the rows of the API-key lookup: "True",
        # count 1, no data.
        return json_reply({"success": "True", "count": 1})
    rows = _select(call, spec)
    if module == "credentials":
        rows = (
            [dict(r) for r in rows] if call.p("api_key_decrypt_password") == _decrypt_password(call) else []
        )
    return rows_reply(rows, numeric_keys=call.quirks.numeric_keys)


def _decrypt_password(call: Call) -> str:
    # The simulator stores credentials in clear; the key's decrypt hash column holds the accepted password.
    return call.key.key["api_key_decrypt_hash"] or ""
