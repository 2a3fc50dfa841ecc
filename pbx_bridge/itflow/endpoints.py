"""The v1 endpoints: the table of every module/function up to ITFlow 26.10 (docs/itflow-api.md §2.1 and
§7, plus ``payments/read`` of older releases) and one typed, documented method per endpoint, named
``{module}_{function}``.

Reads return a :class:`~pbx_bridge.itflow.response.V1Response` (one page: pass ``limit``/``offset``, or use
``iter_rows``); creates return the new id; updates, archives, resolves and deletes return the number
of affected rows. Every method also takes ``**extra`` for parameters of other ITFlow versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from pbx_bridge.itflow.errors import MalformedResponse
from pbx_bridge.itflow.response import Param, V1Response

__all__ = ["ENDPOINTS", "Endpoint", "EndpointMethods", "method_for"]


@dataclass(frozen=True)
class Endpoint:
    module: str
    function: str
    since: str  # first ITFlow version (or master date) with the endpoint
    until: str = ""  # last version with it, when it was removed
    rbac_module: str = ""  # v26.08 RBAC permission module

    @property
    def method(self) -> str:
        return method_for(self.module, self.function)

    @property
    def name(self) -> str:
        return f"{self.module}/{self.function}"


def method_for(module: str, function: str) -> str:
    """The HTTP method ITFlow wants: GET for reads and technicians/time, POST for everything else."""
    return "GET" if function == "read" or (module, function) == ("technicians", "time") else "POST"


_S, _C, _SA, _F, _CR = "support", "client", "sales", "financial", "credential"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("assets", "read", "2022-02-02", rbac_module=_S),
    Endpoint("assets", "create", "2022-02-27", rbac_module=_S),
    Endpoint("assets", "update", "2022-04-18", rbac_module=_S),
    Endpoint("assets", "delete", "2022-05-01", rbac_module=_S),
    Endpoint("certificates", "read", "2022-02-05", rbac_module=_S),
    Endpoint("certificates", "create", "v25.11", rbac_module=_S),
    Endpoint("clients", "read", "2022-04-18", rbac_module=_C),
    Endpoint("clients", "create", "2024-02-04", rbac_module=_C),
    Endpoint("clients", "update", "v25.11", rbac_module=_C),
    Endpoint("clients", "archive", "v25.11", rbac_module=_C),
    Endpoint("clients", "unarchive", "v25.11", rbac_module=_C),
    Endpoint("clients", "delete", "v26.09", rbac_module=_C),
    Endpoint("contacts", "read", "2022-02-12", rbac_module=_C),
    Endpoint("contacts", "create", "2022-03-26", rbac_module=_C),
    Endpoint("contacts", "update", "2022-04-15", rbac_module=_C),
    Endpoint("contacts", "delete", "2022-05-11", rbac_module=_C),
    Endpoint("contacts", "archive", "v25.11", rbac_module=_C),
    Endpoint("contacts", "unarchive", "v25.11", rbac_module=_C),
    Endpoint("credentials", "read", "2024-08-19", rbac_module=_CR),
    Endpoint("credentials", "create", "2024-08-25", rbac_module=_CR),
    Endpoint("credentials", "update", "2024-08-25", rbac_module=_CR),
    Endpoint("documents", "read", "2023-02-12", rbac_module=_S),
    Endpoint("documents", "create", "2023-11-05", rbac_module=_S),
    Endpoint("documents", "update", "2023-11-05", rbac_module=_S),
    Endpoint("documents", "archive", "v26.10", rbac_module=_S),
    Endpoint("documents", "unarchive", "v26.10", rbac_module=_S),
    Endpoint("domains", "read", "2022-02-05", rbac_module=_S),
    Endpoint("domains", "create", "v26.10", rbac_module=_S),
    Endpoint("domains", "update", "v26.10", rbac_module=_S),
    Endpoint("domains", "archive", "v26.10", rbac_module=_S),
    Endpoint("domains", "unarchive", "v26.10", rbac_module=_S),
    Endpoint("expenses", "read", "2023-02-12", rbac_module=_F),
    Endpoint("invoice_items", "read", "v26.04", rbac_module=_SA),
    Endpoint("invoice_items", "create", "v26.08", rbac_module=_SA),
    Endpoint("invoices", "read", "2023-02-12", rbac_module=_SA),
    Endpoint("locations", "read", "2024-02-24", rbac_module=_C),
    Endpoint("locations", "create", "v25.09", rbac_module=_C),
    Endpoint("locations", "update", "v26.10", rbac_module=_C),
    Endpoint("locations", "archive", "v26.10", rbac_module=_C),
    Endpoint("locations", "unarchive", "v26.10", rbac_module=_C),
    Endpoint("locations", "delete", "v26.10", rbac_module=_C),
    Endpoint("networks", "read", "2022-02-05", rbac_module=_S),
    Endpoint("networks", "create", "v26.10", rbac_module=_S),
    Endpoint("networks", "update", "v26.10", rbac_module=_S),
    Endpoint("networks", "archive", "v26.10", rbac_module=_S),
    Endpoint("networks", "unarchive", "v26.10", rbac_module=_S),
    Endpoint("payments", "read", "2023-02-11", until="v26.3"),
    Endpoint("products", "read", "2023-02-12", rbac_module=_SA),
    Endpoint("quotes", "read", "2023-02-12", rbac_module=_SA),
    Endpoint("software", "read", "2022-02-05", rbac_module=_S),
    Endpoint("software", "archive", "v26.10", rbac_module=_S),
    Endpoint("software", "unarchive", "v26.10", rbac_module=_S),
    Endpoint("technicians", "time", "v26.3", rbac_module=_S),
    Endpoint("ticket_replies", "read", "v26.08", rbac_module=_S),
    Endpoint("ticket_replies", "create", "v26.08", rbac_module=_S),
    Endpoint("tickets", "read", "2022-02-12", rbac_module=_S),
    Endpoint("tickets", "create", "2023-09-09", rbac_module=_S),
    Endpoint("tickets", "resolve", "v25.10", rbac_module=_S),
    Endpoint("tickets", "close", "v26.09", rbac_module=_S),
    Endpoint("vendors", "read", "2024-09-11", rbac_module=_C),
    Endpoint("vendors", "create", "v26.10", rbac_module=_C),
    Endpoint("vendors", "update", "v26.10", rbac_module=_C),
    Endpoint("vendors", "archive", "v26.10", rbac_module=_C),
    Endpoint("vendors", "unarchive", "v26.10", rbac_module=_C),
)


def _p(local: dict[str, object], extra: dict[str, Param]) -> dict[str, Param]:
    """The method's named arguments plus ``extra``, without ``self``/``extra`` and unset ones (every
    named argument is annotated as a parameter value)."""
    out = {
        k: cast(Param, v)
        for k, v in local.items()
        if k not in ("self", "extra", "__class__") and v is not None
    }
    out.update(extra)
    return out


class EndpointMethods:
    """Typed wrappers over ``request``; mixed into :class:`~pbx_bridge.itflow.v1.V1Client`."""

    async def request(
        self, module: str, function: str, params: Mapping[str, Param], *, method: str | None = None
    ) -> V1Response:
        raise NotImplementedError

    async def _read(self, module: str, params: dict[str, Param], function: str = "read") -> V1Response:
        return await self.request(module, function, params)

    async def _create(self, module: str, params: dict[str, Param]) -> int:
        resp = await self.request(module, "create", params)
        if resp.insert_id is None:
            raise MalformedResponse(
                "the create succeeded but returned no insert_id.", endpoint=f"{module}/create", status=200
            )
        return resp.insert_id

    async def _change(self, module: str, function: str, params: dict[str, Param]) -> int:
        return (await self.request(module, function, params)).count

    # ------------------------------------------------------------------ assets (module_support)

    async def assets_read(
        self,
        *,
        asset_id: int | None = None,
        asset_type: str | None = None,
        asset_name: str | None = None,
        asset_serial: str | None = None,
        asset_mac: str | None = None,
        asset_uri: str | None = None,
        asset_uri_2: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Assets; one filter applies, in the order of the parameters (id first), else a list."""
        return await self._read("assets", _p(locals(), extra))

    async def assets_create(
        self,
        *,
        client_id: int,
        asset_name: str,
        asset_description: str | None = None,
        asset_type: str | None = None,
        asset_make: str | None = None,
        asset_model: str | None = None,
        asset_serial: str | None = None,
        asset_os: str | None = None,
        asset_ip: str | None = None,
        asset_mac: str | None = None,
        asset_uri: str | None = None,
        asset_status: str | None = None,
        asset_notes: str | None = None,
        asset_vendor_id: int | None = None,
        asset_location_id: int | None = None,
        asset_contact_id: int | None = None,
        asset_network_id: int | None = None,
        **extra: Param,
    ) -> int:
        """Create an asset (and its primary interface) for a non-zero client; returns ``asset_id``."""
        return await self._create("assets", _p(locals(), extra))

    async def assets_update(self, *, asset_id: int, client_id: int, **fields: Param) -> int:
        """Update an asset of ``client_id`` (the asset's client); fields not sent keep their values."""
        return await self._change(
            "assets", "update", {"asset_id": asset_id, "client_id": client_id, **fields}
        )

    async def assets_delete(self, *, asset_id: int, client_id: int, **extra: Param) -> int:
        """Delete an asset (needs full level). ITFlow deletes its interfaces even on a client mismatch."""
        return await self._change("assets", "delete", _p(locals(), extra))

    # ------------------------------------------------------------------ certificates

    async def certificates_read(
        self,
        *,
        certificate_id: int | None = None,
        certificate_name: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Certificates by id, by name, or a list."""
        return await self._read("certificates", _p(locals(), extra))

    async def certificates_create(
        self,
        *,
        client_id: int,
        certificate_name: str,
        certificate_domain: str,
        certificate_description: str | None = None,
        certificate_issued_by: str | None = None,
        certificate_expire: str | None = None,
        certificate_public_key: str | None = None,
        certificate_notes: str | None = None,
        certificate_domain_id: int | None = None,
        **extra: Param,
    ) -> int:
        """Create a certificate record (v25.11+); returns ``certificate_id``."""
        return await self._create("certificates", _p(locals(), extra))

    # ------------------------------------------------------------------ clients (module_client)

    async def clients_read(
        self,
        *,
        client_name: str | None = None,
        client_id: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Clients by exact name, or a list. ``client_id`` filters with an all-clients key before v26.08
        and again from v26.09 (then a by-id lookup); v26.08 ignores it and answers the first page."""
        return await self._read("clients", _p(locals(), extra))

    async def clients_create(
        self,
        *,
        client_name: str,
        client_type: str | None = None,
        client_website: str | None = None,
        client_referral: str | None = None,
        client_rate: float | None = None,
        client_currency_code: str | None = None,
        client_net_terms: int | None = None,
        client_tax_id_number: str | None = None,
        client_abbreviation: str | None = None,
        client_is_lead: int | None = None,
        client_notes: str | None = None,
        **extra: Param,
    ) -> int:
        """Create a client; returns ``client_id``."""
        return await self._create("clients", _p(locals(), extra))

    async def clients_update(self, *, client_id: int, client_is_lead: int = 0, **fields: Param) -> int:
        """Update a client. ``client_is_lead`` is always sent: without it ITFlow fails with HTTP 500."""
        return await self._change(
            "clients", "update", {"client_id": client_id, "client_is_lead": client_is_lead, **fields}
        )

    async def clients_archive(self, *, client_id: int, **extra: Param) -> int:
        """Archive a client (also stops its recurring invoices)."""
        return await self._change("clients", "archive", _p(locals(), extra))

    async def clients_unarchive(self, *, client_id: int, **extra: Param) -> int:
        """Unarchive a client."""
        return await self._change("clients", "unarchive", _p(locals(), extra))

    # ------------------------------------------------------------------ contacts

    async def contacts_read(
        self,
        *,
        contact_id: int | None = None,
        contact_email: str | None = None,
        contact_phone_or_mobile: str | None = None,
        client_id: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Contacts: by id, e-mail, or an exact digits match on phone or mobile (first row only; archived
        contacts included; a mobile match ignores the key's client scope), else a list."""
        return await self._read("contacts", _p(locals(), extra))

    async def contacts_create(
        self,
        *,
        client_id: int,
        contact_name: str,
        contact_email: str,
        contact_title: str | None = None,
        contact_department: str | None = None,
        contact_phone: str | None = None,
        contact_extension: str | None = None,
        contact_mobile: str | None = None,
        contact_notes: str | None = None,
        contact_primary: int | None = None,
        contact_important: int | None = None,
        contact_billing: int | None = None,
        contact_technical: int | None = None,
        contact_location_id: int | None = None,
        **extra: Param,
    ) -> int:
        """Create a contact (an e-mail is required and must be unique in the client); returns its id."""
        return await self._create("contacts", _p(locals(), extra))

    async def contacts_update(self, *, contact_id: int, client_id: int, **fields: Param) -> int:
        """Update a contact of ``client_id``; fields not sent keep their values. "Nothing changed" fails."""
        return await self._change(
            "contacts", "update", {"contact_id": contact_id, "client_id": client_id, **fields}
        )

    async def contacts_delete(self, *, contact_id: int, client_id: int, **extra: Param) -> int:
        """Delete a contact (hard delete, full level)."""
        return await self._change("contacts", "delete", _p(locals(), extra))

    async def contacts_archive(self, *, contact_id: int, client_id: int, **extra: Param) -> int:
        """Archive a contact."""
        return await self._change("contacts", "archive", _p(locals(), extra))

    async def contacts_unarchive(self, *, contact_id: int, client_id: int, **extra: Param) -> int:
        """Unarchive a contact."""
        return await self._change("contacts", "unarchive", _p(locals(), extra))

    # ------------------------------------------------------------------ credentials (module_credential)

    async def credentials_read(
        self,
        *,
        api_key_decrypt_password: str,
        credential_id: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Credentials, decrypted; the decrypt password is sent in the JSON body only."""
        return await self._read("credentials", _p(locals(), extra))

    async def credentials_create(
        self,
        *,
        api_key_decrypt_password: str,
        credential_name: str,
        credential_password: str,
        client_id: int | None = None,
        **extra: Param,
    ) -> int:
        """Create a credential; returns its id."""
        return await self._create("credentials", _p(locals(), extra))

    async def credentials_update(
        self, *, api_key_decrypt_password: str, credential_id: int, **fields: Param
    ) -> int:
        """Update a credential."""
        return await self._change(
            "credentials",
            "update",
            {"api_key_decrypt_password": api_key_decrypt_password, "credential_id": credential_id, **fields},
        )

    # ------------------------------------------------------------------ documents

    async def documents_read(
        self,
        *,
        document_id: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Documents by id, or a list."""
        return await self._read("documents", _p(locals(), extra))

    async def documents_create(
        self,
        *,
        document_name: str,
        document_content: str,
        client_id: int | None = None,
        document_description: str | None = None,
        document_folder_id: int | None = None,
        **extra: Param,
    ) -> int:
        """Create a document (client 0 = global, unrestricted users only); returns its id."""
        return await self._create("documents", _p(locals(), extra))

    async def documents_update(self, *, document_id: int, client_id: int, **fields: Param) -> int:
        """Update a document (ITFlow keeps a version)."""
        return await self._change(
            "documents", "update", {"document_id": document_id, "client_id": client_id, **fields}
        )

    # ------------------------------------------------------------------ simple reads

    async def domains_read(
        self,
        *,
        domain_id: int | None = None,
        domain_name: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Domains by id, by name, or a list."""
        return await self._read("domains", _p(locals(), extra))

    async def expenses_read(
        self,
        *,
        expense_id: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Expenses (module_financial) by id, or a list."""
        return await self._read("expenses", _p(locals(), extra))

    async def networks_read(
        self,
        *,
        network_id: int | None = None,
        network_name: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Networks by id, by name, or a list."""
        return await self._read("networks", _p(locals(), extra))

    async def products_read(
        self,
        *,
        product_id: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Products by id, or a list (not client-scoped)."""
        return await self._read("products", _p(locals(), extra))

    async def quotes_read(
        self,
        *,
        quote_id: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Quotes by id (a LIKE match in ITFlow), or a list."""
        return await self._read("quotes", _p(locals(), extra))

    async def software_read(
        self,
        *,
        software_id: int | None = None,
        software_license: str | None = None,
        software_name: str | None = None,
        software_type: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Software. A key filter is sent as ``software_license`` (ITFlow's bug); ``software_name``
        makes ITFlow fail with HTTP 500."""
        return await self._read("software", _p(locals(), extra))

    async def vendors_read(
        self,
        *,
        vendor_id: int | None = None,
        client_id: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Vendors by id, or a list (global vendors have ``vendor_client_id`` 0; no phone filter). From
        v26.10 archived vendors are left out, even by id; ``client_id=0`` then lists global vendors."""
        return await self._read("vendors", _p(locals(), extra))

    # ------------------------------------------------------------------ invoices, items, payments (sales)

    async def invoices_read(
        self,
        *,
        invoice_id: int | None = None,
        client_id: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Invoices by id, or a list. ``client_id`` filters before v26.08 (all-clients key) and from
        v26.09; v26.08 ignores it (filter ``invoice_client_id`` locally there)."""
        return await self._read("invoices", _p(locals(), extra))

    async def invoice_items_read(
        self,
        *,
        invoice_id: int | None = None,
        item_id: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Items of one invoice, or one item (v26.04+). One of the two filters is required."""
        return await self._read("invoice_items", _p(locals(), extra))

    async def invoice_items_create(
        self,
        *,
        invoice_id: int,
        name: str,
        qty: float,
        price: float | None = None,
        description: str | None = None,
        tax_id: int | None = None,
        item_order: int | None = None,
        product_id: int | None = None,
        client_id: int | None = None,
        **extra: Param,
    ) -> int:
        """Add an item to an unpaid invoice (v26.08+); returns the item id."""
        return await self._create("invoice_items", _p(locals(), extra))

    async def payments_read(
        self,
        *,
        payment_id: int | None = None,
        payment_invoice_id: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Payments (2023-02 to v26.3 only; absent at HEAD). Needs an all-clients key and never a
        ``client_id``: v26.3 then answers "True" without data, read here as no rows."""
        return await self._read("payments", _p(locals(), extra))

    # ------------------------------------------------------------------ locations

    async def locations_read(
        self,
        *,
        location_id: int | None = None,
        client_id: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Locations by id, or a list (no phone filter: match ``location_phone`` locally). From v26.10
        archived locations are left out, even by id."""
        return await self._read("locations", _p(locals(), extra))

    async def locations_create(
        self,
        *,
        client_id: int,
        location_name: str,
        location_description: str | None = None,
        location_country: str | None = None,
        location_address: str | None = None,
        location_city: str | None = None,
        location_state: str | None = None,
        location_zip: str | None = None,
        location_hours: str | None = None,
        location_notes: str | None = None,
        location_primary: int | None = None,
        **extra: Param,
    ) -> int:
        """Create a location (the API cannot set its phone); returns its id."""
        return await self._create("locations", _p(locals(), extra))

    # ------------------------------------------------------------------ tickets, replies, time (support)

    async def tickets_read(
        self,
        *,
        ticket_id: int | None = None,
        client_id: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """One ticket with its status columns, or a list; ``client_id`` narrows it from v26.09 (v26.08
        ignores it)."""
        return await self._read("tickets", _p(locals(), extra))

    async def tickets_create(
        self,
        *,
        ticket_subject: str,
        client_id: int | None = None,
        ticket_contact_id: int | None = None,
        ticket_details: str | None = None,
        ticket_priority: str | None = None,
        ticket_asset_id: int | None = None,
        ticket_vendor_id: int | None = None,
        ticket_assigned_to: int | None = None,
        ticket_billable: int | None = None,
        ticket_vendor_ticket_id: int | None = None,
        **extra: Param,
    ) -> int:
        """Create a ticket; returns ``ticket_id``. ITFlow strips tags from the subject (it must stay
        non-empty) and stores ``ticket_details`` verbatim as HTML: escape it and use ``<br>``."""
        return await self._create("tickets", _p(locals(), extra))

    async def tickets_resolve(self, *, ticket_id: int, client_id: int = 0, **extra: Param) -> int:
        """Resolve a ticket of ``client_id`` (0 = a client-less ticket)."""
        return await self._change("tickets", "resolve", _p(locals(), extra))

    async def ticket_replies_read(
        self,
        *,
        ticket_reply_id: int | None = None,
        ticket_id: int | None = None,
        type: str | None = None,
        include_archived: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Replies (v26.08+): one, those of a ticket, or a list; ``type`` Internal|Public|Client."""
        return await self._read("ticket_replies", _p(locals(), extra))

    async def ticket_replies_create(
        self,
        *,
        ticket_id: int,
        ticket_reply: str,
        client_id: int | None = None,
        ticket_reply_type: str | None = None,
        ticket_reply_time_worked: str | None = None,
        ticket_status: int | None = None,
        **extra: Param,
    ) -> int:
        """Add a reply (v26.08+); returns its id. Restricted keys must send the ticket's ``client_id``.
        Send ``ticket_reply_type`` explicitly (the API defaults to Internal; 26.09's UI to Public)."""
        return await self._create("ticket_replies", _p(locals(), extra))

    async def technicians_time(
        self,
        *,
        year: int | None = None,
        month: int | None = None,
        technician_id: int | None = None,
        limit: int | None = None,
        offset: int | None = None,
        **extra: Param,
    ) -> V1Response:
        """Time worked per ticket and technician (v26.3+; a read that needs write level)."""
        return await self._read("technicians", _p(locals(), extra), function="time")

    # ------------------------------------------------------------------ v26.09: close, delete a client

    async def tickets_close(self, *, ticket_id: int, client_id: int = 0, **extra: Param) -> int:
        """Close a ticket of ``client_id`` (v26.09+): resolved first if it is not, then status 5
        (Closed). Closing a closed ticket changes nothing, which ITFlow reports as a failure."""
        return await self._change("tickets", "close", _p(locals(), extra))

    async def clients_delete(self, *, client_id: int, **extra: Param) -> int:
        """Delete a client (v26.09+, full level); ITFlow refuses one that is not archived first."""
        return await self._change("clients", "delete", _p(locals(), extra))

    # ------------------------------------------------------------------ v26.10: locations

    async def locations_update(self, *, location_id: int, client_id: int, **fields: Param) -> int:
        """Update a location of ``client_id`` (v26.10+); fields not sent keep their values. Like
        create, it cannot set a phone."""
        return await self._change(
            "locations", "update", {"location_id": location_id, "client_id": client_id, **fields}
        )

    async def locations_archive(self, *, location_id: int, client_id: int, **extra: Param) -> int:
        """Archive a location (v26.10+): it then disappears from locations/read."""
        return await self._change("locations", "archive", _p(locals(), extra))

    async def locations_unarchive(self, *, location_id: int, client_id: int, **extra: Param) -> int:
        """Unarchive a location (v26.10+)."""
        return await self._change("locations", "unarchive", _p(locals(), extra))

    async def locations_delete(self, *, location_id: int, client_id: int, **extra: Param) -> int:
        """Delete a location (v26.10+, full level); it must be archived first."""
        return await self._change("locations", "delete", _p(locals(), extra))

    # ------------------------------------------------------------------ v26.10: vendors

    async def vendors_create(
        self,
        *,
        vendor_name: str,
        client_id: int = 0,
        vendor_description: str | None = None,
        vendor_contact_name: str | None = None,
        vendor_phone_country_code: str | None = None,
        vendor_phone: str | None = None,
        vendor_extension: str | None = None,
        vendor_email: str | None = None,
        vendor_website: str | None = None,
        vendor_hours: str | None = None,
        vendor_sla: str | None = None,
        vendor_code: str | None = None,
        vendor_account_number: str | None = None,
        vendor_notes: str | None = None,
        **extra: Param,
    ) -> int:
        """Create a vendor (v26.10+; client 0 = global, unrestricted users only); phone fields are
        stored digits only, an unsent country code as ``''``. Returns ``vendor_id``."""
        return await self._create("vendors", _p(locals(), extra))

    async def vendors_update(self, *, vendor_id: int, client_id: int = 0, **fields: Param) -> int:
        """Update a vendor of ``client_id`` (v26.10+; phone fields digits only)."""
        return await self._change(
            "vendors", "update", {"vendor_id": vendor_id, "client_id": client_id, **fields}
        )

    async def vendors_archive(self, *, vendor_id: int, client_id: int = 0, **extra: Param) -> int:
        """Archive a vendor (v26.10+): it then disappears from vendors/read."""
        return await self._change("vendors", "archive", _p(locals(), extra))

    async def vendors_unarchive(self, *, vendor_id: int, client_id: int = 0, **extra: Param) -> int:
        """Unarchive a vendor (v26.10+)."""
        return await self._change("vendors", "unarchive", _p(locals(), extra))

    # ------------------------------------------------------------------ v26.10: domains, networks

    async def domains_create(
        self,
        *,
        domain_name: str,
        client_id: int = 0,
        domain_description: str | None = None,
        domain_expire: str | None = None,
        domain_notes: str | None = None,
        **extra: Param,
    ) -> int:
        """Create a domain record (v26.10+); returns ``domain_id``."""
        return await self._create("domains", _p(locals(), extra))

    async def domains_update(self, *, domain_id: int, client_id: int = 0, **fields: Param) -> int:
        """Update a domain of ``client_id`` (v26.10+)."""
        return await self._change(
            "domains", "update", {"domain_id": domain_id, "client_id": client_id, **fields}
        )

    async def domains_archive(self, *, domain_id: int, client_id: int = 0, **extra: Param) -> int:
        """Archive a domain (v26.10+; then hidden from domains/read)."""
        return await self._change("domains", "archive", _p(locals(), extra))

    async def domains_unarchive(self, *, domain_id: int, client_id: int = 0, **extra: Param) -> int:
        """Unarchive a domain (v26.10+)."""
        return await self._change("domains", "unarchive", _p(locals(), extra))

    async def networks_create(
        self,
        *,
        network_name: str,
        client_id: int = 0,
        network: str | None = None,
        network_vlan: int | None = None,
        network_gateway: str | None = None,
        network_dhcp_range: str | None = None,
        network_description: str | None = None,
        network_notes: str | None = None,
        network_location_id: int | None = None,
        **extra: Param,
    ) -> int:
        """Create a network record (v26.10+); returns ``network_id``."""
        return await self._create("networks", _p(locals(), extra))

    async def networks_update(self, *, network_id: int, client_id: int = 0, **fields: Param) -> int:
        """Update a network of ``client_id`` (v26.10+)."""
        return await self._change(
            "networks", "update", {"network_id": network_id, "client_id": client_id, **fields}
        )

    async def networks_archive(self, *, network_id: int, client_id: int = 0, **extra: Param) -> int:
        """Archive a network (v26.10+; then hidden from networks/read)."""
        return await self._change("networks", "archive", _p(locals(), extra))

    async def networks_unarchive(self, *, network_id: int, client_id: int = 0, **extra: Param) -> int:
        """Unarchive a network (v26.10+)."""
        return await self._change("networks", "unarchive", _p(locals(), extra))

    # ------------------------------------------------------------------ v26.10: documents, software

    async def documents_archive(self, *, document_id: int, client_id: int = 0, **extra: Param) -> int:
        """Archive a document (v26.10+; then hidden from documents/read)."""
        return await self._change("documents", "archive", _p(locals(), extra))

    async def documents_unarchive(self, *, document_id: int, client_id: int = 0, **extra: Param) -> int:
        """Unarchive a document (v26.10+)."""
        return await self._change("documents", "unarchive", _p(locals(), extra))

    async def software_archive(self, *, software_id: int, client_id: int = 0, **extra: Param) -> int:
        """Archive a software record (v26.10+; then hidden from software/read)."""
        return await self._change("software", "archive", _p(locals(), extra))

    async def software_unarchive(self, *, software_id: int, client_id: int = 0, **extra: Param) -> int:
        """Unarchive a software record (v26.10+)."""
        return await self._change("software", "unarchive", _p(locals(), extra))
