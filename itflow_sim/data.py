"""In-memory ITFlow tables: rows are dicts of strings (or ``None`` for SQL NULL), like mysqli gives PHP.

Tests reach in through :class:`Database` helpers (``add_client``, ``add_contact``, ...), which fill
every column with its schema default and return the new id. Seed files (``seed.json``) use the same
shape: ``{"<table>": [{column: value, ...}, ...]}``; ints and bools are stored as strings, as ITFlow
would. Invalid UTF-8 in a value is modelled as lone surrogates
(``b"\\xe9".decode("utf-8", "surrogateescape")``): the v1 encoder then answers an empty body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from itflow_sim import schema

__all__ = ["DEFAULT_SEED", "Database", "Row", "Seed", "load_seed", "sql_now"]

Row = dict[str, str | None]
# A seed document as JSON gives it: ``{"<table>": [row, ...], "settings": row, "_comment": ...}``, a row
# being ``{column: value}``. Its shape is checked when loaded (``Database.load``), not promised by a type.
Seed = Mapping[str, object]
DEFAULT_SEED = Path(__file__).with_name("seed.json")


def sql_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _sqlval(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def load_seed(seed: str | Path | Seed | None) -> Seed:
    if seed is None:
        seed = DEFAULT_SEED
    if isinstance(seed, Mapping):
        return dict(seed)
    doc: object = json.loads(Path(seed).read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise ValueError(f"seed {seed}: expected a JSON object of tables")
    return doc


def _seed_row(table: str, value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ValueError(f"seed: {table}: expected an object of column values, got {type(value).__name__}")
    return value


def _seed_rows(table: str, value: object) -> list[Mapping[str, object]]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ValueError(f"seed: {table}: expected a list of rows, got {type(value).__name__}")
    return [_seed_row(table, row) for row in value]


class Database:
    """All tables of one simulated ITFlow install. Not thread-safe: used on the event loop only."""

    def __init__(self, clock: Callable[[], str] = sql_now) -> None:
        self.tables: dict[str, list[Row]] = {name: [] for name in schema.TABLES}
        self._next: dict[str, int] = {name: 1 for name in schema.TABLES}
        self.now = clock
        self.tables["settings"].append(schema.defaults("settings"))

    # ---- generic -------------------------------------------------------------------------------------

    def __getitem__(self, table: str) -> list[Row]:
        return self.tables[table]

    @property
    def settings(self) -> Row:
        return self.tables["settings"][0]

    def insert(self, table: str, values: Mapping[str, object]) -> int:
        """INSERT with schema defaults; an explicit id is kept (and advances the counter)."""
        row = schema.defaults(table)
        unknown = set(values) - set(row)
        if unknown:
            raise KeyError(f"{table}: unknown column(s) {sorted(unknown)}")
        row.update({k: _sqlval(v) for k, v in values.items()})
        idcol = schema.id_column(table)
        new_id = 0
        if idcol:
            if row.get(idcol) in (None, "", "0"):
                row[idcol] = str(self._next[table])
            new_id = int(row[idcol] or 0)
            self._next[table] = max(self._next[table], new_id + 1)
        for col in row:
            if col.endswith("_created_at") and row[col] is None:
                row[col] = self.now()
        self.tables[table].append(row)
        return new_id

    def find(self, table: str, column: str, value: str | int) -> Row | None:
        value = str(value)
        return next((r for r in self.tables[table] if r.get(column) == value), None)

    def load(self, seed: Seed) -> None:
        for table, rows in seed.items():
            if table.startswith("_"):
                continue
            if table not in self.tables:
                raise ValueError(f"seed: unknown table {table!r}; known: {', '.join(sorted(self.tables))}")
            if table == "settings":
                self.settings.update({k: _sqlval(v) for k, v in _seed_row(table, rows).items()})
                continue
            for row in _seed_rows(table, rows):
                self.insert(table, row)
        if not self.tables["ticket_statuses"]:
            # Seeded by ITFlow's installer, so present even when a test's seed leaves them out.
            for sid, name in enumerate(("New", "Open", "On Hold", "Resolved", "Closed"), start=1):
                self.insert(
                    "ticket_statuses",
                    {
                        "ticket_status_id": sid,
                        "ticket_status_name": name,
                        "ticket_status_active": int(sid < 4),
                        "ticket_status_order": sid,
                    },
                )

    def log(self, log_type: str, action: str | None, description: str, **extra: object) -> None:
        self.insert(
            "logs",
            {
                "log_type": log_type,
                "log_action": action,
                "log_description": description,
                "log_created_at": self.now(),
                **extra,
            },
        )

    # ---- convenience views -----------------------------------------------------------------------------

    @property
    def tickets(self) -> list[Row]:
        return self.tables["tickets"]

    @property
    def logs(self) -> list[Row]:
        return self.tables["logs"]

    @property
    def alerts(self) -> list[Row]:
        return self.tables["alerts"]

    # ---- helpers for tests --------------------------------------------------------------------------------

    def add_client(self, name: str, *, archived: bool = False, **cols: object) -> int:
        values: dict[str, object] = {"client_name": name, **cols}
        if archived:
            values.setdefault("client_archived_at", self.now())
        return self.insert("clients", values)

    def add_contact(
        self,
        client_id: int,
        name: str,
        *,
        phone: str = "",
        mobile: str | None = "",
        email: str = "",
        extension: str = "",
        phone_country_code: str | None = None,
        mobile_country_code: str | None = None,
        primary: bool = False,
        archived: bool = False,
        pin: str = "",
        **cols: object,
    ) -> int:
        values: dict[str, object] = {
            "contact_client_id": client_id,
            "contact_name": name,
            "contact_phone": phone,
            "contact_mobile": mobile,
            "contact_email": email,
            "contact_extension": extension,
            "contact_phone_country_code": phone_country_code,
            "contact_mobile_country_code": mobile_country_code,
            "contact_primary": primary,
            "contact_pin": pin,
            **cols,
        }
        if archived:
            values.setdefault("contact_archived_at", self.now())
        return self.insert("contacts", values)

    def add_location(
        self,
        client_id: int,
        name: str,
        *,
        phone: str = "",
        phone_country_code: str | None = None,
        primary: bool = False,
        archived: bool = False,
        **cols: object,
    ) -> int:
        values: dict[str, object] = {
            "location_client_id": client_id,
            "location_name": name,
            "location_phone": phone,
            "location_phone_country_code": phone_country_code,
            "location_primary": primary,
            **cols,
        }
        if archived:
            values.setdefault("location_archived_at", self.now())
        return self.insert("locations", values)

    def add_vendor(
        self,
        name: str,
        *,
        phone: str = "",
        phone_country_code: str | None = None,
        client_id: int = 0,
        archived: bool = False,
        **cols: object,
    ) -> int:
        values: dict[str, object] = {
            "vendor_name": name,
            "vendor_phone": phone,
            "vendor_phone_country_code": phone_country_code,
            "vendor_client_id": client_id,
            **cols,
        }
        if archived:
            values.setdefault("vendor_archived_at", self.now())
        return self.insert("vendors", values)

    def add_invoice(
        self,
        client_id: int,
        amount: str | Decimal,
        *,
        status: str = "Sent",
        archived: bool = False,
        **cols: object,
    ) -> int:
        number = len(self.tables["invoices"]) + 1
        values: dict[str, object] = {
            "invoice_client_id": client_id,
            "invoice_amount": Decimal(str(amount)),
            "invoice_status": status,
            "invoice_number": number,
            "invoice_date": "2026-01-01",
            "invoice_due": "2026-01-31",
            **cols,
        }
        if archived:
            values.setdefault("invoice_archived_at", self.now())
        return self.insert("invoices", values)

    def add_payment(self, invoice_id: int, amount: str | Decimal, **cols: object) -> int:
        values: dict[str, object] = {
            "payment_invoice_id": invoice_id,
            "payment_amount": Decimal(str(amount)),
            "payment_date": "2026-01-15",
            "payment_method": "Check",
            **cols,
        }
        return self.insert("payments", values)

    def add_ticket(self, client_id: int, subject: str, **cols: object) -> int:
        number = int(self.settings["config_ticket_next_number"] or 0)
        self.settings["config_ticket_next_number"] = str(number + 1)
        values: dict[str, object] = {
            "ticket_client_id": client_id,
            "ticket_subject": subject,
            "ticket_details": "",
            "ticket_priority": "Low",
            "ticket_prefix": self.settings["config_ticket_prefix"],
            "ticket_number": number,
            "ticket_source": "Agent",
            **cols,
        }
        return self.insert("tickets", values)

    # ---- derived facts tests compare against --------------------------------------------------------------

    def primary_contact(self, client_id: int | str) -> Row | None:
        """The client's primary contact (``contact_primary=1``, lowest id), as the UI/legacy join sees it."""
        cid = str(client_id)
        return next(
            (
                c
                for c in self.tables["contacts"]
                if c["contact_client_id"] == cid and c["contact_primary"] == "1"
            ),
            None,
        )

    def balance(
        self, client_id: int, *, exclude: Iterable[str] = ("draft", "cancelled", "non-billable")
    ) -> Decimal:
        """ITFlow's balance formula (docs/itflow-api.md §4.4); legacy excluded only Draft and Cancelled."""
        excluded = {s.casefold() for s in exclude}
        cid = str(client_id)
        invoices = [i for i in self.tables["invoices"] if i["invoice_client_id"] == cid]
        billed = sum(
            (
                Decimal(i["invoice_amount"] or "0")
                for i in invoices
                if (i["invoice_status"] or "").casefold() not in excluded
            ),
            Decimal("0"),
        )
        ids = {i["invoice_id"] for i in invoices}
        paid = sum(
            (
                Decimal(p["payment_amount"] or "0")
                for p in self.tables["payments"]
                if p["payment_invoice_id"] in ids
            ),
            Decimal("0"),
        )
        return billed - paid
