"""Table columns of the simulated ITFlow database, like ``db.sql`` at HEAD (docs/itflow-api.md §4).

Every value is a string or ``None`` (SQL NULL), as mysqli hands them to PHP. ``col=v`` gives a column
default ``v`` (``col=`` means the empty string); a bare name defaults to NULL.
"""

from __future__ import annotations

__all__ = ["TABLES", "columns", "defaults", "id_column"]


def _parse(spec: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for tok in spec.split():
        name, eq, default = tok.partition("=")
        out[name] = default if eq else None
    return out


_TS = "{p}_created_at {p}_updated_at {p}_archived_at"

TABLES: dict[str, dict[str, str | None]] = {
    "clients": _parse(
        "client_id client_lead=0 client_name client_type= client_website= client_referral= client_rate=0.00 "
        "client_currency_code=USD client_net_terms=30 client_tax_id_number= client_abbreviation= "
        "client_notes= client_favorite=0 client_created_at client_updated_at client_archived_at "
        "client_accessed_at"
    ),
    "contacts": _parse(
        "contact_id contact_name contact_title= contact_email= contact_phone_country_code contact_phone= "
        "contact_extension= contact_mobile_country_code contact_mobile= contact_photo= contact_pin= "
        "contact_notes= contact_department= contact_primary=0 contact_important=0 contact_billing=0 "
        "contact_technical=0 contact_created_at contact_updated_at contact_archived_at contact_accessed_at "
        "contact_location_id=0 contact_vendor_id=0 contact_user_id=0 contact_client_id=0"
    ),
    "locations": _parse(
        "location_id location_name location_description= location_country= location_address= "
        "location_city= location_state= location_zip= location_phone_country_code location_phone= "
        "location_phone_extension= location_fax_country_code location_fax= location_hours= location_photo= "
        "location_primary=0 location_notes= location_favorite=0 location_created_at location_updated_at "
        "location_archived_at location_accessed_at location_contact_id=0 location_client_id=0"
    ),
    "vendors": _parse(
        "vendor_id vendor_name vendor_description= vendor_contact_name= vendor_phone_country_code "
        "vendor_phone= vendor_extension= vendor_email= vendor_website= vendor_hours= vendor_sla= "
        "vendor_code= vendor_account_number= vendor_notes= vendor_favorite=0 vendor_created_at "
        "vendor_updated_at vendor_archived_at vendor_accessed_at vendor_client_id=0 vendor_template_id=0"
    ),
    "invoices": _parse(
        "invoice_id invoice_prefix=INV- invoice_number invoice_scope= invoice_status=Draft invoice_date "
        "invoice_due invoice_discount_amount=0.00 invoice_credit_amount=0.00 invoice_amount=0.00 "
        "invoice_currency_code=USD invoice_note= invoice_url_key= invoice_created_at invoice_updated_at "
        "invoice_archived_at invoice_category_id=0 invoice_recurring_invoice_id=0 invoice_client_id=0"
    ),
    "invoice_items": _parse(
        "item_id item_name item_description= item_quantity=0.00 item_price=0.00 item_subtotal=0.00 "
        "item_tax=0.00 item_total=0.00 item_order=0 item_created_at item_updated_at item_archived_at "
        "item_tax_id=0 item_product_id=0 item_quote_id=0 item_recurring_invoice_id=0 item_invoice_id=0"
    ),
    "payments": _parse(
        "payment_id payment_date payment_amount=0.00 payment_currency_code=USD payment_method= "
        "payment_reference= payment_created_at payment_updated_at payment_archived_at payment_account_id=0 "
        "payment_invoice_id=0"
    ),
    "tickets": _parse(
        "ticket_id ticket_prefix ticket_number ticket_source= ticket_category ticket_subject ticket_details "
        "ticket_priority ticket_status=1 ticket_billable=0 ticket_schedule ticket_onsite=0 "
        "ticket_vendor_ticket_number= ticket_feedback ticket_url_key= ticket_created_at ticket_updated_at "
        "ticket_resolved_at ticket_closed_at ticket_archived_at ticket_first_response_at "
        "ticket_sla_id=0 ticket_created_by=0 ticket_assigned_to=0 ticket_closed_by=0 ticket_vendor_id=0 "
        "ticket_client_id=0 ticket_contact_id=0 ticket_location_id=0 ticket_asset_id=0 ticket_invoice_id=0 "
        "ticket_project_id=0"
    ),
    "ticket_statuses": _parse(
        "ticket_status_id ticket_status_name ticket_status_color ticket_status_active=1 "
        "ticket_status_pauses_sla=0 ticket_status_order=0"
    ),
    "ticket_replies": _parse(
        "ticket_reply_id ticket_reply ticket_reply_type=Internal ticket_reply_time_worked "
        "ticket_reply_created_at ticket_reply_updated_at ticket_reply_archived_at ticket_reply_by=0 "
        "ticket_reply_ticket_id=0"
    ),
    "assets": _parse(
        "asset_id asset_type= asset_name asset_description= asset_make= asset_model= asset_serial= asset_os= "
        "asset_uri= asset_uri_2= asset_status= asset_purchase_date asset_warranty_expire asset_install_date "
        "asset_notes= asset_created_at asset_updated_at asset_archived_at asset_accessed_at "
        "asset_vendor_id=0 "
        "asset_location_id=0 asset_contact_id=0 asset_client_id=0"
    ),
    "asset_interfaces": _parse(
        "interface_id interface_name= interface_mac= interface_ip= interface_primary=0 "
        "interface_network_id=0 "
        "interface_asset_id=0"
    ),
    "certificates": _parse(
        "certificate_id certificate_name certificate_description= certificate_domain certificate_issued_by= "
        "certificate_expire certificate_public_key= certificate_notes= certificate_created_at "
        "certificate_updated_at certificate_archived_at certificate_domain_id=0 certificate_client_id=0"
    ),
    "domains": _parse(
        "domain_id domain_name domain_description= domain_expire domain_notes= domain_created_at "
        "domain_updated_at domain_archived_at domain_registrar=0 domain_webhost=0 domain_client_id=0"
    ),
    "networks": _parse(
        "network_id network_name network_description= network_vlan network network_gateway= "
        "network_dhcp_range= network_notes= network_created_at network_updated_at network_archived_at "
        "network_location_id=0 network_client_id=0"
    ),
    "software": _parse(
        "software_id software_name software_version= software_type= software_license_type= software_key= "
        "software_seats= software_purchase software_expire software_notes= software_created_at "
        "software_updated_at software_archived_at software_vendor_id=0 software_client_id=0"
    ),
    "documents": _parse(
        "document_id document_name document_description= document_content document_content_raw "
        "document_created_at document_updated_at document_archived_at document_folder_id=0 "
        "document_created_by=0 document_updated_by=0 document_client_id=0"
    ),
    "credentials": _parse(
        "credential_id credential_name credential_description= credential_uri= credential_username "
        "credential_password credential_otp_secret= credential_note= credential_important=0 "
        "credential_created_at credential_updated_at credential_archived_at credential_contact_id=0 "
        "credential_vendor_id=0 credential_asset_id=0 credential_client_id=0"
    ),
    "quotes": _parse(
        "quote_id quote_prefix=QUO- quote_number quote_scope= quote_status=Draft quote_date quote_expire "
        "quote_discount_amount=0.00 quote_amount=0.00 quote_currency_code=USD quote_note= quote_url_key= "
        "quote_created_at quote_updated_at quote_archived_at quote_category_id=0 quote_client_id=0"
    ),
    "products": _parse(
        "product_id product_name product_type=service product_description= product_code= "
        "product_location= product_price=0.00 product_currency_code=USD product_created_at "
        "product_updated_at product_archived_at product_tax_id=0 product_category_id=0"
    ),
    "expenses": _parse(
        "expense_id expense_description= expense_amount=0.00 expense_currency_code=USD expense_date "
        "expense_reference= expense_payment_method= expense_created_at expense_updated_at "
        "expense_archived_at expense_vendor_id=0 expense_client_id=0 expense_category_id=0 "
        "expense_account_id=0"
    ),
    "logs": _parse(
        "log_id log_type log_action log_description log_ip= log_user_agent= log_user_id=0 log_client_id=0 "
        "log_entity_id=0 log_created_at"
    ),
    "alerts": _parse("alert_id alert_type alert_message alert_date alert_ack_date company_id=1"),
    "users": _parse("user_id user_name user_email user_type=1 user_status=1 user_role_id=0 user_archived_at"),
    "user_roles": _parse("role_id role_name role_is_admin=0"),
    "user_role_permissions": _parse("user_role_id module_name user_role_permission_level=0"),
    "user_client_permissions": _parse("user_id client_id permission_type=allow"),
    "api_keys": _parse(
        "api_key_id api_key_name api_key_secret api_key_decrypt_hash= api_key_created_at api_key_expire "
        "api_key_user_id=0 api_key_client_id=0 company_id=1"
    ),
    "settings": _parse("company_id=1 config_ticket_prefix=TCK- config_ticket_next_number=1"),
}

_ID: dict[str, str] = {
    "ticket_statuses": "ticket_status_id",
    "software": "software_id",
    "asset_interfaces": "interface_id",
    "invoice_items": "item_id",
    "user_roles": "role_id",
    "settings": "company_id",
    "ticket_replies": "ticket_reply_id",
}


def columns(table: str) -> list[str]:
    return list(TABLES[table])


def defaults(table: str) -> dict[str, str | None]:
    return dict(TABLES[table])


def id_column(table: str) -> str | None:
    if table in _ID:
        return _ID[table]
    if table in ("user_role_permissions", "user_client_permissions"):
        return None
    return next(iter(TABLES[table]))
